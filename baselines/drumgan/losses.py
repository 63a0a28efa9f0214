"""GAN objectives for the DrumGAN baseline.

* ``wgan_gp``: DrumGAN's own loss, the Wasserstein critic with gradient penalty (Gulrajani et al.
  2017) — ``E[D(fake)] − E[D(real)] + λ E[(‖∇D(x̂)‖ − 1)²]`` on random interpolates x̂, plus
  ProGAN's drift term ``ε E[D(real)²]`` (Karras et al. 2018), which DrumGAN inherits.
* ``ns_r1``: the non-saturating loss (Goodfellow et al. 2014) with the R1 penalty on real data
  ``γ/2 E[‖∇D(x)‖²]`` (Mescheder et al. 2018), applied lazily every few steps as in StyleGAN2.
  It needs no extra critic steps per generator step, which matters under a CPU wall budget
  (measured in baselines/drumgan/README.md).

Penalties are taken with respect to the critic's input features, which ``score`` maps to one
number per example: one tensor, or a tuple of them (a critic that reads several resolutions), whose
gradients then count together as one vector per example.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

LOSSES = ("ns_r1", "wgan_gp")

Features = Tensor | tuple[Tensor, ...]


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


def _parts(x: Features) -> tuple[Tensor, ...]:
    return x if isinstance(x, tuple) else (x,)


def _like(x: Features, parts: tuple[Tensor, ...]) -> Features:
    """``parts`` in the form of ``x``: the tuple for a tuple, its one tensor otherwise."""
    return parts if isinstance(x, tuple) else parts[0]


def _input_gradient(score: Callable[[Features], Tensor], x: Features) -> Tensor:
    """``∇ score`` at ``x``, flattened to ``(B, n)`` (the parts of a tuple side by side)."""
    parts = tuple(p.detach().requires_grad_(True) for p in _parts(x))
    grads = torch.autograd.grad(score(_like(x, parts)).sum(), parts, create_graph=True,
                                allow_unused=True, materialize_grads=True)
    return torch.cat([g.flatten(1) for g in grads], dim=1)


def gradient_penalty(score: Callable[[Features], Tensor], real: Features, fake: Features,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP: ``E[(‖∇D(x̂)‖ − 1)²]`` at ``x̂ = α·real + (1 − α)·fake``, α ~ U(0, 1) per example
    (the same α for every part of a tuple). Zero for a critic whose gradient has unit norm
    everywhere (a 1-Lipschitz linear map)."""
    reals, fakes = _parts(real), _parts(fake)
    if len(reals) != len(fakes) or any(r.shape != f.shape for r, f in zip(reals, fakes)):
        raise ValueError(f"real {[tuple(r.shape) for r in reals]} and fake "
                         f"{[tuple(f.shape) for f in fakes]} differ in shape")
    alpha = torch.rand(reals[0].shape[0], generator=generator).to(reals[0])
    mixed = tuple(torch.lerp(f.detach(), r.detach(), alpha.view((-1,) + (1,) * (r.ndim - 1)))
                  for r, f in zip(reals, fakes))
    return (_input_gradient(score, _like(real, mixed)).norm(dim=1) - 1.0).pow(2).mean()


def r1_penalty(score: Callable[[Features], Tensor], real: Features) -> Tensor:
    """R1: ``E[‖∇D(x)‖²]`` on real examples (multiply by γ/2)."""
    return _input_gradient(score, real).pow(2).sum(dim=1).mean()
