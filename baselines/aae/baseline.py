"""`aae`: adversarial autoencoder (Makhzani et al. 2015) on the shared waveform autoencoder, with
the Gaussian-mixture prior of Tomczak, Goto & Hockman (ACM MM 2020) as an option.

The encoder is deterministic. Instead of a KL term, a discriminator on the latent code learns to
tell encoder codes from prior samples and the encoder learns to fool it (non-saturating GAN loss,
weight ramped up over ``adv_warmup_steps``). ``prior="class_mixture"`` (AAE-GM) gives every class
its own Gaussian component and a class-aware discriminator, so sampling a class means sampling
its component; ``prior="gaussian"`` is the plain AAE with N(0, I).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional as F

from baselines._common.baseline import AutoencoderBaseline, adam, templates_variant
from baselines._common.priors import PRIORS, make_prior
from baselines.aae.model import LatentDiscriminator
from bench.api.baseline import Autoencoder, Baseline, BaselineMeta, LatentGenerator
from bench.data.datamodule import Batch

if TYPE_CHECKING:  # pragma: no cover
    from bench.api.fit import FitContext


class AAE(AutoencoderBaseline, Baseline, Autoencoder, LatentGenerator):
    meta = BaselineMeta(
        name="aae", version="6", capabilities=frozenset({"sample", "conditional", "encode", "latent"}),
        citation=("Tomczak, Goto & Hockman, Drum Synthesis and Rhythmic Transformation with "
                  "Adversarial Autoencoders, ACM Multimedia 2020; Makhzani et al., Adversarial "
                  "Autoencoders, arXiv 1511.05644"),
        description=("Adversarial autoencoder: the shared waveform autoencoder with its code matched "
                     "to a prior by a latent discriminator; prior N(0, I) or one Gaussian per class "
                     "(AAE-GM)."),
    )
    code_params = 1

    def __init__(self, *, prior: str = "class_mixture", prior_radius: float = 4.0,
                 prior_std: float = 1.0, adv_weight: float = 0.05, adv_warmup_steps: int = 200,
                 disc_hidden: int = 256, disc_layers: int = 2, disc_lr: float = 2e-4,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if prior not in PRIORS:
            raise ValueError(f"unknown prior {prior!r}; choose one of {PRIORS}")
        if adv_weight < 0 or adv_warmup_steps < 0:
            raise ValueError(f"adv_weight and adv_warmup_steps must be ≥ 0; got {adv_weight}, "
                             f"{adv_warmup_steps}")
        self.prior_name = prior
        options = {"radius": prior_radius, "std": prior_std} if prior == "class_mixture" else {}
        self.prior = make_prior(prior, self.latent_dim, self.num_classes, **options)
        class_aware = self.num_classes if prior == "class_mixture" else 0
        self.disc = LatentDiscriminator(self.latent_dim, class_aware, disc_hidden, disc_layers)
        self.opt_disc = adam(self.disc.parameters(), lr=disc_lr, betas=(0.5, 0.9))
        self.adv_weight, self.adv_warmup_steps = float(adv_weight), int(adv_warmup_steps)

    def adv_weight_at(self, step: int) -> float:
        if self.adv_warmup_steps == 0:
            return self.adv_weight
        return self.adv_weight * min(1.0, step / self.adv_warmup_steps)

    def training_step(self, batch: Batch, step: int, ctx: "FitContext") -> None:
        x, labels = batch.audio, batch.labels
        dropped = self.drop_labels(labels)
        z = self.net.encode(x, dropped)
        recon, logged = self.reconstruction(z, dropped, x)
        fooled = self.disc(z, labels)
        g_adv = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        weight = self.adv_weight_at(step)
        loss = recon + weight * g_adv

        real = self.disc(self.prior.sample(labels), labels)
        fake = self.disc(z.detach(), labels)
        d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                  + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        d_acc = 0.5 * ((real > 0).float().mean() + (fake < 0).float().mean())
        ctx.log(step, loss=loss.item(), **logged, g_adv=g_adv.item(), d_loss=d_loss.item(),
                d_acc=d_acc.item(), adv_weight=weight,
                z_rms=z.detach().pow(2).mean().sqrt().item())
        self.update(self.opt, loss, step)
        self.update(self.opt_disc, d_loss, step)


class AAETemplates(AAE):
    """`aae_templates`: the AAE over per-class k-means spectral templates, drumbench's own
    device (version 5 of `aae`, measured in baselines/aae/README.md). An opt-in row: the suite
    runs it only when asked for (``--baselines aae_templates``)."""

    meta = templates_variant(AAE.meta, version="5")
    uses_templates = True
