"""Precision, recall, density and coverage of generated clips in an embedding space.

One k-NN computation serves all four metrics of a context (they are listed together by the
``prdc:E`` spec).
"""
from __future__ import annotations

from bench.api.metric import Metric, MetricFamily, MetricValue, ScoreContext
from bench.metrics.coverage import prdc
from bench.metrics.fad import embed_pair, reference_hash

def _prdc(ctx: ScoreContext, embedder: str, k: int) -> tuple[dict, str, int]:
    def compute() -> tuple[dict, str, int]:
        ev, ref = embed_pair(ctx, embedder)
        return prdc(ref, ev, k=k), reference_hash(ref), len(ev)
    return ctx.once(("prdc", embedder, k), compute)


class _PRDC(Metric):
    takes_embedder = True
    version = "1"
    higher_is_better = True
    key = ""
    text = ""

    def __init__(self, embedder: str, k: int = 5) -> None:
        self.embedder, self.k = embedder, k
        self.name = f"{self.key}_{embedder}"
        self.title = f"{self.key.capitalize()} ({embedder})"
        self.definition = f"{self.text} k-NN balls with k={k} in {embedder} space."

    def compute(self, ctx: ScoreContext) -> MetricValue:
        values, ref_hash, n = _prdc(ctx, self.embedder, self.k)
        return MetricValue(values[self.key], None, n, {"k": self.k, **values}, ref_hash)


class Precision(_PRDC):
    key = "precision"
    text = "Fraction of generated clips inside the real test manifold (Kynkäänniemi et al. 2019);"


class Recall(_PRDC):
    key = "recall"
    text = "Fraction of real test clips inside the generated manifold (Kynkäänniemi et al. 2019);"


class Density(_PRDC):
    key = "density"
    text = "Mean count of real k-NN balls holding each generated clip, / k (Naeem et al. 2020);"


class Coverage(_PRDC):
    key = "coverage"
    text = "Fraction of real test clips whose k-NN ball holds a generated clip (Naeem et al. 2020);"


#: ``prdc:<embedder>``: the four rows of one k-NN computation
PRDC = MetricFamily((Precision, Recall, Density, Coverage), takes_embedder=True)
