"""FAD and FAD∞ on any embedder, against the protocol's real test split.

Per-class FAD is computed the DCASE 2023 task 7 way (generated clips of class c against real test
clips of class c) and reported in the details; classes too small for the embedder's dimension
get the reason instead of a number.
"""
from __future__ import annotations

import hashlib

import numpy as np

from bench.api.metric import Metric, MetricSkipped, MetricValue, ScoreContext
from bench.metrics import distances


def reference_hash(ref: np.ndarray) -> str:
    """Short hash of the reference embeddings: rows from different references never compare."""
    return hashlib.sha256(np.ascontiguousarray(ref, dtype=np.float64).tobytes()).hexdigest()[:16]


def embed_pair(ctx: ScoreContext, embedder: str) -> tuple[np.ndarray, np.ndarray]:
    return ctx.embed(embedder, ctx.generated), ctx.embed(embedder, ctx.real_test)


def rng_for(ctx: ScoreContext, salt: str) -> np.random.Generator:
    return np.random.default_rng([ctx.seed, int(hashlib.sha256(salt.encode()).hexdigest()[:8], 16)])


def fad_inf_for(ctx: ScoreContext, embedder: str, ev: np.ndarray, ref: np.ndarray,
                n_points: int = 15) -> dict:
    """FAD∞ with one random stream per embedder, so the FAD row's detail and the FAD∞ metric
    draw the same subsets and report the same number — computed once per context and reused."""
    return ctx.once(("fad_inf", embedder, n_points), lambda: distances.fad_inf(
        ev, ref, n_points=n_points, rng=rng_for(ctx, f"fad_inf/{embedder}")))


def per_class_by_name(ctx: ScoreContext, stat, ev: np.ndarray, ref: np.ndarray) -> dict[str, float | str]:
    """Per-class values keyed by class name; unconditional samples have no class to compare."""
    if (ctx.generated_labels < 0).all():
        return {}
    values = distances.per_class(stat, ev, ctx.generated_labels, ref, ctx.real_test_labels)
    return {(ctx.classes[c] if 0 <= c < len(ctx.classes) else str(c)): v for c, v in values.items()}


def per_class_note(ctx: ScoreContext) -> dict[str, str]:
    """``{"per_class_note": why}`` when per-class scores are left out, else ``{}``."""
    if (ctx.generated_labels < 0).all():
        return {"per_class_note": "unconditional baseline: generated clips have no requested "
                                  "class, so there are no per-class scores"}
    return {}


def require_more_clips_than_dims(ev: np.ndarray, ref: np.ndarray, embedder: str) -> None:
    """Skip (with the numbers) when a set is too small for a non-singular covariance.

    A dataset whose test split has no more clips than the embedder has dimensions (the Hydrogen
    kits: 126 test clips against aisfx's 512) cannot have a Fréchet distance in that space; that is
    a property of the data, not a failure, and KAD, which has no such need, still scores it.
    """
    dim = int(ref.shape[1]) if ref.ndim == 2 else 0
    for what, x in (("real test clips", ref), ("generated clips", ev)):
        if x.ndim == 2 and 0 < len(x) <= dim:
            raise MetricSkipped(f"{len(x)} {what} but {embedder} embeddings have {dim} dims: a "
                                f"Fréchet distance needs at least {dim + 1} clips per set; use KAD "
                                f"({embedder}) or a lower-dimensional embedder for this dataset")


class FAD(Metric):
    takes_embedder = True
    version = "2"
    higher_is_better = False
    title = "FAD"

    def __init__(self, embedder: str, n_boot: int | None = None) -> None:
        self.embedder = embedder
        self.name = f"fad_{embedder}"
        self.title = f"FAD ({embedder})"
        self.n_boot = n_boot
        self.definition = (f"Fréchet distance between Gaussians fitted to {embedder} embeddings of "
                           "generated clips and of real test clips (Kilgour et al. 2019); float64, "
                           "eigenvalue square roots; 95% CI by bootstrap over generated clips.")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        ev, ref = embed_pair(ctx, self.embedder)
        require_more_clips_than_dims(ev, ref, self.embedder)
        value = distances.fad(ev, ref)
        n_boot = self.n_boot or int(ctx.protocol.bootstrap)
        ci = distances.bootstrap_ci(distances.fad, ev, ref, n_boot=n_boot, rng=rng_for(ctx, self.name))
        details = {"n_eval": len(ev), "n_ref": len(ref), "dim": int(ev.shape[1]),
                   "log_fad": float(np.log(max(value, 1e-12))),
                   "per_class": per_class_by_name(ctx, distances.fad, ev, ref),
                   **per_class_note(ctx)}
        try:
            details["fad_inf"] = fad_inf_for(ctx, self.embedder, ev, ref)
        except distances.EmbeddingError as err:
            details["fad_inf"] = f"not computed: {err}"
        return MetricValue(value, ci, len(ev), details, reference_hash(ref))


class FADInf(Metric):
    takes_embedder = True
    version = "2"
    higher_is_better = False

    def __init__(self, embedder: str, n_points: int = 15) -> None:
        self.embedder = embedder
        self.name = f"fadinf_{embedder}"
        self.title = f"FAD∞ ({embedder})"
        self.n_points = n_points
        self.definition = ("FAD extrapolated to infinitely many generated clips: FAD on subsets of "
                           "sizes evenly spaced in 1/n, fitted as a + b/n; the value is a, with the "
                           "fit's R² in the details (Gui et al. 2024).")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        ev, ref = embed_pair(ctx, self.embedder)
        require_more_clips_than_dims(ev, ref, self.embedder)
        fit = fad_inf_for(ctx, self.embedder, ev, ref, self.n_points)
        return MetricValue(fit["value"], None, len(ev), {k: fit[k] for k in ("slope", "r2", "n", "fad")},
                           reference_hash(ref))
