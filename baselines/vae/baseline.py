"""`vae`: a conditional β-VAE with KL warm-up and free bits, on the shared waveform autoencoder.

Loss per step: MR-STFT reconstruction (+ optional waveform L1) + the decoder's spectral-template
cross-entropy + β(t) · Σ_d max(free_bits, KL_d),
where KL_d is the batch-mean KL of latent dimension d from N(0, 1) and β(t) ramps linearly from 0 to
``beta`` over ``kl_warmup_steps``. Free bits (Kingma et al. 2016) stop the KL from being pushed
below ``free_bits`` nats per dimension, which guards against posterior collapse.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from baselines._common.baseline import AutoencoderBaseline, templates_variant
from baselines._common.priors import GaussianPrior
from bench.api.baseline import Autoencoder, Baseline, BaselineMeta, LatentGenerator
from bench.data.datamodule import Batch

if TYPE_CHECKING:  # pragma: no cover
    from bench.api.fit import FitContext


class VAE(AutoencoderBaseline, Baseline, Autoencoder, LatentGenerator):
    meta = BaselineMeta(
        name="vae", version="6", capabilities=frozenset({"sample", "conditional", "encode", "latent"}),
        citation=("Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014 (arXiv 1312.6114); "
                  "Higgins et al., beta-VAE, ICLR 2017"),
        description=("Conditional beta-VAE: log-mel encoder, waveform decoder with a predicted "
                     "magnitude+phase iSTFT head, "
                     "MR-STFT loss, KL warm-up and free bits; "
                     "generates by decoding N(0, I) samples with the requested class."),
    )
    code_params = 2  # mean and log-variance

    def __init__(self, *, beta: float = 0.01, kl_warmup_steps: int = 500, free_bits: float = 0.05,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if beta < 0 or free_bits < 0 or kl_warmup_steps < 0:
            raise ValueError(f"beta, free_bits and kl_warmup_steps must be ≥ 0; got beta={beta}, "
                             f"free_bits={free_bits}, kl_warmup_steps={kl_warmup_steps}")
        self.beta, self.free_bits, self.kl_warmup_steps = float(beta), float(free_bits), int(kl_warmup_steps)
        self.prior = GaussianPrior(self.latent_dim)

    def beta_at(self, step: int) -> float:
        if self.kl_warmup_steps == 0:
            return self.beta
        return self.beta * min(1.0, step / self.kl_warmup_steps)

    def training_step(self, batch: Batch, step: int, ctx: "FitContext") -> None:
        labels = self.drop_labels(batch.labels)
        mean, log_var = self.net.encode(batch.audio, labels).chunk(2, dim=1)
        log_var = log_var.clamp(-12.0, 6.0)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        recon, logged = self.reconstruction(z, labels, batch.audio)
        kl_per_dim = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).mean(dim=0)
        kl_guarded = kl_per_dim.clamp_min(self.free_bits).sum()
        beta = self.beta_at(step)
        loss = recon + beta * kl_guarded
        ctx.log(step, loss=loss.item(), **logged, kl=kl_per_dim.sum().item(), beta=beta,
                active_dims=float((kl_per_dim > self.free_bits).sum().item()))
        self.update(self.opt, loss, step)


class VAETemplates(VAE):
    """`vae_templates`: the VAE over per-class k-means spectral templates, drumbench's own
    device (version 5 of `vae`, measured in baselines/vae/README.md). An opt-in row: the suite
    runs it only when asked for (``--baselines vae_templates``)."""

    meta = templates_variant(VAE.meta, version="5")
    uses_templates = True
