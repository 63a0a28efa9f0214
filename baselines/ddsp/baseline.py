"""`ddsp`: a differentiable modal + filtered-noise + transient synthesiser driven by an
autoencoder, trained with the multi-resolution STFT loss (see README.md).

Loss per step: MR-STFT reconstruction (the shared :class:`ReconstructionLoss`) + ``kl_weight`` ×
the posterior's KL from N(0, I) (ramped up over ``kl_warmup_steps``), which keeps codes near the
origin and the decoder smooth around them. Sampling uses a per-class Gaussian mixture fitted to the
training clips' posterior means after training (:mod:`baselines.ddsp.density`), refitted before
every validation so each kept checkpoint carries its own.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from baselines._common.baseline import adam
from baselines._common.plumbing import (anneal_lr, checked_final_fraction, clip_gradients,
                                        condition_labels, move_optimizer_state)
from baselines._common.losses import ReconstructionLoss
from baselines.ddsp.density import ClassDensity
from baselines.ddsp.model import DDSPAutoencoder
from bench.api.baseline import (Autoencoder, Baseline, BaselineMeta, Condition, FitSummary,
                                LatentGenerator)

if TYPE_CHECKING:  # pragma: no cover
    from bench.api.fit import FitContext
    from bench.data.datamodule import DataModule

STATE_FORMAT = 1
ENCODE_BATCH = 256


class DDSP(Baseline, Autoencoder, LatentGenerator):
    meta = BaselineMeta(
        name="ddsp", version="1", capabilities=frozenset({"sample", "conditional", "encode", "latent"}),
        citation=("Shier, Caspe, Carlsson, Saitis & McPherson, Differentiable modelling of "
                  "percussive audio with transient and spectral synthesis, Forum Acusticum 2023; "
                  "Engel, Hantrakul, Gu & Roberts, DDSP: Differentiable Digital Signal Processing, "
                  "ICLR 2020; Liu, Jin & Gunawan, DDSP-SFX, arXiv 2309.08060 (2023)"),
        description=("Differentiable DSP for drums: log-mel encoder → latent code; code + class → "
                     "decaying gliding modal partials, mel-band filtered noise with time-varying "
                     "gains and a learnt transient, summed; MR-STFT loss with a light KL. Prior: "
                     "a per-class Gaussian mixture fitted on the training clips' latent means "
                     "after training."),
    )

    def __init__(self, *, num_classes: int, sample_rate: int, clip_samples: int,
                 latent_dim: int = 16, lr: float = 1e-3, adam_betas: Sequence[float] = (0.9, 0.99),
                 grad_clip: float = 1.0, fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
                 stft_hop_ratio: float = 0.5, wave_weight: float = 0.0, label_dropout: float = 0.1,
                 kl_weight: float = 0.01, kl_warmup_steps: int = 200, batch_size: int | None = None,
                 lr_final_fraction: float = 1.0,
                 density_components: int = 4, density_min_clips: int = 10, **net: Any) -> None:
        super().__init__(num_classes=num_classes, sample_rate=sample_rate, clip_samples=clip_samples)
        if not 0.0 <= label_dropout < 1.0:
            raise ValueError(f"label_dropout must lie in [0, 1), got {label_dropout}")
        if lr <= 0 or kl_weight < 0 or kl_warmup_steps < 0:
            raise ValueError(f"need lr > 0, kl_weight ≥ 0 and kl_warmup_steps ≥ 0; got lr={lr}, "
                             f"kl_weight={kl_weight}, kl_warmup_steps={kl_warmup_steps}")
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer or null, got {batch_size!r}")
        self.batch_size = None if batch_size is None else int(batch_size)
        self.lr, self.lr_final_fraction = float(lr), checked_final_fraction(lr_final_fraction)
        self.latent_dim = int(latent_dim)
        self.label_dropout, self.grad_clip = float(label_dropout), float(grad_clip)
        self.kl_weight, self.kl_warmup_steps = float(kl_weight), int(kl_warmup_steps)
        self.net = DDSPAutoencoder(num_classes=self.num_classes, sample_rate=self.sample_rate,
                                   clip_samples=self.clip_samples, latent_dim=self.latent_dim, **net)
        self.density = ClassDensity(self.num_classes, self.latent_dim, density_components,
                                    density_min_clips)
        self.recon_loss = ReconstructionLoss(tuple(fft_sizes), wave_weight, stft_hop_ratio)
        self.opt = adam(self.net.parameters(), lr=lr, betas=tuple(adam_betas))
        self.steps_done = 0

    # --- training ---------------------------------------------------------------------------
    def kl_weight_at(self, step: int) -> float:
        if self.kl_warmup_steps == 0:
            return self.kl_weight
        return self.kl_weight * min(1.0, step / self.kl_warmup_steps)

    def training_step(self, audio: Tensor, labels: Tensor, step: int, ctx: "FitContext") -> None:
        if self.label_dropout > 0:
            keep = torch.rand(labels.shape, device=labels.device) >= self.label_dropout
            labels = torch.where(keep, labels, torch.full_like(labels, -1))
        mean, log_var = self.net.encode(audio).chunk(2, dim=1)
        log_var = log_var.clamp(-12.0, 6.0)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        total, spectral, wave = self.recon_loss(self.net.decode(z, labels), audio)
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).mean(dim=0).sum()
        weight = self.kl_weight_at(step)
        loss = total + weight * kl
        ctx.log(step, loss=loss.item(), recon=spectral.item(), wave_l1=wave.item(), kl=kl.item(),
                kl_weight=weight)  # before the update: a non-finite loss never reaches the weights
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            clip_gradients(self.net.parameters(), self.grad_clip, step, "ddsp")
        anneal_lr(self.opt, self.lr, step, ctx.budget.max_steps, self.lr_final_fraction)
        self.opt.step()

    @torch.no_grad()
    def fit_density(self, audio: Tensor, labels: Tensor, seed: int = 0) -> dict[str, int]:
        """Refit the sampling prior to the posterior means of ``audio`` (the training clips)."""
        was_training = self.net.training
        self.net.eval()
        codes = torch.cat([self.net.encode(audio[i:i + ENCODE_BATCH].to(self.device))[:, :self.latent_dim]
                           for i in range(0, len(audio), ENCODE_BATCH)])
        self.net.train(was_training)
        return self.density.fit(codes, labels, seed=seed)

    def fit(self, data: "DataModule", ctx: "FitContext") -> FitSummary:
        if (data.sample_rate, data.clip_samples) != (self.sample_rate, self.clip_samples):
            raise ValueError(f"ddsp was built for {self.sample_rate} Hz × {self.clip_samples} samples "
                             f"but the data is {data.sample_rate} Hz × {data.clip_samples}")
        if data.num_classes != self.num_classes:
            raise ValueError(f"ddsp was built for {self.num_classes} classes, the data has "
                             f"{data.num_classes}")
        self.train()
        batch_size = self.batch_size or ctx.budget.batch_size
        # a resumed run skips the batches it has trained on
        batches = data.train_batches(batch_size, ctx.generator, ctx.device, skip=ctx.start_step)
        step, validated, components = ctx.start_step, None, {}

        def validate(at: int) -> dict[str, int]:
            fitted = self.fit_density(data.train.audio, data.train.labels, seed=ctx.seed)
            ctx.validate(at)
            return fitted

        while not ctx.should_stop(step):
            batch = next(batches)
            self.training_step(batch.audio, batch.labels, step, ctx)
            if ctx.should_validate(step):
                components, validated = validate(step), step
            step += 1
            self.steps_done = step
        if step > ctx.start_step and validated != step - 1:
            components = validate(step - 1)
        return FitSummary(steps=step, wall_s=ctx.elapsed(), stopped_because=ctx.stopped_because,
                          best_step=ctx.best_step, best_value=ctx.best_value,
                          extra={"seconds_per_step": ctx.elapsed() / max(1, step - ctx.start_step),
                                 "batch_size": batch_size, "density_components": components})

    # --- autoencoding and generation --------------------------------------------------------
    def _labels(self, n: int, condition: Condition | None,
                generator: torch.Generator | None) -> Tensor:
        return condition_labels(condition, n, self.num_classes, self.device, generator)


    def encode(self, audio: Tensor, *, condition: Condition | None = None) -> Tensor:
        return self.net.encode(audio.to(self.device, torch.float32))[:, : self.latent_dim]

    def decode(self, z: Tensor, *, condition: Condition | None = None) -> Tensor:
        labels = None if condition is None else condition.labels
        return self.net.decode(z.to(self.device, torch.float32), labels).clamp(-1.0, 1.0)

    def sample_latent(self, n: int, *, condition: Condition | None = None,
                      generator: torch.Generator | None = None) -> Tensor:
        return self.density.sample(n, self._labels(n, condition, generator), generator)

    def sample(self, n: int, *, condition: Condition | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        cond = Condition(labels=self._labels(n, condition, generator))
        with torch.no_grad():
            return self.decode(self.sample_latent(n, condition=cond, generator=generator), condition=cond)

    # --- checkpoints and devices ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "baseline": self.meta.name, "steps_done": self.steps_done,
                "net": self.net.state_dict(), "density": self.density.state_dict(),
                "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("baseline") != self.meta.name or state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a ddsp checkpoint (format {STATE_FORMAT}): got "
                             f"baseline={state.get('baseline')!r}, format={state.get('format')!r}")
        self.net.load_state_dict(state["net"])
        self.density.load_state_dict(state["density"])
        self.opt.load_state_dict(state["opt"])
        self.steps_done = int(state["steps_done"])
        self.to(self.device)

    def to(self, device: torch.device | str) -> "DDSP":
        super().to(device)
        move_optimizer_state(self.opt, self.device)
        return self
