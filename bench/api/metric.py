"""The metric contract.

A metric reads a :class:`ScoreContext` (generated clips, real splits, the loaded baseline, a
cached embedding function) and returns a :class:`MetricValue`. It declares its direction, its
version, and the baseline capabilities it needs; the scorer records ``skipped`` with the reason
when a need is unmet, and ``failed`` with the error when ``compute`` raises, and always goes on
with the other metrics. One metric instance writes one ``metrics/<name>.json``.
"""
from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch


class MetricSkipped(Exception):
    """Raised by ``compute`` when the metric does not apply (the message is the reason)."""


@dataclass
class MetricValue:
    value: float
    ci95: tuple[float, float] | None = None
    n: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    reference_hash: str | None = None


@dataclass
class ScoreContext:
    generated: np.ndarray              # (N, T) float32 generated clips at sample_rate
    generated_labels: np.ndarray       # (N,) int class ids requested; -1 where unconditional
    real_test: np.ndarray              # (M, T) float32, the protocol's test split
    real_test_labels: np.ndarray
    real_train: np.ndarray
    real_train_labels: np.ndarray
    classes: list[str]
    sample_rate: int
    protocol: Any                      # the resolved ProtocolConfig
    embed: Callable[[str, np.ndarray], np.ndarray]   # (embedder name, clips) -> (N, D) float64
    capabilities: frozenset[str] = frozenset()
    baseline: Any = None               # the loaded Baseline (eval mode) or None
    device: torch.device = torch.device("cpu")
    seed: int = 0
    artefacts_dir: Path | None = None  # protocol-level artefacts (reference classifier, ...)
    run_info: dict[str, Any] = field(default_factory=dict)   # fit summary, checkpoint path
    dataset_hash: str = ""
    # work that several metrics of this context share; init=False, so dataclasses.replace starts
    # a fresh one for a context with other clips
    _shared: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def once(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for in this context, the stored result
        after that (one k-NN for the four PRDC metrics, one FAD∞ fit for two rows)."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]


class Metric(abc.ABC):
    name: str                          # file name under metrics/, e.g. "fad_mel"
    version: str
    higher_is_better: bool
    needs: frozenset[str] = frozenset()   # baseline capabilities required
    embedder: str | None = None
    takes_embedder: bool = False          # spec "name:<embedder>"; the constructor's first argument
    title: str = ""                       # a short human name for the leaderboard legend
    definition: str = ""                  # one sentence; the README table and legend use it

    @abc.abstractmethod
    def compute(self, ctx: ScoreContext) -> MetricValue:
        ...


@dataclass(frozen=True)
class MetricFamily:
    """What one name in a protocol's metric list builds when that is more than one ``Metric``:
    several rows from one computation (``prdc`` → precision, recall, density, coverage), or one
    row per variant argument (``ppl`` → lerp and slerp, ``ppl:slerp`` → slerp only)."""

    members: tuple[type[Metric], ...]
    takes_embedder: bool = False
    variants: tuple[str, ...] = ()     # the arguments a non-embedder family accepts
    variant_kwarg: str = ""            # the constructor keyword a variant argument goes to

    @classmethod
    def of(cls, registered: Any) -> "MetricFamily":
        """The family of a registry entry: a family as it is, a Metric subclass as a family of one."""
        if isinstance(registered, MetricFamily):
            return registered
        if isinstance(registered, type) and issubclass(registered, Metric):
            return cls((registered,), takes_embedder=registered.takes_embedder)
        raise TypeError(f"a registered metric must be a Metric subclass or a MetricFamily, got {registered!r}")

    def check(self, name: str, arg: str | None) -> None:
        """Raise ``ValueError`` with the fix when ``name:arg`` does not fit this family."""
        if self.takes_embedder and arg is None:
            raise ValueError(f"metric {name!r} needs an embedder: write '{name}:<embedder>', e.g. '{name}:mel'")
        if not self.takes_embedder and arg is not None and arg not in self.variants:
            takes = f"one of {', '.join(self.variants)}" if self.variants else "no argument"
            raise ValueError(f"metric {name!r} takes {takes} (got '{name}:{arg}')")

    def build(self, name: str, arg: str | None, options: dict[str, Any]) -> list[Metric]:
        self.check(name, arg)
        if self.takes_embedder:
            return [m(arg, **options) for m in self.members]
        if self.variants:
            return [m(**{self.variant_kwarg: v}, **options) for v in ([arg] if arg else self.variants)
                    for m in self.members]
        return [m(**options) for m in self.members]
