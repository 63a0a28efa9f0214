"""`drumgan`: a conditional GAN for drum one-shots after DrumGAN (Nistal, Lattner & Richard 2020).

The generator maps noise, a class and seven timbral descriptors (:mod:`bench.data.timbral`) to
magnitude + instantaneous-frequency STFT frames inverted exactly by ``torch.istft`` and bounded by
a tanh (so the critic judges the clip that is scored); the critic reads the log-mel spectrogram,
scores it (projection on the class) and, as in DrumGAN, predicts the class and the descriptors,
which the generator is trained to match. See README.md for the loss choice and every deviation
from the paper (no progressive growing, among others).

The latent code is ``[z, d]``: the noise ``z ~ N(0, I)`` and the descriptors ``d`` normalised by
the training split's mean and deviation, so latent metrics interpolate both. When a caller gives
no descriptors, ``d`` is the descriptor vector of a random training clip of the requested class.
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.nn import functional as F

from baselines._common.plumbing import (anneal_lr, checked_final_fraction, condition_labels,
                                        move_optimizer_state, require_finite_gradients)
from baselines.drumgan.losses import (LOSSES, critic_loss, generator_loss, gradient_penalty,
                                      r1_penalty)
from baselines.drumgan.model import SpectralCritic, SpectralGenerator
from bench.api.baseline import Baseline, BaselineMeta, Condition, FitSummary, LatentGenerator
from bench.data import timbral
from bench.data.datamodule import Batch, ClipSet

if TYPE_CHECKING:  # pragma: no cover
    from bench.api.fit import FitContext
    from bench.data.datamodule import DataModule

STATE_FORMAT = 2   # 2: the critic's trunks became a list (one per resolution)


class CriticDiverged(RuntimeError):
    """The critic's scores left any sensible range: the run stops as ``failed`` with the values."""


class DrumGAN(Baseline, LatentGenerator):
    meta = BaselineMeta(
        name="drumgan", version="5", capabilities=frozenset({"sample", "conditional", "latent"}),
        citation=("Nistal, Lattner & Richard, DrumGAN: Synthesis of Drum Sounds With Timbral "
                  "Feature Conditioning Using Generative Adversarial Networks, ISMIR 2020 "
                  "(arXiv 2008.12073)"),
        description=("Conditional GAN: noise + class + seven timbral descriptors → magnitude/IF "
                     "STFT frames → exact iSTFT → tanh; log-mel critic with class projection and "
                     "DrumGAN's auxiliary class and descriptor heads; non-saturating loss with "
                     "lazy R1 (wgan_gp: DrumGAN's WGAN-GP)."),
    )

    def __init__(self, *, num_classes: int, sample_rate: int, clip_samples: int,
                 latent_dim: int = 64, loss: str = "ns_r1", lr_g: float = 5e-4, lr_d: float = 5e-4,
                 betas: Sequence[float] = (0.0, 0.99), r1_gamma: float = 5.0, r1_every: int = 4,
                 gp_weight: float = 10.0, drift: float = 1e-3, critic_steps: int = 1,
                 class_weight: float = 1.0, descriptor_weight: float = 10.0,
                 use_descriptors: bool = True, ema_decay: float = 0.99,
                 batch_size: int | None = 16, max_critic_score: float = 1e4,
                 lr_final_fraction: float = 1.0,
                 label_dim: int = 32, style_dim: int = 128,
                 gen_widths: Sequence[int] = (128, 96, 64, 48), gen_blocks: int = 1,
                 n_fft: int = 1024, hop: int = 256, phase: str = "if_noise",
                 init_log_mag: float = 2.0, positional: bool = True, decay_bands: int = 32,
                 lobe_phase: bool = False, soft_clip: bool = True,
                 fine_n_fft: int = 0, fine_hop: int = 64, fine_width: int = 32,
                 fine_init_log_mag: float = -2.0,
                 critic_widths: Sequence[int] = (64, 96, 128), critic_feature_dim: int = 128,
                 critic_n_fft: int = 512, critic_hop: int = 128, critic_mels: int = 64,
                 projection: bool = True, minibatch_std_group: int = 0,
                 critic_fine_n_fft: int = 0, critic_fine_hop: int = 64, critic_fine_mels: int = 40,
                 critic_fine_widths: Sequence[int] = (32, 64, 64, 64),
                 critic_spectral_norm: bool = False) -> None:
        super().__init__(num_classes=num_classes, sample_rate=sample_rate, clip_samples=clip_samples)
        if loss not in LOSSES:
            raise ValueError(f"unknown GAN loss {loss!r}; choose one of {LOSSES}")
        for name, value in (("lr_g", lr_g), ("lr_d", lr_d), ("max_critic_score", max_critic_score)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        for name, value in (("r1_gamma", r1_gamma), ("gp_weight", gp_weight), ("drift", drift),
                            ("class_weight", class_weight), ("descriptor_weight", descriptor_weight)):
            if value < 0:
                raise ValueError(f"{name} must be ≥ 0, got {value}")
        if int(r1_every) < 1 or int(critic_steps) < 1:
            raise ValueError(f"r1_every and critic_steps must be ≥ 1, got {r1_every}, {critic_steps}")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {ema_decay}")
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer or null, got {batch_size!r}")
        self.lr_g, self.lr_d = float(lr_g), float(lr_d)
        self.lr_final_fraction = checked_final_fraction(lr_final_fraction)
        self.latent_dim, self.loss = int(latent_dim), loss
        self.r1_gamma, self.r1_every, self.gp_weight, self.drift = float(r1_gamma), int(r1_every), \
            float(gp_weight), float(drift)
        self.critic_steps = int(critic_steps)
        self.class_weight, self.descriptor_weight = float(class_weight), float(descriptor_weight)
        self.ema_decay, self.max_critic_score = float(ema_decay), float(max_critic_score)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.descriptor_names = timbral.NAMES if use_descriptors else ()
        d = len(self.descriptor_names)
        self.gen = SpectralGenerator(num_classes=self.num_classes, clip_samples=self.clip_samples,
                                     latent_dim=self.latent_dim, descriptors=d, label_dim=label_dim,
                                     style_dim=style_dim, widths=gen_widths, blocks=gen_blocks,
                                     n_fft=n_fft, hop=hop, phase=phase, init_log_mag=init_log_mag,
                                     positional=positional, bands=decay_bands, lobe_phase=lobe_phase,
                                     soft_clip=soft_clip,
                                     fine_n_fft=fine_n_fft, fine_hop=fine_hop, fine_width=fine_width,
                                     fine_init_log_mag=fine_init_log_mag,
                                     sample_rate=self.sample_rate)
        self.critic = SpectralCritic(num_classes=self.num_classes, clip_samples=self.clip_samples,
                                     sample_rate=self.sample_rate, descriptors=d, widths=critic_widths,
                                     feature_dim=critic_feature_dim, n_fft=critic_n_fft,
                                     hop=critic_hop, n_mels=critic_mels, projection=projection,
                                     minibatch_std_group=minibatch_std_group,
                                     fine_n_fft=critic_fine_n_fft, fine_hop=critic_fine_hop,
                                     fine_mels=critic_fine_mels, fine_widths=critic_fine_widths,
                                     spectral_norm=critic_spectral_norm)
        # generation uses an exponential moving average of the generator's weights (ProGAN's
        # practice, which DrumGAN's code base inherits); its parameters are not trained directly
        self.gen_ema = copy.deepcopy(self.gen).requires_grad_(False) if ema_decay > 0 else None
        betas = tuple(betas)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=lr_d, betas=betas)
        # descriptor statistics of the training split (filled by fit, kept in checkpoints)
        self.desc_mean = torch.zeros(d)
        self.desc_std = torch.ones(d)
        self.train_desc = torch.zeros(0, d)       # normalised, one row per training clip
        self.train_labels = torch.zeros(0, dtype=torch.long)
        self.steps_done = 0

    # --- conditions ---------------------------------------------------------------------------
    def _set_conditions(self, train: ClipSet) -> None:
        """Descriptor statistics of the training split: from its extras (the harness computes
        them in the data build) or, for data sets built in code, from its audio."""
        if not self.descriptor_names:
            return
        if all(name in train.extra for name in self.descriptor_names):
            values = torch.stack([train.extra[n].float().cpu() for n in self.descriptor_names], dim=1)
        else:
            values = timbral.timbral_matrix(train.audio, self.sample_rate)
        if not torch.isfinite(values).all():
            raise ValueError("the training split's timbral descriptors contain NaN/inf values")
        self.desc_mean = values.mean(dim=0)
        self.desc_std = values.std(dim=0).clamp_min(1e-3) if len(values) > 1 else torch.ones(values.shape[1])
        self.train_desc = (values - self.desc_mean) / self.desc_std
        self.train_labels = train.labels.long().cpu()

    def normalise(self, values: Mapping[str, Tensor]) -> dict[int, Tensor]:
        """Descriptor values in their own units (``Condition.extra``) → normalised columns."""
        unknown = sorted(set(values) - set(self.descriptor_names))
        if unknown:
            raise ValueError(f"drumgan conditions on the timbral descriptors "
                             f"{list(self.descriptor_names)}; Condition.extra also holds {unknown}")
        return {i: (torch.as_tensor(values[n]).float().flatten().to(self.device)
                    - self.desc_mean[i].to(self.device)) / self.desc_std[i].to(self.device)
                for i, n in enumerate(self.descriptor_names) if n in values}

    def _draw_descriptors(self, labels: Tensor, generator: torch.Generator | None) -> Tensor:
        """The normalised descriptors of a random training clip of each requested class."""
        d = len(self.descriptor_names)
        out = torch.zeros(labels.shape[0], d)
        if d == 0 or len(self.train_labels) == 0:
            return out.to(self.device)
        cpu = labels.cpu()
        for c in torch.unique(cpu).tolist():
            rows = torch.nonzero(cpu == c).flatten()
            members = torch.nonzero(self.train_labels == c).flatten()
            if len(members) == 0:   # a class without training clips: any training clip
                members = torch.arange(len(self.train_labels))
            pick = torch.randint(len(members), (len(rows),), generator=generator)
            out[rows] = self.train_desc[members[pick]]
        return out.to(self.device)

    def _labels(self, n: int, condition: Condition | None, generator: torch.Generator | None,
                who: str) -> Tensor:
        labels = None if condition is None else condition.labels
        if labels is None:
            if who == "decode":
                raise ValueError("drumgan.decode needs condition.labels (the class of each code)")
        return condition_labels(condition, n, self.num_classes, self.device, generator)

    def _with_extra(self, desc: Tensor, condition: Condition | None) -> Tensor:
        if condition is None or not condition.extra:
            return desc
        desc = desc.clone()
        for column, values in self.normalise(condition.extra).items():
            if values.shape[0] not in (1, desc.shape[0]):
                raise ValueError(f"Condition.extra[{self.descriptor_names[column]!r}] has "
                                 f"{values.shape[0]} values for {desc.shape[0]} clips")
            desc[:, column] = values
        return desc

    # --- LatentGenerator ------------------------------------------------------------------------
    def sample_latent(self, n: int, *, condition: Condition | None = None,
                      generator: torch.Generator | None = None) -> Tensor:
        labels = self._labels(n, condition, generator, "sample_latent")
        noise = torch.randn(n, self.latent_dim, generator=generator).to(self.device)
        desc = self._with_extra(self._draw_descriptors(labels, generator), condition)
        return torch.cat([noise, desc], dim=1)

    def decode(self, z: Tensor, *, condition: Condition | None = None) -> Tensor:
        width = self.latent_dim + len(self.descriptor_names)
        if z.ndim != 2 or z.shape[1] != width:
            raise ValueError(f"drumgan codes are (batch, {width}) = noise {self.latent_dim} + "
                             f"descriptors {len(self.descriptor_names)}; got {tuple(z.shape)}")
        z = z.to(self.device, torch.float32)
        labels = self._labels(z.shape[0], condition, None, "decode")
        desc = self._with_extra(z[:, self.latent_dim:], condition)
        net = self.gen_ema if self.gen_ema is not None else self.gen
        return net(z[:, : self.latent_dim], desc, labels).clamp(-1.0, 1.0)

    def sample(self, n: int, *, condition: Condition | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        labels = self._labels(n, condition, generator, "sample")
        cond = Condition(labels=labels, extra={} if condition is None else condition.extra)
        with torch.no_grad():
            return self.decode(self.sample_latent(n, condition=cond, generator=generator), condition=cond)

    # --- training -------------------------------------------------------------------------------
    def fit(self, data: "DataModule", ctx: "FitContext") -> FitSummary:
        if (data.sample_rate, data.clip_samples) != (self.sample_rate, self.clip_samples):
            raise ValueError(f"drumgan was built for {self.sample_rate} Hz × {self.clip_samples} "
                             f"samples but the data is {data.sample_rate} Hz × {data.clip_samples}")
        if data.num_classes != self.num_classes:
            raise ValueError(f"drumgan was built for {self.num_classes} classes, "
                             f"the data has {data.num_classes}")
        if ctx.start_step == 0:   # a resumed run has them from its checkpoint
            self._set_conditions(data.train)
        self.train()
        batch_size = self.batch_size or ctx.budget.batch_size
        # batches carry each clip's training row, to look its descriptors up
        rows = ClipSet(data.train.audio, data.train.labels, data.train.ids,
                       {"row": torch.arange(len(data.train))})
        batches = dataclasses.replace(data, train=rows).train_batches(batch_size, ctx.generator,
                                                                      ctx.device)
        step, validated = ctx.start_step, None
        while not ctx.should_stop(step):
            self.training_step(next(batches), step, ctx)
            if ctx.should_validate(step):
                ctx.validate(step)
                validated = step
            step += 1
            self.steps_done = step
        if step > ctx.start_step and validated != step - 1:
            ctx.validate(step - 1)
        return FitSummary(steps=step, wall_s=ctx.elapsed(), stopped_because=ctx.stopped_because,
                          best_step=ctx.best_step, best_value=ctx.best_value,
                          extra={"seconds_per_step": ctx.elapsed() / max(1, step - ctx.start_step),
                                 "batch_size": batch_size, "loss": self.loss})

    def training_step(self, batch: Batch, step: int, ctx: "FitContext") -> None:
        """One critic update and (every ``critic_steps`` steps) one generator update, both from
        the same critic forward pass on the generated batch."""
        x, labels = batch.audio, batch.labels
        desc = self.train_desc[batch.extra["row"].cpu()].to(self.device)   # this batch's conditions
        z = torch.randn(x.shape[0], self.latent_dim, device=self.device)
        fake = self.gen(z, desc, labels)
        real_feats = self.critic.features(x)
        fake_feats = self.critic.features(fake)
        real_score, real_logits, real_desc = self.critic(real_feats, labels)
        fake_score, fake_logits, fake_desc = self.critic(fake_feats, labels)

        d_adv = critic_loss(self.loss, real_score, fake_score)
        d_aux = self.class_weight * F.cross_entropy(real_logits, labels)
        g_aux = self.class_weight * F.cross_entropy(fake_logits, labels)
        if real_desc is not None:
            d_aux = d_aux + self.descriptor_weight * F.mse_loss(real_desc, desc)
            g_aux = g_aux + self.descriptor_weight * F.mse_loss(fake_desc, desc)
        penalty = real_feats[0].new_zeros(())

        def score(feats: tuple[Tensor, ...]) -> Tensor:
            return self.critic(feats, labels)[0]

        if self.loss == "wgan_gp":
            penalty = self.gp_weight * gradient_penalty(score, real_feats, fake_feats) \
                + self.drift * real_score.pow(2).mean()
        elif self.r1_gamma > 0 and step % self.r1_every == 0:   # lazy R1 (StyleGAN2)
            penalty = 0.5 * self.r1_gamma * self.r1_every * r1_penalty(score, real_feats)
        d_loss = d_adv + d_aux + penalty
        g_adv = generator_loss(self.loss, fake_score)
        g_loss = g_adv + g_aux
        update_g = step % self.critic_steps == 0
        real_mean, fake_mean = real_score.mean().item(), fake_score.mean().item()
        ctx.log(step, d_loss=d_loss.item(), d_adv=d_adv.item(), d_aux=d_aux.item(),
                penalty=penalty.item(), g_loss=g_loss.item(), g_adv=g_adv.item(),
                g_aux=g_aux.item(), real_score=real_mean, fake_score=fake_mean)
        worst = max(abs(real_mean), abs(fake_mean))
        if worst > self.max_critic_score:
            raise CriticDiverged(f"critic diverged at step {step}: mean score on real clips "
                                 f"{real_mean:.4g}, on generated clips {fake_mean:.4g} (limit "
                                 f"±{self.max_critic_score:g}, set by max_critic_score)")
        self.opt_d.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        d_loss.backward(inputs=list(self.critic.parameters()), retain_graph=update_g)
        if update_g:
            g_loss.backward(inputs=list(self.gen.parameters()))
        require_finite_gradients(self.critic.parameters(), step, "drumgan critic")
        if update_g:
            require_finite_gradients(self.gen.parameters(), step, "drumgan generator")
        for opt, lr in ((self.opt_d, self.lr_d), (self.opt_g, self.lr_g)):
            anneal_lr(opt, lr, step, ctx.budget.max_steps, self.lr_final_fraction)
        self.opt_d.step()
        if update_g:
            self.opt_g.step()
            self._update_ema(step)

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        """Move the averaged generator toward the trained one; the decay ramps up from 0.1
        (``(1 + t) / (10 + t)``, as TensorFlow's moving averages do) so that early in a short
        budget the average does not lag behind by hundreds of steps."""
        if self.gen_ema is None:
            return
        decay = min(self.ema_decay, (1.0 + step) / (10.0 + step))
        ema, live = list(self.gen_ema.parameters()), list(self.gen.parameters())
        torch._foreach_lerp_(ema, live, 1.0 - decay)
        for b_ema, b_live in zip(self.gen_ema.buffers(), self.gen.buffers()):
            b_ema.copy_(b_live)

    # --- checkpoints and devices ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        modules = {"gen": self.gen, "critic": self.critic}
        if self.gen_ema is not None:
            modules["gen_ema"] = self.gen_ema
        return {"format": STATE_FORMAT, "baseline": self.meta.name, "steps_done": self.steps_done,
                "modules": {k: m.state_dict() for k, m in modules.items()},
                "optimizers": {"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()},
                "conditions": {"names": list(self.descriptor_names), "mean": self.desc_mean.cpu(),
                               "std": self.desc_std.cpu(), "train_desc": self.train_desc.cpu(),
                               "train_labels": self.train_labels.cpu()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("baseline") != self.meta.name or state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a drumgan checkpoint (format {STATE_FORMAT}): got "
                             f"baseline={state.get('baseline')!r}, format={state.get('format')!r}")
        cond = state["conditions"]
        if tuple(cond["names"]) != tuple(self.descriptor_names):
            raise ValueError(f"the checkpoint conditions on {cond['names']}, this configuration on "
                             f"{list(self.descriptor_names)}")
        expected = {"gen", "critic"} | ({"gen_ema"} if self.gen_ema is not None else set())
        if set(state["modules"]) != expected:
            raise ValueError(f"drumgan checkpoint holds modules {sorted(state['modules'])}, this "
                             f"configuration has {sorted(expected)} (ema_decay > 0 adds gen_ema)")
        self.gen.load_state_dict(state["modules"]["gen"])
        self.critic.load_state_dict(state["modules"]["critic"])
        if self.gen_ema is not None:
            self.gen_ema.load_state_dict(state["modules"]["gen_ema"])
        self.opt_g.load_state_dict(state["optimizers"]["opt_g"])
        self.opt_d.load_state_dict(state["optimizers"]["opt_d"])
        self.desc_mean, self.desc_std = cond["mean"].float(), cond["std"].float()
        self.train_desc, self.train_labels = cond["train_desc"].float(), cond["train_labels"].long()
        self.steps_done = int(state["steps_done"])
        self.to(self.device)

    def to(self, device: torch.device | str) -> "DrumGAN":
        super().to(device)
        for opt in (self.opt_g, self.opt_d):
            move_optimizer_state(opt, self.device)
        return self

