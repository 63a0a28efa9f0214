"""What the VAE and AAE plugins share: the network, generation, checkpoints and the fit loop.

A subclass chooses the code's parameterisation (``code_params``), its prior, and writes one
``training_step``; everything that must behave identically for a fair comparison lives here.
"""
from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from baselines._common.autoencoder import WaveAutoencoder
from baselines._common.losses import ReconstructionLoss
from baselines._common.plumbing import clip_gradients, condition_labels, move_optimizer_state
from baselines._common.priors import GaussianPrior
from bench.api.baseline import (Autoencoder, Baseline, BaselineMeta, Condition, FitSummary,
                                LatentGenerator)
from bench.api.batch import Batch

if TYPE_CHECKING:  # pragma: no cover
    from bench.api.fit import FitContext
    from bench.data.datamodule import DataModule

STATE_FORMAT = 1
CALIBRATION_CODES = 2048  # prior codes per class for the template selector's calibration


def templates_variant(meta: BaselineMeta, *, version: str) -> BaselineMeta:
    """The identity of ``<name>_templates``: the same family with the k-means template bank, an
    opt-in variant row (the papers decode without one)."""
    return replace(
        meta, name=f"{meta.name}_templates", version=version, variant_of=meta.name,
        devices=("per-class k-means spectral templates of the training split (up to 64 per class), "
                 "picked by the code and calibrated to the prior",),
        description=meta.description + " Opt-in variant, not the family as published: the decoder "
        "adds the log-magnitudes of one of a class's k-means spectral templates, picked by the code.")


def adam(params, **options: Any) -> torch.optim.Adam:
    """Adam with the fused kernel: one pass over all parameters instead of a loop per tensor
    (measured in baselines/vae/README.md)."""
    return torch.optim.Adam(params, fused=True, **options)


class AutoencoderBaseline(Baseline, Autoencoder, LatentGenerator):
    """A class-conditioned waveform autoencoder that generates by decoding prior samples.

    Subclasses set ``code_params`` (numbers per latent dimension the encoder emits), build
    ``self.prior`` and implement :meth:`training_step`.
    """

    code_params = 1
    prior: GaussianPrior
    #: whether this row decodes from per-class k-means spectral templates (an opt-in variant)
    uses_templates = False

    def __init__(self, *, num_classes: int, sample_rate: int, clip_samples: int,
                 latent_dim: int = 64, lr: float = 1e-3, adam_betas: Sequence[float] = (0.9, 0.99),
                 lr_half_life_steps: int = 0, grad_clip: float = 1.0, wave_weight: float = 0.0,
                 fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
                 stft_hop_ratio: float = 0.25, label_dropout: float = 0.1,
                 batch_size: int | None = None, template_weight: float = 1.0, **net: Any) -> None:
        super().__init__(num_classes=num_classes, sample_rate=sample_rate, clip_samples=clip_samples)
        if not 0.0 <= label_dropout < 1.0:
            raise ValueError(f"label_dropout must lie in [0, 1), got {label_dropout}")
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if template_weight < 0:
            raise ValueError(f"template_weight must be ≥ 0, got {template_weight}")
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer or null, got {batch_size!r}")
        # None: the protocol's batch size. A baseline may choose its own, as papers do: the
        # protocol's budget is wall time and steps, and under a CPU wall budget a smaller batch
        # buys more updates (see baselines/vae/README.md)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.latent_dim = int(latent_dim)
        self.label_dropout = float(label_dropout)
        self.grad_clip = float(grad_clip)
        self.template_weight = float(template_weight)
        self.lr_half_life_steps = int(lr_half_life_steps)
        templates = int(net.get("templates", 0) or 0)
        if (templates > 0) != self.uses_templates:
            # the k-means bank is drumbench's own device: a row that has it carries its own name
            raise ValueError(
                f"{self.meta.name}: templates={templates}, but "
                + ("this variant decodes from spectral templates: set templates > 0"
                   if self.uses_templates else
                   f"the default row is the family as published, without spectral templates: "
                   f"use baseline={self.meta.name}_templates for the template decoder"))
        self.net = WaveAutoencoder(num_classes=self.num_classes, sample_rate=self.sample_rate,
                                   clip_samples=self.clip_samples, latent_dim=self.latent_dim,
                                   code_params=self.code_params, **net)
        self.recon_loss = ReconstructionLoss(tuple(fft_sizes), wave_weight, stft_hop_ratio)
        self.opt = adam(self.net.parameters(), lr=lr, betas=tuple(adam_betas))
        self.steps_done = 0

    # --- the one thing a subclass writes ----------------------------------------------------
    @abc.abstractmethod
    def training_step(self, batch: Batch, step: int, ctx: "FitContext") -> None:
        """One update. Must call ``ctx.log(step, ...)`` *before* stepping any optimiser, so a
        non-finite loss stops the run before it can reach the weights."""

    # --- helpers for training steps ---------------------------------------------------------
    def drop_labels(self, labels: Tensor) -> Tensor:
        """Replace a ``label_dropout`` fraction of labels by -1 ("no class")."""
        if self.label_dropout == 0.0:
            return labels
        keep = torch.rand(labels.shape, device=labels.device) >= self.label_dropout
        return torch.where(keep, labels, torch.full_like(labels, -1))

    def reconstruction(self, z: Tensor, labels: Tensor, audio: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Decode ``z`` and score it against ``audio``: the reconstruction loss plus the spectral
        templates' assignment term, and the values to log."""
        total, spectral, wave = self.recon_loss(self.net.decode(z, labels), audio)
        assign = self.net.template_loss(z, labels, audio)
        return (total + self.template_weight * assign,
                {"recon": spectral.item(), "wave_l1": wave.item(), "template_ce": assign.item()})

    def update(self, optimizer: torch.optim.Optimizer, loss: Tensor, step: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.grad_clip > 0:
            clip_gradients(params, self.grad_clip, step, self.meta.name)
        if self.lr_half_life_steps > 0:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * 0.5 ** (step / self.lr_half_life_steps)
        optimizer.step()

    # --- training ---------------------------------------------------------------------------
    def fit(self, data: "DataModule", ctx: "FitContext") -> FitSummary:
        if (data.sample_rate, data.clip_samples) != (self.sample_rate, self.clip_samples):
            raise ValueError(f"{self.meta.name} was built for {self.sample_rate} Hz × {self.clip_samples} "
                             f"samples but the data is {data.sample_rate} Hz × {data.clip_samples}")
        if data.num_classes != self.num_classes:
            raise ValueError(f"{self.meta.name} was built for {self.num_classes} classes, "
                             f"the data has {data.num_classes}")
        self.train()
        if self.net.templates is not None and ctx.start_step == 0:  # a resumed run has them
            self.net.init_templates(data.train.audio, data.train.labels, seed=ctx.seed)
        batch_size = self.batch_size or ctx.budget.batch_size
        batches = ctx.batches(data, batch_size)  # a resumed run continues the same order
        step, validated, misfit = ctx.start_step, None, {}

        def validate(at: int) -> dict[int, float]:
            fitted = self.calibrate_templates(ctx.seed)  # every kept checkpoint has its own
            ctx.validate(at)
            return fitted

        while not ctx.should_stop(step):
            self.training_step(next(batches), step, ctx)
            if ctx.should_validate(step):
                misfit, validated = validate(step), step
            step += 1
            self.steps_done = step
        if step > ctx.start_step and validated != step - 1:
            misfit = validate(step - 1)
        extra = {"seconds_per_step": ctx.elapsed() / max(1, step - ctx.start_step),
                 "batch_size": batch_size}
        if misfit:
            extra["template_calibration_tv"] = max(misfit.values())
        return FitSummary(steps=step, wall_s=ctx.elapsed(), stopped_because=ctx.stopped_because,
                          best_step=ctx.best_step, best_value=ctx.best_value, extra=extra)

    def calibrate_templates(self, seed: int = 0) -> dict[int, float]:
        """Calibrate the template selector to this baseline's prior (no-op without templates):
        ``CALIBRATION_CODES`` prior codes per class, drawn with ``seed``. Returns the remaining
        total-variation distance per class row (see :meth:`SpectralTemplates.calibrate`)."""
        if self.net.templates is None:
            return {}
        labels = torch.arange(self.num_classes, device=self.device).repeat_interleave(CALIBRATION_CODES)
        z = self.prior.sample(labels, torch.Generator().manual_seed(seed))
        return self.net.calibrate_templates(z, labels)

    # --- autoencoding and generation --------------------------------------------------------
    def _labels(self, n: int, condition: Condition | None,
                generator: torch.Generator | None) -> Tensor:
        return condition_labels(condition, n, self.num_classes, self.device, generator)


    def encode(self, audio: Tensor, *, condition: Condition | None = None) -> Tensor:
        labels = None if condition is None else condition.labels
        code = self.net.encode(audio.to(self.device, torch.float32), labels)
        return code[:, : self.latent_dim]  # the posterior mean for a Gaussian code

    def decode(self, z: Tensor, *, condition: Condition | None = None) -> Tensor:
        labels = None if condition is None else condition.labels
        return self.net.decode(z.to(self.device, torch.float32), labels).clamp(-1.0, 1.0)

    def sample_latent(self, n: int, *, condition: Condition | None = None,
                      generator: torch.Generator | None = None) -> Tensor:
        return self.prior.sample(self._labels(n, condition, generator), generator)

    def sample(self, n: int, *, condition: Condition | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        cond = Condition(labels=self._labels(n, condition, generator))
        with torch.no_grad():
            z = self.sample_latent(n, condition=cond, generator=generator)
            return self.decode(z, condition=cond)

    # --- checkpoints and devices ------------------------------------------------------------
    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {k: v for k, v in vars(self).items() if isinstance(v, torch.optim.Optimizer)}

    def _module_dict(self) -> dict[str, torch.nn.Module]:
        return {k: v for k, v in vars(self).items() if isinstance(v, torch.nn.Module)}

    def state_dict(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "baseline": self.meta.name, "steps_done": self.steps_done,
                "modules": {k: m.state_dict() for k, m in self._module_dict().items()},
                "optimizers": {k: o.state_dict() for k, o in self._optimizers().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("baseline") != self.meta.name or state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a {self.meta.name} checkpoint (format {STATE_FORMAT}): got "
                             f"baseline={state.get('baseline')!r}, format={state.get('format')!r}")
        modules, optimizers = self._module_dict(), self._optimizers()
        for kind, have, saved in (("modules", modules, state["modules"]),
                                  ("optimizers", optimizers, state["optimizers"])):
            if set(have) != set(saved):
                raise ValueError(f"{self.meta.name} checkpoint holds {kind} {sorted(saved)}, "
                                 f"this configuration has {sorted(have)}")
        for name, module in modules.items():
            module.load_state_dict(state["modules"][name])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.steps_done = int(state["steps_done"])
        self.to(self.device)

    def to(self, device: torch.device | str) -> "AutoencoderBaseline":
        super().to(device)
        for opt in self._optimizers().values():
            move_optimizer_state(opt, self.device)
        return self
