"""GAN objectives for the DrumGAN baseline.

* ``wgan_gp``: DrumGAN's own loss, the Wasserstein critic with gradient penalty (Gulrajani et al.
  2017) — ``E[D(fake)] − E[D(real)] + λ E[(‖∇D(x̂)‖ − 1)²]`` on random interpolates x̂, plus
  ProGAN's drift term ``ε E[D(real)²]`` (Karras et al. 2018), which DrumGAN inherits.
* ``ns_r1``: the non-saturating loss (Goodfellow et al. 2014) with the R1 penalty on real data
  ``γ/2 E[‖∇D(x)‖²]`` (Mescheder et al. 2018), applied lazily every few steps as in StyleGAN2.
  It needs no extra critic steps per generator step, which matters under a CPU wall budget
  (measured in baselines/drumgan/README.md).

Penalties are taken with respect to the critic's input features, which ``score`` maps to one
number per example.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

LOSSES = ("ns_r1", "wgan_gp")


def critic_loss(kind: str, real: Tensor, fake: Tensor) -> Tensor:
    """The critic's adversarial loss from its scores on real and generated examples."""
    if kind == "wgan_gp":
        return fake.mean() - real.mean()
    if kind == "ns_r1":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; choose one of {LOSSES}")


def generator_loss(kind: str, fake: Tensor) -> Tensor:
    """The generator's adversarial loss from the critic's scores on its examples."""
    if kind == "wgan_gp":
        return -fake.mean()
    if kind == "ns_r1":
        return F.softplus(-fake).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; choose one of {LOSSES}")


def _input_gradient(score: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(score(x).sum(), x, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(score: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP: ``E[(‖∇D(x̂)‖ − 1)²]`` at ``x̂ = α·real + (1 − α)·fake``, α ~ U(0, 1) per example.
    Zero for a critic whose gradient has unit norm everywhere (a 1-Lipschitz linear map)."""
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    alpha = torch.rand((real.shape[0],) + (1,) * (real.ndim - 1), generator=generator).to(real)
    mixed = alpha * real.detach() + (1 - alpha) * fake.detach()
    return (_input_gradient(score, mixed).norm(dim=1) - 1.0).pow(2).mean()


def r1_penalty(score: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1: ``E[‖∇D(x)‖²]`` on real examples (multiply by γ/2)."""
    return _input_gradient(score, real).pow(2).sum(dim=1).mean()
