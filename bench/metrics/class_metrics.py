"""Scores from the protocol's reference classifier: class accuracy, IS, KID and class KL.

The judge is :func:`bench.metrics.classifier.get_reference_classifier` — trained on the real
training split only, shared by every run of a (protocol, dataset) — so every row is graded by the
same model; its own real-test accuracy is reported as the ceiling.
"""
from __future__ import annotations

import numpy as np

from bench.api.metric import Metric, MetricValue, ScoreContext
from bench.metrics.classifier import get_reference_classifier
from bench.metrics.fad import reference_hash, rng_for


def _bootstrap(values_fn, n: int, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    stats = [values_fn(rng.integers(0, n, n)) for _ in range(n_boot)]
    lo, hi = np.quantile(stats, [0.025, 0.975])
    return float(lo), float(hi)


class ClassAccuracy(Metric):
    name = "class_accuracy"
    version = "1"
    higher_is_better = True
    needs = frozenset({"conditional"})
    title = "Class accuracy"
    definition = ("Fraction of generated clips the reference classifier assigns to the class they "
                  "were requested for (chance = 1 / classes).")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        clf = get_reference_classifier(ctx)
        want = ctx.generated_labels
        if (want < 0).any():
            raise ValueError("class accuracy needs every generated clip to carry its requested class")
        got = clf.predict_proba(ctx.generated).argmax(axis=1)
        correct = (got == want).astype(np.float64)
        k = len(ctx.classes)
        confusion = np.zeros((k, k), dtype=int)
        np.add.at(confusion, (want, got), 1)
        per_class = {ctx.classes[c]: float(correct[want == c].mean())
                     for c in range(k) if (want == c).any()}
        ci = _bootstrap(lambda i: correct[i].mean(), len(correct), int(ctx.protocol.bootstrap),
                        rng_for(ctx, self.name))
        details = {"confusion": confusion.tolist(), "classes": list(ctx.classes),
                   "per_class": per_class, "chance": 1.0 / k, **clf.describe()}
        return MetricValue(float(correct.mean()), ci, len(correct), details)


class InceptionScore(Metric):
    name = "inception_score"
    version = "1"
    higher_is_better = True
    title = "Inception score"
    definition = ("exp E_x[KL(p(y|x) || p(y))] under the reference classifier: high when clips are "
                  "confidently classified and the classes are spread (Salimans et al. 2016).")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        clf = get_reference_classifier(ctx)
        p = np.clip(clf.predict_proba(ctx.generated).astype(np.float64), 1e-12, 1.0)

        def score(i: np.ndarray) -> float:
            q = p[i]
            marginal = q.mean(axis=0, keepdims=True)
            return float(np.exp(np.mean(np.sum(q * (np.log(q) - np.log(marginal)), axis=1))))
        everything = np.arange(len(p))
        ci = _bootstrap(score, len(p), int(ctx.protocol.bootstrap), rng_for(ctx, self.name))
        return MetricValue(score(everything), ci, len(p), {"max": len(ctx.classes), **clf.describe()})


def _polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with k(a, b) = (a·b / d + 1)³ (Bińkowski et al. 2018)."""
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


class KID(Metric):
    name = "kid_classifier"
    version = "1"
    higher_is_better = False
    embedder = "classifier"
    title = "KID (classifier)"
    definition = ("Kernel Inception Distance: unbiased polynomial-kernel MMD² between reference-"
                  "classifier features of generated and real test clips, averaged over subsets.")

    def __init__(self, subsets: int = 50, subset_size: int = 200) -> None:
        self.subsets, self.subset_size = subsets, subset_size

    def compute(self, ctx: ScoreContext) -> MetricValue:
        ev = ctx.embed("classifier", ctx.generated)
        ref = ctx.embed("classifier", ctx.real_test)
        size = min(self.subset_size, len(ev), len(ref))
        if size < 2:
            raise ValueError(f"KID needs at least 2 clips per set, got {len(ev)} and {len(ref)}")
        rng = rng_for(ctx, self.name)
        values = np.array([_polynomial_mmd2(ev[rng.choice(len(ev), size, replace=False)],
                                            ref[rng.choice(len(ref), size, replace=False)])
                           for _ in range(self.subsets)])
        lo, hi = np.quantile(values, [0.025, 0.975])
        return MetricValue(float(values.mean()), (float(lo), float(hi)), len(ev),
                           {"subset_size": size, "subsets": self.subsets, "std": float(values.std())},
                           reference_hash(ref))


class ClassKL(Metric):
    name = "class_kl"
    version = "1"
    higher_is_better = False
    title = "Class KL"
    definition = ("KL(real test class frequencies || class frequencies the reference classifier "
                  "predicts for generated clips), add-0.5 smoothed: 0 when the class balance matches.")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        clf = get_reference_classifier(ctx)
        k = len(ctx.classes)
        got = clf.predict_proba(ctx.generated).argmax(axis=1)
        real = np.bincount(ctx.real_test_labels, minlength=k) + 0.5
        pred = np.bincount(got, minlength=k) + 0.5
        p, q = real / real.sum(), pred / pred.sum()
        value = float(np.sum(p * np.log(p / q)))
        details = {"real_frequencies": dict(zip(ctx.classes, (p.round(4)).tolist())),
                   "predicted_frequencies": dict(zip(ctx.classes, (q.round(4)).tolist())),
                   **clf.describe()}
        return MetricValue(value, None, len(got), details)
