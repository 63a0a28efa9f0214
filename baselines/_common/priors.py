"""Latent priors: the standard Gaussian and a Gaussian mixture with one component per class
(the AAE-GM prior of Tomczak, Goto & Hockman 2020; Makhzani et al. 2015, §2.3).

Both draw their noise on the CPU with the caller's ``torch.Generator`` and move it afterwards, so a
seed gives the same codes on any device.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

PRIORS = ("gaussian", "class_mixture")


class GaussianPrior(nn.Module):
    """``N(0, I)``; ignores the class."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def means(self, labels: Tensor) -> Tensor:
        return torch.zeros(labels.shape[0], self.latent_dim, device=labels.device)

    def sample(self, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(labels.shape[0], self.latent_dim, generator=generator)
        return noise.to(labels.device) + self.means(labels)


class ClassMixturePrior(GaussianPrior):
    """One isotropic Gaussian per class, ``N(μ_c, σ² I)``.

    The means are ``radius`` × random orthonormal directions (random unit vectors when there are
    more classes than dimensions) drawn from a fixed seed — independent of the run's seed, so every
    run of a protocol shares the prior — and kept as a buffer in checkpoints. Orthogonal means sit
    ``radius·√2`` apart, while each component has spread ``std`` along the line joining two.
    """

    def __init__(self, latent_dim: int, num_classes: int, radius: float = 4.0, std: float = 1.0,
                 seed: int = 0) -> None:
        super().__init__(latent_dim)
        if num_classes < 1:
            raise ValueError(f"a class-mixture prior needs at least one class, got {num_classes}")
        gaussian = torch.randn(latent_dim, num_classes, generator=torch.Generator().manual_seed(seed))
        if num_classes <= latent_dim:
            directions = torch.linalg.qr(gaussian).Q.T  # (num_classes, latent_dim), orthonormal rows
        else:
            directions = (gaussian / gaussian.norm(dim=0, keepdim=True)).T
        self.register_buffer("centres", radius * directions)
        self.std = float(std)

    def means(self, labels: Tensor) -> Tensor:
        return self.centres[labels.to(self.centres.device)].to(labels.device)

    def sample(self, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(labels.shape[0], self.latent_dim, generator=generator)
        return self.std * noise.to(labels.device) + self.means(labels)


def make_prior(name: str, latent_dim: int, num_classes: int, **options: float) -> GaussianPrior:
    if name == "gaussian":
        return GaussianPrior(latent_dim)
    if name == "class_mixture":
        return ClassMixturePrior(latent_dim, num_classes, **options)
    raise ValueError(f"unknown prior {name!r}; choose one of {PRIORS}")
