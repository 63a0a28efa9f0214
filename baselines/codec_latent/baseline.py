"""`codec_latent`: generation in a neural codec's latent space — a codec with residual vector
quantisation, then a class-conditioned autoregressive transformer over its codes.

The two stages of the DCASE 2023 task 7 baseline (VQ-VAE + PixelSNAIL prior) and of the
codec-token drum generators (DAC tokens in DOSE / DrumSlayer), run one after the other inside the
protocol's single training budget: the codec gets ``codec_fraction`` of the wall time and of the
steps, the prior the rest (one step counter across both, so the protocol's ``max_steps`` bounds
their sum). Encoding the training split into codes, between the stages, is paid from the prior's
share.

The latent of the Autoencoder/LatentGenerator contract is one clip's *quantised* embeddings
``(code_dim, frames)``, flattened: ``encode`` quantises (so the harness's reconstruction scores
are the codec's, codes included), ``sample_latent`` draws codes from the prior and returns their
embeddings, and ``decode`` runs the codec's decoder on whatever embedding it is given. A point
between two quantised embeddings is not a code sequence the prior can draw, so the latent metrics
(PPL, interpolation evenness) measure how smoothly the decoder maps the space around its codes.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from baselines._common.baseline import adam
from baselines._common.plumbing import clip_gradients, condition_labels, move_optimizer_state
from baselines._common.losses import ReconstructionLoss
from baselines.codec_latent.codec import SpectralCodec
from baselines.codec_latent.prior import CodePrior
from bench.api.baseline import (Autoencoder, Baseline, BaselineMeta, Condition, FitSummary,
                                LatentGenerator)
from bench.api.fit import Budget

if TYPE_CHECKING:  # pragma: no cover
    from bench.api.fit import FitContext
    from bench.data.datamodule import DataModule

STATE_FORMAT = 1
ENCODE_BATCH = 128
CODEC_CHECK_CLIPS = 64   # valid clips of the codec's early-stopping check (the first ones, always the same)


def stage_budget(budget: Budget, codec_fraction: float) -> tuple[int, float]:
    """``(last codec step + 1, codec wall seconds)``: the codec's share of one training budget.

    The codec stage stops at ``round(codec_fraction · max_steps)`` steps (at least 1, and at
    least one step left to the prior) or after ``codec_fraction · max_wall_s`` seconds, whichever
    comes first; the prior runs from there until the protocol's budget is spent.
    """
    if not 0.0 <= codec_fraction < 1.0:
        raise ValueError(f"codec_fraction must lie in [0, 1) (the prior needs a share), got {codec_fraction}")
    if codec_fraction == 0.0:
        return 0, 0.0
    steps = min(max(1, round(codec_fraction * budget.max_steps)), max(1, budget.max_steps - 1))
    return steps, codec_fraction * budget.max_wall_s


class CodecLatent(Baseline, Autoencoder, LatentGenerator):
    meta = BaselineMeta(
        name="codec_latent", version="2",   # 2: the codec stage keeps its best checked weights
        capabilities=frozenset({"sample", "conditional", "encode", "latent"}),
        citation=("van den Oord et al., Neural Discrete Representation Learning (VQ-VAE), NeurIPS 2017; "
                  "Zeghidour et al., SoundStream, IEEE/ACM TASLP 2021 (residual VQ); "
                  "Défossez et al., High Fidelity Neural Audio Compression (EnCodec), TMLR 2023; "
                  "DCASE 2023 task 7 baseline (VQ-VAE + PixelSNAIL); "
                  "Esser et al., Taming Transformers, CVPR 2021 (class-token transformer prior)"),
        description=("Two stages in one budget: an STFT-frame convolutional codec with residual vector "
                     "quantisation (EMA codebooks) decoding through an iSTFT head, trained with MR-STFT "
                     "and commitment losses; then a causal transformer over the code sequence, "
                     "conditioned on the class by a start token. Generates by sampling codes and "
                     "decoding them. Its reconstruction scores are the codec's alone (encode "
                     "quantises; the prior plays no part)."),
    )
    codec_kind = "self"

    def __init__(self, *, num_classes: int, sample_rate: int, clip_samples: int,
                 codec_fraction: float = 0.6,
                 # codec (stage 1)
                 n_fft: int = 1024, hop: int = 256, n_mels: int = 64,
                 codec_widths: Sequence[int] = (96, 128), codec_blocks: int = 1,
                 code_dim: int = 32, levels: int = 4, codebook_size: int = 256,
                 ema_decay: float = 0.95, dead_threshold: float = 0.2,
                 commitment_weight: float = 1.0, phase: str = "if_noise", positional: bool = True,
                 latent_norm: bool = True, init_log_mag: float = -4.0,
                 fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
                 stft_hop_ratio: float = 0.5, codec_lr: float = 1e-3, head_lr_mult: float = 5.0,
                 grad_clip: float = 1.0,
                 batch_size: int | None = None,
                 # prior (stage 2)
                 prior_d_model: int = 128, prior_layers: int = 3, prior_heads: int = 4,
                 prior_dropout: float = 0.1, prior_lr: float = 2e-3, prior_warmup_steps: int = 10,
                 prior_batch_size: int = 32, prior_weight_decay: float = 0.01,
                 prior_val_every: int | None = None, temperature: float = 1.0,
                 codec_val_every: int | None = None,
                 # pretrained codec (variant rows only)
                 pretrained_dir: str | None = None, encodec_bandwidth: float = 3.0,
                 dac_levels: int = 4) -> None:
        super().__init__(num_classes=num_classes, sample_rate=sample_rate, clip_samples=clip_samples)
        stage_budget(Budget(2, 1.0, 1, 0), codec_fraction)  # validates the fraction
        for name, value in (("commitment_weight", commitment_weight), ("grad_clip", grad_clip)):
            if value < 0:
                raise ValueError(f"{name} must be ≥ 0, got {value}")
        for name, value in (("codec_lr", codec_lr), ("prior_lr", prior_lr), ("temperature", temperature),
                            ("head_lr_mult", head_lr_mult)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer or null, got {batch_size!r}")
        if int(prior_batch_size) < 1:
            raise ValueError(f"prior_batch_size must be a positive integer, got {prior_batch_size!r}")
        if prior_val_every is not None and int(prior_val_every) < 1:
            raise ValueError(f"prior_val_every must be a positive integer or null, got {prior_val_every!r}")
        self.prior_val_every = None if prior_val_every is None else int(prior_val_every)
        if codec_val_every is not None and int(codec_val_every) < 1:
            raise ValueError(f"codec_val_every must be a positive integer or null, got {codec_val_every!r}")
        self.codec_val_every = None if codec_val_every is None else int(codec_val_every)
        self.codec_fraction = float(codec_fraction)
        self.commitment_weight, self.grad_clip = float(commitment_weight), float(grad_clip)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.prior_batch_size = int(prior_batch_size)
        self.prior_warmup_steps, self.temperature = int(prior_warmup_steps), float(temperature)
        self.codec = self._build_codec(
            n_fft=n_fft, hop=hop, n_mels=n_mels, widths=codec_widths, blocks=codec_blocks,
            code_dim=code_dim, levels=levels, codebook_size=codebook_size, ema_decay=ema_decay,
            dead_threshold=dead_threshold, phase=phase, positional=positional, latent_norm=latent_norm,
            init_log_mag=init_log_mag,
            pretrained_dir=pretrained_dir, encodec_bandwidth=encodec_bandwidth, dac_levels=dac_levels)
        self.prior = CodePrior(num_classes=self.num_classes, frames=self.codec.frames,
                               levels=self.codec.levels, codebook_size=self.codec.codebook_size,
                               d_model=prior_d_model, layers=prior_layers, heads=prior_heads,
                               dropout=prior_dropout)
        self.recon_loss = ReconstructionLoss(tuple(fft_sizes), 0.0, stft_hop_ratio)
        self.codec_opt = self._codec_optimizer(float(codec_lr), float(head_lr_mult))
        self.prior_opt = torch.optim.AdamW(self.prior.parameters(), lr=prior_lr, betas=(0.9, 0.95),
                                           weight_decay=prior_weight_decay)
        self.prior_lr = float(prior_lr)
        self.codec_steps = 0   # steps the codec stage ran (set when it ends)
        self.stage = "codec" if self.trains_codec else "prior"
        self.steps_done = 0

    def _codec_optimizer(self, lr: float, head_lr_mult: float) -> torch.optim.Optimizer | None:
        """Adam over the codec's trainable weights; the iSTFT head's projection at
        ``head_lr_mult`` × ``lr``, so its log-magnitudes (which start at ``init_log_mag`` and must
        reach a kick's +2.5 at low bins) move faster than Adam's ~``lr`` per step allows."""
        trainable = [(n, p) for n, p in self.codec.named_parameters() if p.requires_grad]
        if not trainable:
            return None
        head = [p for n, p in trainable if n.startswith("synth.proj.")]
        rest = [p for n, p in trainable if not n.startswith("synth.proj.")]
        groups = [{"params": rest, "lr": lr}] + ([{"params": head, "lr": lr * head_lr_mult}] if head else [])
        return adam(groups, lr=lr, betas=(0.9, 0.99))

    def _build_codec(self, **kw: Any) -> torch.nn.Module:
        for key in ("pretrained_dir", "encodec_bandwidth", "dac_levels"):
            kw.pop(key)
        return SpectralCodec(sample_rate=self.sample_rate, clip_samples=self.clip_samples, **kw)

    @property
    def trains_codec(self) -> bool:
        return self.codec_kind == "self"

    @property
    def latent_dim(self) -> int:
        return self.codec.latent_dim

    # --- training -------------------------------------------------------------------------
    def fit(self, data: "DataModule", ctx: "FitContext") -> FitSummary:
        if (data.sample_rate, data.clip_samples) != (self.sample_rate, self.clip_samples):
            raise ValueError(f"{self.meta.name} was built for {self.sample_rate} Hz × {self.clip_samples} "
                             f"samples but the data is {data.sample_rate} Hz × {data.clip_samples}")
        if data.num_classes != self.num_classes:
            raise ValueError(f"{self.meta.name} was built for {self.num_classes} classes, "
                             f"the data has {data.num_classes}")
        codec_steps, codec_wall = stage_budget(ctx.budget, self.codec_fraction if self.trains_codec else 0.0)
        step = ctx.start_step
        self.train()
        codec_best: tuple[float, int, dict] | None = None
        if self.stage == "codec":
            batches = ctx.batches(data, self.batch_size or ctx.budget.batch_size)  # replays on resume
            check = data.valid.audio[:CODEC_CHECK_CLIPS]
            while (step < codec_steps and ctx.elapsed() < codec_wall and not ctx.should_stop(step)):
                self.codec_step(next(batches).audio, step, ctx)
                if len(check) and self._codec_validates(step, ctx):
                    codec_best = self._keep_best_codec(check, step, ctx, codec_best)
                step += 1
                self.steps_done = step
            if len(check) and step > ctx.start_step:   # the final codec is a candidate too
                codec_best = self._keep_best_codec(check, step - 1, ctx, codec_best)
                self.codec.load_state_dict(codec_best[2])   # the prior learns the kept codec's codes
            self.codec_steps, self.stage = step, "prior"
        codec_wall_s = ctx.elapsed()
        best_nll, prior_steps, train_codes = self.fit_prior(data, ctx, step)
        step += prior_steps
        if step > ctx.start_step:
            ctx.validate(step - 1)  # the one kept checkpoint: final codec + best prior
        extra = {"codec_steps": self.codec_steps, "prior_steps": prior_steps,
                 "codec_wall_s": codec_wall_s, "prior_wall_s": ctx.elapsed() - codec_wall_s,
                 "codec_fraction": self.codec_fraction, "codec": self.codec_kind,
                 "code_frames": self.codec.frames, "code_levels": self.codec.levels,
                 "codebook_size": self.codec.codebook_size}
        if codec_best is not None:
            extra["codec_valid_mrstft"], extra["codec_best_step"] = codec_best[0], codec_best[1]
        if train_codes is not None:
            extra["codebook_usage"] = self.codebook_usage(train_codes)
        if best_nll is not None:
            extra["prior_valid_nll"] = best_nll
        return FitSummary(steps=step, wall_s=ctx.elapsed(), stopped_because=ctx.stopped_because,
                          best_step=ctx.best_step, best_value=ctx.best_value, extra=extra)

    def codec_step(self, audio: Tensor, step: int, ctx: "FitContext") -> None:
        z = self.codec.encode(audio)
        q = self.codec.quantize(z)
        total, spectral, _ = self.recon_loss(self.codec.decode(q.straight_through), audio)
        loss = total + self.commitment_weight * q.commitment
        ctx.log(step, loss=loss.item(), recon=spectral.item(), commitment=q.commitment.item())
        self.codec_opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            clip_gradients(self.codec.parameters(), self.grad_clip, step, "codec_latent codec")
        self.codec_opt.step()

    def fit_prior(self, data: "DataModule", ctx: "FitContext", step: int
                  ) -> tuple[float | None, int, Tensor | None]:
        """Train the prior on the codes of the training split from ``step`` until the budget is
        spent; keep the weights with the lowest valid-split NLL. Returns (that NLL, steps run,
        the training codes)."""
        if ctx.should_stop(step):
            return None, 0, None
        codes, labels = self.encode_codes(data.train.audio), data.train.labels.to(self.device)
        valid = (self.encode_codes(data.valid.audio), data.valid.labels.to(self.device)) \
            if len(data.valid) else None
        self.prior.train()
        first, best, best_state = step, None, None
        while not ctx.should_stop(step):
            idx = torch.randint(len(labels), (min(self.prior_batch_size, len(labels)),),
                                generator=ctx.generator).to(self.device)
            loss = self.prior.loss(codes[idx], labels[idx])
            done = step - first
            lr = self.prior_lr * min(1.0, (done + 1) / max(1, self.prior_warmup_steps))
            ctx.log(step, prior_nll=loss.item(), prior_lr=lr)
            for group in self.prior_opt.param_groups:
                group["lr"] = lr
            self.prior_opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip > 0:
                clip_gradients(self.prior.parameters(), self.grad_clip, step, "codec_latent prior")
            self.prior_opt.step()
            if valid is not None and self._prior_validates(step, first, ctx):
                best, best_state = self._keep_best(valid, step, ctx, best, best_state)
            step += 1
            self.steps_done = step
        if valid is not None:
            best, best_state = self._keep_best(valid, step - 1, ctx, best, best_state)
            self.prior.load_state_dict(best_state)
        return best, step - first, codes

    def _codec_validates(self, step: int, ctx: "FitContext") -> bool:
        """The codec's early-stopping check: every ``codec_val_every`` steps, else at the
        protocol's validations."""
        if self.codec_val_every is None:
            return ctx.should_validate(step)
        return step > 0 and step % self.codec_val_every == 0

    def _keep_best_codec(self, audio: Tensor, step: int, ctx: "FitContext",
                         best: tuple[float, int, dict] | None) -> tuple[float, int, dict]:
        """Log the codec's valid MR-STFT distance; keep (distance, step, weights) of the best so
        far. Within a few hundred steps the distance swings (measured: 1.27 at step 500, 2.11 at
        750, 1.01 at 1 000), so the codec that stage 1 ends with is the best one it checked."""
        distance = self.codec_distance(audio)
        ctx.log(step, codec_valid_mrstft=distance)
        if best is None or distance < best[0]:
            return distance, step, copy.deepcopy(self.codec.state_dict())
        return best

    def _prior_validates(self, step: int, first: int, ctx: "FitContext") -> bool:
        """The prior's early-stopping check: every ``prior_val_every`` prior steps (it overfits
        the ~1 900 training sequences within a few hundred), else at the protocol's validations."""
        if self.prior_val_every is None:
            return ctx.should_validate(step)
        return (step - first + 1) % self.prior_val_every == 0

    def _keep_best(self, valid: tuple[Tensor, Tensor], step: int, ctx: "FitContext",
                   best: float | None, best_state: dict | None) -> tuple[float, dict]:
        nll = self.prior_nll(*valid)
        ctx.log(step, prior_valid_nll=nll)
        if best is None or nll < best:
            return nll, copy.deepcopy(self.prior.state_dict())
        return best, best_state

    @torch.no_grad()
    def prior_nll(self, codes: Tensor, labels: Tensor) -> float:
        """Mean NLL (nats per token) of ``codes`` under the prior, in eval mode."""
        was_training = self.prior.training
        self.prior.eval()
        total = 0.0
        for i in range(0, len(labels), ENCODE_BATCH):
            total += float(self.prior.loss(codes[i:i + ENCODE_BATCH], labels[i:i + ENCODE_BATCH])) \
                * len(labels[i:i + ENCODE_BATCH])
        self.prior.train(was_training)
        return total / len(labels)

    @torch.no_grad()
    def encode_codes(self, audio: Tensor) -> Tensor:
        """Codes ``(N, frames, levels)`` of clips ``(N, 1, T)`` under the (eval-mode) codec."""
        was_training = self.codec.training
        self.codec.eval()
        out = [self.codec.quantize(self.codec.encode(audio[i:i + ENCODE_BATCH].to(self.device))).codes
               for i in range(0, len(audio), ENCODE_BATCH)]
        self.codec.train(was_training)
        return torch.cat(out)

    @torch.no_grad()
    def codec_distance(self, audio: Tensor) -> float:
        """Mean MR-STFT distance (the harness's) of the codec's reconstructions of ``audio``."""
        from bench.metrics.recon import mrstft_distance

        was_training = self.codec.training
        self.codec.eval()
        x = audio.to(self.device)
        y = self.codec.decode(self.codec.quantize(self.codec.encode(x)).quantized).clamp(-1, 1)
        self.codec.train(was_training)
        return float(mrstft_distance(y, x).mean())

    def codebook_usage(self, codes: Tensor) -> list[float]:
        """Per level, the fraction of the codebook that ``codes`` ``(N, frames, levels)`` use."""
        return [len(torch.unique(codes[..., level])) / self.codec.codebook_size
                for level in range(self.codec.levels)]

    # --- autoencoding and generation ------------------------------------------------------
    def _labels(self, n: int, condition: Condition | None, generator: torch.Generator | None) -> Tensor:
        return condition_labels(condition, n, self.num_classes, self.device, generator)


    def encode(self, audio: Tensor, *, condition: Condition | None = None) -> Tensor:
        """Clips → their quantised codec embeddings, flattened ``(n, code_dim·frames)``; the
        codec ignores the class."""
        with torch.no_grad():
            q = self.codec.quantize(self.codec.encode(audio.to(self.device, torch.float32))).quantized
        return q.flatten(1)

    def decode(self, z: Tensor, *, condition: Condition | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents of shape (n, {self.latent_dim}) "
                             f"(code_dim {self.codec.code_dim} × frames {self.codec.frames}), "
                             f"got {tuple(z.shape)}")
        q = z.to(self.device, torch.float32).view(z.shape[0], self.codec.code_dim, self.codec.frames)
        return self.codec.decode(q).clamp(-1.0, 1.0)

    def sample_codes(self, n: int, *, condition: Condition | None = None,
                     generator: torch.Generator | None = None) -> Tensor:
        """``(n, frames, levels)`` codes from the prior for the condition's classes."""
        return self.prior.sample(self._labels(n, condition, generator), generator, self.temperature)

    def sample_latent(self, n: int, *, condition: Condition | None = None,
                      generator: torch.Generator | None = None) -> Tensor:
        """The embeddings of prior-sampled codes, flattened like :meth:`encode`'s output."""
        with torch.no_grad():
            return self.codec.embed(self.sample_codes(n, condition=condition, generator=generator)).flatten(1)

    def sample(self, n: int, *, condition: Condition | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        cond = Condition(labels=self._labels(n, condition, generator))
        with torch.no_grad():
            return self.decode(self.sample_latent(n, condition=cond, generator=generator))

    # --- checkpoints and devices ----------------------------------------------------------
    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {k: v for k, v in (("codec_opt", self.codec_opt), ("prior_opt", self.prior_opt))
                if v is not None}

    def state_dict(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "baseline": self.meta.name, "codec_kind": self.codec_kind,
                "stage": self.stage, "codec_steps": self.codec_steps, "steps_done": self.steps_done,
                "codec": self.codec.state_dict(), "prior": self.prior.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self._optimizers().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state.get("baseline") != self.meta.name or state.get("format") != STATE_FORMAT
                or state.get("codec_kind") != self.codec_kind):
            raise ValueError(f"not a {self.meta.name} checkpoint (format {STATE_FORMAT}, codec "
                             f"{self.codec_kind!r}): got baseline={state.get('baseline')!r}, "
                             f"format={state.get('format')!r}, codec={state.get('codec_kind')!r}")
        self.codec.load_state_dict(state["codec"])
        self.prior.load_state_dict(state["prior"])
        optimizers = self._optimizers()
        if set(optimizers) != set(state["optimizers"]):
            raise ValueError(f"{self.meta.name} checkpoint holds optimisers {sorted(state['optimizers'])}, "
                             f"this configuration has {sorted(optimizers)}")
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.stage, self.codec_steps = str(state["stage"]), int(state["codec_steps"])
        self.steps_done = int(state["steps_done"])
        self.to(self.device)

    def to(self, device: torch.device | str) -> "CodecLatent":
        super().to(device)
        for opt in self._optimizers().values():
            move_optimizer_state(opt, self.device)
        return self


class CodecLatentEncodec(CodecLatent):
    """`codec_latent_encodec`: the same prior over the codes of the frozen, pretrained EnCodec
    24 kHz instead of a self-trained codec (all of the budget goes to the prior). A pretrained
    part, so an opt-in variant row; without the weights on disk it fails at construction, within
    seconds, naming the missing files."""

    meta = BaselineMeta(
        name="codec_latent_encodec", version="1", capabilities=CodecLatent.meta.capabilities,
        citation=CodecLatent.meta.citation, variant_of="codec_latent",
        devices=("pretrained EnCodec 24 kHz codec (frozen), not trained on the protocol's data",),
        description="The codec_latent prior over the codes of the pretrained EnCodec 24 kHz codec.")
    codec_kind = "encodec_24khz"

    def _build_codec(self, **kw: Any) -> torch.nn.Module:
        from baselines.codec_latent.pretrained import EncodecCodec

        return EncodecCodec(sample_rate=self.sample_rate, clip_samples=self.clip_samples,
                            bandwidth=kw["encodec_bandwidth"], weights_dir=kw["pretrained_dir"])


class CodecLatentDac(CodecLatent):
    """`codec_latent_dac`: the same prior over the codes of the frozen, pretrained DAC 16 kHz
    (its first ``dac_levels`` residual levels), all of the budget to the prior. An opt-in variant
    row; without the package or weights it fails at construction naming what is missing."""

    meta = BaselineMeta(
        name="codec_latent_dac", version="1", capabilities=CodecLatent.meta.capabilities,
        citation=CodecLatent.meta.citation + "; Kumar et al., High-Fidelity Audio Compression with "
                 "Improved RVQGAN (DAC), NeurIPS 2023",
        variant_of="codec_latent",
        devices=("pretrained DAC 16 kHz codec (frozen), not trained on the protocol's data",),
        description="The codec_latent prior over the codes of the pretrained DAC 16 kHz codec.")
    codec_kind = "dac_16khz"

    def _build_codec(self, **kw: Any) -> torch.nn.Module:
        from baselines.codec_latent.pretrained import DacCodec

        return DacCodec(sample_rate=self.sample_rate, clip_samples=self.clip_samples,
                        levels=kw["dac_levels"], weights_dir=kw["pretrained_dir"])
