"""Memorisation: are generated clips closer to the training set than new real clips are?"""
from __future__ import annotations

import numpy as np

from bench.api.metric import Metric, MetricValue, ScoreContext
from bench.metrics.coverage import nearest_neighbour_distances
from bench.metrics.fad import reference_hash


class Memorization(Metric):
    version = "1"
    higher_is_better = True

    def __init__(self, embedder: str) -> None:
        self.embedder = embedder
        self.name = f"memorization_{embedder}"
        self.title = f"Memorisation ratio ({embedder})"
        self.definition = ("Median nearest-neighbour distance from generated clips to the training set "
                           "divided by that from real test clips to the training set: ≈ 1 is healthy, "
                           "≪ 1 means copying (the `real` row returns training clips, so ≈ 0).")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        train = ctx.embed(self.embedder, ctx.real_train)
        gen = nearest_neighbour_distances(ctx.embed(self.embedder, ctx.generated), train)
        test = nearest_neighbour_distances(ctx.embed(self.embedder, ctx.real_test), train)
        baseline = float(np.median(test))
        if baseline <= 0:
            raise ValueError("real test clips coincide with training clips (median distance 0): "
                             "the split leaks, memorisation cannot be judged")
        copies = float((gen < np.quantile(test, 0.05)).mean())
        return MetricValue(float(np.median(gen)) / baseline, None, len(gen),
                           {"median_generated_to_train": float(np.median(gen)),
                            "median_test_to_train": baseline, "fraction_copies": copies},
                           reference_hash(train))
