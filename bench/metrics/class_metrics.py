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
        per_class = {ctx.classes[c]: float(correct[want == c].mean()) if (want == c).any() else None
                     for c in range(k)}
        ci = _bootstrap(lambda i: correct[i].mean(), len(correct), int(ctx.protocol.bootstrap),
                        rng_for(ctx, self.name))
        details = {"confusion": confusion.tolist(), "classes": list(ctx.classes),
                   "per_class": per_class, "chance": 1.0 / k, **clf.describe()}
        return MetricValue(float(correct.mean()), ci, len(correct), details, clf.key)


class InceptionScore(Metric):
    name = "inception_score"
    version = "1"
    higher_is_better = True
    title = "Inception score"
    definition = ("exp E_x[KL(p(y|x) || p(y))] under the reference classifier: high when clips are "
                  "confidently classified and the classes are spread (Salimans et al. 2016).")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        clf = get_reference_classifier(ctx)
        p = clf.predict_proba(ctx.generated)

        def score(i: np.ndarray) -> float:
            return _inception_score(p[i])
        everything = np.arange(len(p))
        ci = _bootstrap(score, len(p), int(ctx.protocol.bootstrap), rng_for(ctx, self.name))
        details = {"max": len(ctx.classes), "real_test": _inception_score(clf.predict_proba(ctx.real_test)),
                   **clf.describe()}
        return MetricValue(score(everything), ci, len(p), details, clf.key)


def _inception_score(p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0)
    marginal = p.mean(axis=0, keepdims=True)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


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
        # Subsets of subset_size clips (Bińkowski et al.); a smaller set is half-sampled, so the
        # subsets differ and their spread is an interval rather than one repeated value.
        size = min(self.subset_size, len(ev) // 2, len(ref) // 2)
        if size < 2:
            raise ValueError(f"KID needs at least 4 clips per set, got {len(ev)} and {len(ref)}")
        rng = rng_for(ctx, self.name)
        values = np.array([_polynomial_mmd2(ev[rng.choice(len(ev), size, replace=False)],
                                            ref[rng.choice(len(ref), size, replace=False)])
                           for _ in range(self.subsets)])
        lo, hi = np.quantile(values, [0.025, 0.975])
        return MetricValue(float(values.mean()), (float(lo), float(hi)), len(ev),
                           {"subset_size": size, "subsets": self.subsets, "std": float(values.std()),
                            "dim": int(ev.shape[1])},
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
        p = _smoothed_frequencies(ctx.real_test_labels, k)

        def kl(pred_labels: np.ndarray) -> float:
            return float(np.sum(p * np.log(p / _smoothed_frequencies(pred_labels, k))))
        q = _smoothed_frequencies(got, k)
        ci = _bootstrap(lambda i: kl(got[i]), len(got), int(ctx.protocol.bootstrap), rng_for(ctx, self.name))
        # The judge's own error puts a floor under the score: the value real test clips get.
        floor = kl(clf.predict_proba(ctx.real_test).argmax(axis=1))
        details = {"real_frequencies": dict(zip(ctx.classes, (p.round(4)).tolist())),
                   "predicted_frequencies": dict(zip(ctx.classes, (q.round(4)).tolist())),
                   "real_test": floor, **clf.describe()}
        return MetricValue(kl(got), ci, len(got), details, clf.key)


def _smoothed_frequencies(labels: np.ndarray, k: int) -> np.ndarray:
    """Class frequencies with add-0.5 smoothing, so no class has probability 0."""
    counts = np.bincount(labels, minlength=k) + 0.5
    return counts / counts.sum()
