"""The baseline contract: the one file a plugin author reads.

A baseline owns its model and its training step; the harness owns the data split, the seed, the
device, the budget and the validation loop. A plugin subclasses :class:`Baseline` and, when it
can, the :class:`Autoencoder` and/or :class:`LatentGenerator` mixins, declaring what it can do in
``meta.capabilities``. ``drumbench validate module:Class`` checks the declaration against the
methods and runs a short conformance kit.
"""
from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from bench.api.fit import FitContext
    from bench.data.datamodule import DataModule

#: What a baseline may declare. ``sample``: unconditional or conditional generation;
#: ``conditional``: honours ``Condition.labels``; ``encode``: :class:`Autoencoder`;
#: ``latent``: :class:`LatentGenerator`.
CAPABILITIES = frozenset({"sample", "conditional", "encode", "latent"})


@dataclass(frozen=True)
class BaselineMeta:
    """Identity of a baseline. Bump ``version`` whenever its behaviour changes."""

    name: str
    version: str
    capabilities: frozenset[str]
    citation: str = ""
    description: str = ""
    #: a reference row (``real``, ``noise``): a ceiling or floor drawn from data, not a model
    reference: bool = False
    #: an opt-in variant of the family named here: the suite runs it only when asked for
    variant_of: str | None = None
    #: what a variant adds that the family's papers do not have (shown on the leaderboard)
    devices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.capabilities) - CAPABILITIES
        if unknown:
            raise ValueError(
                f"baseline {self.name!r} declares unknown capabilities {sorted(unknown)}; "
                f"known: {sorted(CAPABILITIES)}"
            )
        if "sample" not in self.capabilities:
            raise ValueError(f"baseline {self.name!r} must declare 'sample': every baseline generates")
        if self.variant_of is not None and not self.devices:
            raise ValueError(f"baseline {self.name!r} is a variant of {self.variant_of!r}: name what it "
                             "adds to the family in `devices`, so the leaderboard can say it")


@dataclass(frozen=True)
class Condition:
    """What a generation call is conditioned on.

    ``labels`` are class ids into the dataset's label vocabulary (``DataModule.classes``);
    ``extra`` holds optional per-clip descriptors (e.g. synthkit factors, timbral features).
    """

    labels: Tensor | None = None
    extra: Mapping[str, Tensor] = field(default_factory=dict)

    def to(self, device: torch.device | str) -> "Condition":
        return Condition(
            labels=None if self.labels is None else self.labels.to(device),
            extra={k: v.to(device) for k, v in self.extra.items()},
        )


@dataclass
class FitSummary:
    """What ``fit`` reports back; the runner stores it in ``run.json``."""

    steps: int
    wall_s: float
    stopped_because: str = "done"  # done | max_steps | max_wall_s
    best_step: int | None = None
    best_value: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Baseline(abc.ABC):
    """A generator of one-shot drum sounds.

    Subclasses set a class attribute ``meta`` and take their hyperparameters as constructor
    keyword arguments (Hydra instantiates them from ``baseline/<name>.yaml``). The harness passes
    ``num_classes``, ``sample_rate`` and ``clip_samples`` to the constructor, so a model can size
    itself to the protocol.
    """

    meta: BaselineMeta

    def __init__(self, *, num_classes: int, sample_rate: int, clip_samples: int) -> None:
        self.num_classes = int(num_classes)
        self.sample_rate = int(sample_rate)
        self.clip_samples = int(clip_samples)
        self.device = torch.device("cpu")

    # --- training -------------------------------------------------------------------------
    @abc.abstractmethod
    def fit(self, data: "DataModule", ctx: "FitContext") -> FitSummary:
        """Train on ``data.train`` until ``ctx.should_stop(step)``; call ``ctx.log`` each step
        and ``ctx.validate(step)`` when ``ctx.should_validate(step)``."""

    # --- generation -----------------------------------------------------------------------
    @abc.abstractmethod
    def sample(self, n: int, *, condition: Condition | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """Return ``(n, 1, clip_samples)`` float32 audio in [-1, 1] on any device."""

    # --- checkpointing --------------------------------------------------------------------
    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimiser states, step counters."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""

    def to(self, device: torch.device | str) -> "Baseline":
        """Move the model; override when the baseline holds modules (default: remember only)."""
        self.device = torch.device(device)
        for value in vars(self).values():
            if isinstance(value, torch.nn.Module):
                value.to(self.device)
        return self

    def modules(self) -> list[torch.nn.Module]:
        """The ``nn.Module`` attributes, used for parameter counts and eval/train switching."""
        return [v for v in vars(self).values() if isinstance(v, torch.nn.Module)]

    def eval(self) -> "Baseline":
        for m in self.modules():
            m.eval()
        return self

    def train(self) -> "Baseline":
        for m in self.modules():
            m.train()
        return self


class Autoencoder(abc.ABC):
    """Mixin for baselines that map audio to a latent code and back (capability ``encode``)."""

    @abc.abstractmethod
    def encode(self, audio: Tensor, *, condition: Condition | None = None) -> Tensor:
        """``(n, 1, clip_samples)`` → ``(n, latent_dim)`` (the posterior mean where stochastic)."""

    @abc.abstractmethod
    def decode(self, z: Tensor, *, condition: Condition | None = None) -> Tensor:
        """``(n, latent_dim)`` → ``(n, 1, clip_samples)`` in [-1, 1]."""


class LatentGenerator(abc.ABC):
    """Mixin for baselines that generate by decoding a prior sample (capability ``latent``)."""

    @abc.abstractmethod
    def sample_latent(self, n: int, *, condition: Condition | None = None,
                      generator: torch.Generator | None = None) -> Tensor:
        """Draw ``(n, latent_dim)`` codes from the prior (the class's component if conditional)."""

    @abc.abstractmethod
    def decode(self, z: Tensor, *, condition: Condition | None = None) -> Tensor:
        """``(n, latent_dim)`` → ``(n, 1, clip_samples)`` in [-1, 1]."""


def declared_vs_implemented(baseline: Baseline) -> list[str]:
    """Mismatches between ``meta.capabilities`` and the mixins a baseline implements."""
    caps = baseline.meta.capabilities
    problems = []
    for cap, mixin in (("encode", Autoencoder), ("latent", LatentGenerator)):
        if (cap in caps) != isinstance(baseline, mixin):
            has = "implements" if isinstance(baseline, mixin) else "does not implement"
            says = "declares" if cap in caps else "does not declare"
            problems.append(f"{baseline.meta.name} {says} {cap!r} but {has} {mixin.__name__}")
    return problems
