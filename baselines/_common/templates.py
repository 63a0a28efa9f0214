"""A dictionary of spectral templates the decoder chooses from by its code.

Why: under the quick budget a decoder that maps a code straight to 513 log-magnitudes per frame
learns each class's average spectrum and too little of how one clip differs from another (pitch,
noise band): see baselines/vae/README.md. Here each class owns ``count`` log-magnitude
spectrograms, initialised by k-means over the training split's own STFTs at the start of fit (the
codebook initialisation of SoundStream, Zeghidour et al. 2021) and trained with the rest; the
code picks one per clip (straight-through, so exactly one sounds and the soft choice carries the
gradient) and the decoder's head adds its own log-magnitudes on top. A cross-entropy term teaches
the code to pick the template nearest to the clip, so the choice is learnt as a classification
rather than found through the spectral loss alone.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class SpectralTemplates(nn.Module):
    """``rows`` groups (one per class, the last for "no class") of ``count`` templates of shape
    ``(bins, frames)``, and a linear selector from the decoder's input (code + class embedding)."""

    def __init__(self, rows: int, count: int, bins: int, frames: int, cond_dim: int,
                 hard: bool = True) -> None:
        super().__init__()
        if count < 1:
            raise ValueError(f"templates must be a positive integer (or 0 for none), got {count}")
        self.rows, self.count, self.hard = rows, count, hard
        self.bank = nn.Parameter(torch.zeros(rows, count, bins, frames))
        self.select = nn.Linear(cond_dim, count)

    def weights(self, cond: Tensor) -> Tensor:
        """Per clip, the weight of each template of its row: one-hot forward when ``hard``."""
        soft = torch.softmax(self.select(cond), dim=1)
        if not self.hard:
            return soft
        return F.one_hot(soft.argmax(1), self.count).to(soft.dtype) + soft - soft.detach()

    def forward(self, cond: Tensor, rows: Tensor) -> Tensor:
        """``(B, cond_dim)``, ``(B,)`` row per clip → ``(B, bins, frames)`` log-magnitude envelope."""
        mix = F.one_hot(rows, self.rows).to(cond.dtype).unsqueeze(2) * self.weights(cond).unsqueeze(1)
        return torch.einsum("brk,rkft->bft", mix, self.bank)

    @torch.no_grad()
    def nearest(self, log_mag: Tensor, rows: Tensor) -> Tensor:
        """Index of the template of each clip's row closest (L2) to its log-magnitude ``(B, bins, frames)``."""
        bank = self.bank.flatten(2)
        # ‖t − x‖² = ‖t‖² − 2 t·x + ‖x‖²; the last term is the same for every template of a clip
        dist = bank.pow(2).sum(2).unsqueeze(0) - 2 * torch.einsum("bn,rkn->brk", log_mag.flatten(1), bank)
        return dist[torch.arange(rows.shape[0], device=rows.device), rows].argmin(1)

    def assignment_loss(self, cond: Tensor, rows: Tensor, log_mag: Tensor) -> Tensor:
        """Cross-entropy of the selector against the template nearest to each clip."""
        return F.cross_entropy(self.select(cond), self.nearest(log_mag, rows))

    @torch.no_grad()
    def fit_kmeans(self, log_mags: Tensor, labels: Tensor, per_row: int = 512, seed: int = 0) -> None:
        """Set every row's templates to k-means centroids of its clips' log-magnitudes.

        Row ``r < rows − 1`` takes the clips labelled ``r``, the last row ("no class") all clips;
        at most ``per_row`` of them, drawn with ``seed``. Clustering runs on 16 principal
        components; each template is the mean log-magnitude of its cluster's clips. A row with
        fewer clips than templates repeats them; a class without clips gets the "no class" row's
        templates, with a warning that names it.
        """
        g = torch.Generator().manual_seed(seed)
        self.bank[-1] = self._centroids(log_mags, torch.arange(len(labels)), per_row, g, seed)
        for r in range(self.rows - 1):
            idx = torch.nonzero(labels == r).flatten()
            if len(idx) == 0:
                warnings.warn(f"no training clip of class {r}: its spectral templates start as "
                              "those of all classes", stacklevel=2)
                self.bank[r] = self.bank[-1]
            else:
                self.bank[r] = self._centroids(log_mags, idx, per_row, g, seed)

    def _centroids(self, log_mags: Tensor, idx: Tensor, per_row: int, g: torch.Generator,
                   seed: int) -> Tensor:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA

        if len(idx) == 0:
            raise ValueError("no training clips to initialise the spectral templates from")
        idx = idx[torch.randperm(len(idx), generator=g)[:per_row]]
        clips = log_mags[idx].flatten(1)
        k = min(self.count, len(idx))
        if k > 1:
            feats = PCA(n_components=min(16, len(idx)), random_state=seed).fit_transform(clips.numpy())
            assign = torch.from_numpy(KMeans(k, n_init=3, random_state=seed).fit_predict(feats))
        else:
            assign = torch.zeros(len(idx), dtype=torch.long)
        centroids = torch.stack([clips[assign == j].mean(0) for j in range(k)])
        return centroids[torch.arange(self.count) % k].view_as(self.bank[0]).to(self.bank.device)
