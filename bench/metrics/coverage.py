"""Fidelity and diversity from k-nearest-neighbour balls in an embedding space.

Precision and recall follow Kynkäänniemi et al. 2019 ("Improved Precision and Recall Metric for
Assessing Generative Models"); density and coverage follow Naeem et al. 2020 ("Reliable Fidelity
and Diversity Metrics for Generative Models"). Each real (resp. fake) clip owns a ball whose
radius is the distance to its k-th nearest other real (resp. fake) clip:

- precision: share of fake clips inside at least one real ball;
- recall: share of real clips inside at least one fake ball;
- density: real balls containing each fake clip, averaged and divided by k (≈ 1 when the sets
  match; above 1 when fakes crowd dense real regions);
- coverage: share of real balls that contain at least one fake clip.

"Inside" is a strict ``<``, as in the authors' reference code: a clip's own ball then holds
exactly itself and its k − 1 nearer neighbours, so identical sets give density exactly 1.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors

from bench.metrics.distances import EmbeddingError, check_embeddings


def _kth_neighbour_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest *other* row of the same set.

    Computed with the same ``cdist`` as the real-to-fake distances, so a clip compared with a
    copy of its own k-th neighbour gets bit-identical distances and the strict ``<`` is exact
    (a k-d tree's distances differ in the last bit, which puts the neighbour inside its ball).
    """
    within = cdist(x, x)
    return np.partition(within, k, axis=1)[:, k]      # column 0 is the point itself


def prdc(real_emb, fake_emb, *, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of the fake set against the real set."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    real = check_embeddings(real_emb, name="real", min_rows=2)
    fake = check_embeddings(fake_emb, name="fake", min_rows=2, dim=real.shape[1])
    for name, x in (("real", real), ("fake", fake)):
        if k >= x.shape[0]:
            raise EmbeddingError(
                f"{name}: {x.shape[0]} clips, too few for k={k} nearest neighbours "
                f"(need more than k clips; lower k or add clips)")

    real_radii = _kth_neighbour_radii(real, k)
    fake_radii = _kth_neighbour_radii(fake, k)
    real_fake = cdist(real, fake)                          # (n_real, n_fake)
    in_real_ball = real_fake < real_radii[:, None]         # fake j inside real ball i
    in_fake_ball = real_fake < fake_radii[None, :]         # real i inside fake ball j
    return {
        "precision": float(in_real_ball.any(axis=0).mean()),
        "recall": float(in_fake_ball.any(axis=1).mean()),
        "density": float(in_real_ball.sum(axis=0).mean() / k),
        "coverage": float(in_real_ball.any(axis=1).mean()),
    }


def nearest_neighbour_distances(query, reference) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row (for memorisation)."""
    ref = check_embeddings(reference, name="reference", min_rows=1)
    q = check_embeddings(query, name="query", min_rows=1, dim=ref.shape[1])
    distances, _ = NearestNeighbors(n_neighbors=1).fit(ref).kneighbors(q)
    return distances[:, 0]
