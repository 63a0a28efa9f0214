"""A dictionary of spectral templates the decoder chooses from by its code.

Why: under the quick budget a decoder that maps a code straight to 513 log-magnitudes per frame
learns each class's average spectrum and too little of how one clip differs from another (pitch,
noise band): see baselines/vae/README.md. Here each class owns ``count`` log-magnitude
spectrograms, initialised by k-means over the training split's own STFTs at the start of fit (the
codebook initialisation of SoundStream, Zeghidour et al. 2021), trained with the rest or kept; the
code picks one per clip (straight-through, so exactly one sounds and the soft choice carries the
gradient) and the decoder's head adds its own log-magnitudes on top. A cross-entropy term teaches
the code to pick the template nearest to the clip, so the choice is learnt as a classification
rather than found through the spectral loss alone.

Two more things matter for what a sampler hears (measured in baselines/vae/README.md):

* **Sharpness.** A template is the mean of its cluster, so the fewer clips per cluster, the less it
  blurs (pitch, decay) — 64 per class rather than 16 is what the quick configurations use. With
  ``learn=False`` the bank stays the k-means means (a parameter without gradient), so a large bank
  costs no optimiser time (the quick VAE trains 1.4 M parameters instead of 22 M). Sharpness has
  a floor: a row gets at most one distinct template per ``min_clips`` training clips, so that on a
  small data set (Hydrogen: about 35 clips per class) a template stays an average of several
  clips rather than one training clip replayed.
* **Calibration.** The selector is taught on posterior codes; codes drawn from the prior fall into
  its regions in other proportions (measured: without it the quick VAE's FAD aisfx is 29.4, not 20.8).
  :meth:`calibrate` fits a per-class bias on the selector's logits so that prior codes choose each
  template as often as the training clips are nearest to it.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class SpectralTemplates(nn.Module):
    """``rows`` groups (one per class, the last for "no class") of ``count`` templates of shape
    ``(bins, frames)``, and a linear selector from the decoder's input (code + class embedding)."""

    def __init__(self, rows: int, count: int, bins: int, frames: int, cond_dim: int,
                 hard: bool = True, learn: bool = True, min_clips: int = 1) -> None:
        super().__init__()
        if count < 1:
            raise ValueError(f"templates must be a positive integer (or 0 for none), got {count}")
        if min_clips < 1:
            raise ValueError(f"template_min_clips must be a positive integer, got {min_clips}")
        self.rows, self.count, self.hard, self.min_clips = rows, count, hard, int(min_clips)
        self.bank = nn.Parameter(torch.zeros(rows, count, bins, frames), requires_grad=learn)
        self.select = nn.Linear(cond_dim, count)
        # per row: which templates are distinct clusters (the rest repeat them and are never
        # chosen), how often training clips are nearest to each (set with the k-means), and the
        # selector's logit offsets that make prior codes choose at those rates
        self.register_buffer("active", torch.ones(rows, count, dtype=torch.bool))
        self.register_buffer("frequency", torch.full((rows, count), 1.0 / count))
        self.register_buffer("prior_bias", torch.zeros(rows, count))

    def _masked(self, scores: Tensor, rows: Tensor) -> Tensor:
        return scores.masked_fill(~self.active[rows], float("-inf"))

    def logits(self, cond: Tensor, rows: Tensor) -> Tensor:
        """The selector's scores of each template of the clip's row, calibration included."""
        return self._masked(self.select(cond) + self.prior_bias[rows], rows)

    def weights(self, cond: Tensor, rows: Tensor) -> Tensor:
        """Per clip, the weight of each template of its row: one-hot forward when ``hard``."""
        soft = torch.softmax(self.logits(cond, rows), dim=1)
        if not self.hard:
            return soft
        return F.one_hot(soft.argmax(1), self.count).to(soft.dtype) + soft - soft.detach()

    def forward(self, cond: Tensor, rows: Tensor) -> Tensor:
        """``(B, cond_dim)``, ``(B,)`` row per clip → ``(B, bins, frames)`` log-magnitude envelope."""
        w = self.weights(cond, rows)
        flat = self._by_row(rows, lambda r, i: w[i] @ self.bank[r].flatten(1))
        return flat.view(-1, *self.bank.shape[2:])

    def _by_row(self, rows: Tensor, fn: Callable[[int, Tensor], Tensor]) -> Tensor:
        """``fn(row, index)`` for each row present, reassembled in batch order: each clip meets
        only its own row's templates (a product with all rows' costs ``rows`` times as much)."""
        index = [torch.nonzero(rows == r).flatten() for r in torch.unique(rows).tolist()]
        parts = [fn(int(rows[i[0]]), i) for i in index]
        return torch.cat(parts)[torch.argsort(torch.cat(index))]

    @torch.no_grad()
    def nearest(self, log_mag: Tensor, rows: Tensor) -> Tensor:
        """Index of the (distinct) template of each clip's row closest (L2) to its log-magnitude
        ``(B, bins, frames)``."""
        x = log_mag.flatten(1)

        def closest(r: int, i: Tensor) -> Tensor:
            # ‖t − x‖² = ‖t‖² − 2 t·x + ‖x‖², the last term alike for all templates
            bank = self.bank[r].flatten(1)
            dist = bank.pow(2).sum(1) - 2 * x[i] @ bank.T
            return dist.masked_fill(~self.active[r], float("inf")).argmin(1)
        return self._by_row(rows, closest)

    def assignment_loss(self, cond: Tensor, rows: Tensor, log_mag: Tensor) -> Tensor:
        """Cross-entropy of the (uncalibrated) selector against the template nearest to each clip."""
        return F.cross_entropy(self._masked(self.select(cond), rows), self.nearest(log_mag, rows))

    @torch.no_grad()
    def calibrate(self, cond: Tensor, rows: Tensor, iterations: int = 400) -> dict[int, float]:
        """Fit ``prior_bias`` so that the codes ``cond`` (prior draws, many per row) choose each
        template of their row at the rate of ``frequency``.

        Multiplicative weights on the argmax rates (step 0.3, decaying by 1% an iteration); the
        bias with the smallest total-variation distance is kept. Rows without codes keep their
        bias. Returns that distance per calibrated row.
        """
        raw = self.select(cond)
        misfit: dict[int, float] = {}
        for r in torch.unique(rows).tolist():
            act = self.active[r]
            logits, target = raw[rows == r][:, act], self.frequency[r, act]
            bias = torch.zeros(len(target), device=raw.device)
            best, best_bias = float("inf"), bias.clone()
            for it in range(iterations):
                rate = torch.bincount((logits + bias).argmax(1), minlength=len(target)).to(target)
                rate = (rate + 0.5) / (rate.sum() + 0.5 * len(target))
                tv = 0.5 * float((rate - target).abs().sum())
                if tv < best:
                    best, best_bias = tv, bias.clone()
                bias += 0.3 * 0.99 ** it * (target.log() - rate.log())
            self.prior_bias[r, act] = best_bias
            misfit[int(r)] = best
        return misfit

    @torch.no_grad()
    def fit_kmeans(self, log_mags: Tensor, labels: Tensor, per_row: int = 512, seed: int = 0) -> None:
        """Set every row's templates to k-means centroids of its clips' log-magnitudes.

        Row ``r < rows − 1`` takes the clips labelled ``r``, the last row ("no class") all clips;
        at most ``per_row`` of them, drawn with ``seed``. Clustering runs on 16 principal
        components; each template is the mean log-magnitude of its cluster's clips. A row has at
        most one cluster per ``min_clips`` clips (and at least one); with fewer clusters than
        templates they repeat, and the repeats are marked inactive. A class without clips gets
        the "no class" row's templates, with a warning that names it. Each row's ``frequency``
        (the share of its clips nearest to each template) is set with it, and the calibration
        is reset.
        """
        g = torch.Generator().manual_seed(seed)
        self.prior_bias.zero_()
        everything = torch.arange(len(labels))
        self._set_row(-1, log_mags, everything, per_row, g, seed)
        for r in range(self.rows - 1):
            idx = torch.nonzero(labels == r).flatten()
            if len(idx) == 0:
                warnings.warn(f"no training clip of class {r}: its spectral templates start as "
                              "those of all classes", stacklevel=2)
                for table in (self.bank, self.active, self.frequency):
                    table[r] = table[-1]
            else:
                self._set_row(r, log_mags, idx, per_row, g, seed)

    def _set_row(self, row: int, log_mags: Tensor, idx: Tensor, per_row: int,
                 g: torch.Generator, seed: int) -> None:
        """Row ``row``'s templates from clips ``idx``, and its share of those clips nearest to
        each template (add-½ smoothed over the distinct ones)."""
        centroids = self._centroids(log_mags, idx, per_row, g, seed)
        k = len(centroids)
        repeated = centroids[torch.arange(self.count) % k]
        self.bank[row] = repeated.view_as(self.bank[0]).to(self.bank.device)
        self.active[row] = torch.arange(self.count, device=self.active.device) < k
        rows = torch.full((len(idx),), row % self.rows, dtype=torch.long, device=self.bank.device)
        nearest = self.nearest(log_mags[idx].to(rows.device), rows)
        counts = torch.bincount(nearest.cpu(), minlength=self.count).to(self.frequency) + 0.5
        counts[k:] = 0.0
        self.frequency[row] = counts / counts.sum()

    def _centroids(self, log_mags: Tensor, idx: Tensor, per_row: int, g: torch.Generator,
                   seed: int) -> Tensor:
        """k-means centroids ``(k, bins · frames)`` of at most ``per_row`` of clips ``idx``;
        ``k`` = templates, or one per ``min_clips`` clips where there are fewer."""
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA

        if len(idx) == 0:
            raise ValueError("no training clips to initialise the spectral templates from")
        idx = idx[torch.randperm(len(idx), generator=g)[:per_row]]
        clips = log_mags[idx].flatten(1)
        k = min(self.count, max(1, len(idx) // self.min_clips))
        if k > 1:
            feats = PCA(n_components=min(16, len(idx)), random_state=seed).fit_transform(clips.numpy())
            assign = torch.from_numpy(KMeans(k, n_init=3, random_state=seed).fit_predict(feats))
        else:
            assign = torch.zeros(len(idx), dtype=torch.long)
        # k-means may leave a cluster empty on repeated clips: keep the ones it filled
        return torch.stack([clips[assign == j].mean(0) for j in torch.unique(assign).tolist()])
