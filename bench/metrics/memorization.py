"""Memorisation: are generated clips closer to the training set than new real clips are?"""
from __future__ import annotations

import numpy as np

from bench.api.metric import Metric, MetricValue, ScoreContext
from bench.metrics.coverage import nearest_neighbour_distances
from bench.metrics.fad import reference_hash


class Memorization(Metric):
    takes_embedder = True
    version = "2"
    higher_is_better = False

    def __init__(self, embedder: str) -> None:
        self.embedder = embedder
        self.name = f"memorization_{embedder}"
        self.title = f"Memorisation ({embedder})"
        self.definition = ("Fraction of generated clips nearer to a training clip than 95% of real test "
                           "clips are (0 = no copying; the `real` row returns training clips, so ≈ 1); "
                           "the ratio of median nearest-neighbour distances is in the details.")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        train = ctx.embed(self.embedder, ctx.real_train)
        gen = nearest_neighbour_distances(ctx.embed(self.embedder, ctx.generated), train)
        test = nearest_neighbour_distances(ctx.embed(self.embedder, ctx.real_test), train)
        baseline = float(np.median(test))
        # Brute-force k-NN computes |a|² + |b|² − 2a·b: identical rows come out ~1e-8 × |a|, not 0.
        rounding = 1e-6 * float(np.median(np.linalg.norm(train, axis=1)))
        if baseline <= rounding:
            raise ValueError("real test clips coincide with training clips (median distance 0): "
                             "the split leaks, memorisation cannot be judged")
        copies = float((gen < np.quantile(test, 0.05)).mean())
        return MetricValue(copies, None, len(gen),
                           {"median_generated_to_train": float(np.median(gen)),
                            "median_test_to_train": baseline,
                            "distance_ratio": float(np.median(gen)) / baseline},
                           reference_hash(train))
