"""The sampling prior of ``ddsp``: a Gaussian mixture per class, fitted to the training clips'
latent codes after (and during) training.

The autoencoder is trained on reconstruction alone (plus a light KL that keeps codes near the
origin), so nothing makes N(0, I) the distribution its codes actually follow. Fitting a density to
the training codes afterwards is the two-stage recipe of Ghosh et al. 2020 ("From variational to
deterministic autoencoders", ex-post density estimation). It is a density over codes, not a
retrieval of training clips: a draw is a new point, decoded by the synthesiser.

Row ``c`` holds class ``c``'s mixture; the last row ("no class") is fitted on every clip. Mixtures
are fitted by scikit-learn (full covariances) and stored as buffers (weights, means, Cholesky
factors), so they travel in checkpoints and sample on any device. Before any fit every row is
N(0, I).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor, nn


class ClassDensity(nn.Module):
    def __init__(self, num_classes: int, latent_dim: int, components: int = 4,
                 min_clips_per_component: int = 10, reg_covar: float = 1e-3) -> None:
        super().__init__()
        if components < 1 or min_clips_per_component < 1 or reg_covar <= 0:
            raise ValueError(f"ClassDensity needs components ≥ 1, min_clips_per_component ≥ 1 and "
                             f"reg_covar > 0; got {components}, {min_clips_per_component}, {reg_covar}")
        self.num_classes, self.latent_dim, self.components = num_classes, latent_dim, components
        self.min_clips, self.reg_covar = int(min_clips_per_component), float(reg_covar)
        rows = num_classes + 1
        weights = torch.zeros(rows, components)
        weights[:, 0] = 1.0
        self.register_buffer("weights", weights)
        self.register_buffer("means", torch.zeros(rows, components, latent_dim))
        self.register_buffer("chol", torch.eye(latent_dim).expand(rows, components, -1, -1).clone())

    @torch.no_grad()
    def fit(self, codes: Tensor, labels: Tensor, seed: int = 0) -> dict[str, int]:
        """Fit every row to ``codes`` ``(N, latent_dim)`` of classes ``labels`` ``(N,)``.

        A row gets at most one component per ``min_clips_per_component`` clips (at least one).
        A class without clips takes the "no class" row's mixture, with a warning naming it.
        Returns the number of components per row."""
        from sklearn.mixture import GaussianMixture

        codes_np = codes.detach().double().cpu().numpy()
        labels_np = labels.detach().cpu().numpy()
        if codes_np.ndim != 2 or codes_np.shape[1] != self.latent_dim or len(codes_np) != len(labels_np):
            raise ValueError(f"ClassDensity.fit wants codes (N, {self.latent_dim}) and N labels, got "
                             f"{tuple(codes.shape)} and {tuple(labels.shape)}")
        if not np.isfinite(codes_np).all():
            raise ValueError("ClassDensity.fit: the latent codes contain NaN or inf")
        used: dict[str, int] = {}

        def fit_row(row: int, x: np.ndarray, name: str) -> None:
            k = min(self.components, max(1, len(x) // self.min_clips))
            if len(x) < 2:  # one clip: a unit Gaussian around it
                means, covs, weights = x[:1], np.eye(self.latent_dim)[None], np.ones(1)
            else:
                gmm = GaussianMixture(k, covariance_type="full", reg_covar=self.reg_covar,
                                      n_init=1, random_state=seed).fit(x)
                means, covs, weights = gmm.means_, gmm.covariances_, gmm.weights_
            self.weights[row].zero_()
            self.weights[row, :len(weights)] = torch.as_tensor(weights, dtype=torch.float32)
            self.means[row].zero_()
            self.means[row, :len(means)] = torch.as_tensor(means, dtype=torch.float32)
            chol = torch.linalg.cholesky(torch.as_tensor(covs, dtype=torch.float64)).float()
            self.chol[row] = torch.eye(self.latent_dim)
            self.chol[row, :len(chol)] = chol
            used[name] = len(weights)

        fit_row(self.num_classes, codes_np, "all")
        for c in range(self.num_classes):
            x = codes_np[labels_np == c]
            if len(x) == 0:
                warnings.warn(f"ClassDensity: no training clip of class {c}; it samples from the "
                              "mixture of all classes", stacklevel=2)
                for table in (self.weights, self.means, self.chol):
                    table[c] = table[self.num_classes]
                used[str(c)] = used["all"]
            else:
                fit_row(c, x, str(c))
        return used

    def rows(self, labels: Tensor | None, n: int) -> Tensor:
        if labels is None:
            return torch.full((n,), self.num_classes, dtype=torch.long)
        labels = labels.detach().cpu().long().flatten()
        if labels.shape[0] != n or bool((labels >= self.num_classes).any()) or bool((labels < -1).any()):
            raise ValueError(f"ClassDensity: want {n} labels in [0, {self.num_classes}) or -1, "
                             f"got {labels.tolist()}")
        return torch.where(labels < 0, self.num_classes, labels)

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """``(n, latent_dim)`` codes on this module's device; noise drawn on the CPU with
        ``generator`` so a seed gives the same codes on any device."""
        rows = self.rows(labels, n)
        weights, means, chol = self.weights.cpu(), self.means.cpu(), self.chol.cpu()
        comp = torch.multinomial(weights[rows], 1, generator=generator).squeeze(1)
        eps = torch.randn(n, self.latent_dim, generator=generator)
        z = means[rows, comp] + (chol[rows, comp] @ eps.unsqueeze(-1)).squeeze(-1)
        return z.to(self.means.device)
