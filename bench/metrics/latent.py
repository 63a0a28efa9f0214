"""Latent-space smoothness metrics for baselines that decode a latent code (capability ``latent``).

Paths run between two latent codes of the same class: the encodings of two real test clips when
the baseline is also an autoencoder (``encode``), otherwise two prior samples from
``sample_latent`` (of the same requested class when the baseline is conditional). Decodes are
conditioned on that class when the baseline declares ``conditional``.

* :class:`PerceptualPathLength` — StyleGAN's PPL (Karras et al. 2019) in an audio embedding.
* :class:`InterpolationEvenness` — whether equal steps in latent space are equal steps in sound.
* :class:`DescriptorLinearity` — whether brightness and loudness change linearly along a path.

Embedding distances are measured after dividing each embedding dimension by its standard
deviation over the real test set, so the numbers do not depend on an embedder's units and are
comparable across baselines under one protocol. All randomness comes from ``torch.Generator``
objects seeded with ``ctx.seed``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from bench.api.baseline import Condition
from bench.api.metric import Metric, MetricFamily, MetricSkipped, MetricValue, ScoreContext
from bench.metrics.descriptors import (bootstrap_ci, bootstrap_resamples, rms_db,
                                       spectral_centroid)

#: Offset between the seed of our own draws (pairs, t) and that of the baseline's prior draws.
_OWN_DRAWS = 7919


# --- paths ---------------------------------------------------------------------------------

@dataclass
class PathEnds:
    """``n`` pairs of latent codes (float64, CPU) and the class each pair belongs to."""

    z0: Tensor
    z1: Tensor
    labels: Tensor | None     # (n,) class ids to condition decodes on, or None
    source: str               # "encoded real test clips" | "prior samples"


def path_ends(ctx: ScoreContext, n: int) -> PathEnds:
    """``n`` same-class endpoint pairs: real test encodings when the baseline can encode, else
    prior samples (deterministic given ``ctx.seed``)."""
    if ctx.baseline is None:
        raise MetricSkipped("no baseline is loaded")
    own = torch.Generator().manual_seed(ctx.seed + _OWN_DRAWS)
    conditional = "conditional" in ctx.capabilities
    if "encode" in ctx.capabilities and hasattr(ctx.baseline, "encode"):
        return _encoded_pairs(ctx, n, own, conditional)
    prior = torch.Generator().manual_seed(ctx.seed)
    labels = None
    if conditional:
        if not ctx.classes:
            raise MetricSkipped("the baseline is conditional but the dataset has no classes")
        labels = torch.randint(0, len(ctx.classes), (n,), generator=own)
    cond = _condition(labels, ctx.device)
    with torch.no_grad():
        z0 = ctx.baseline.sample_latent(n, condition=cond, generator=prior)
        z1 = ctx.baseline.sample_latent(n, condition=cond, generator=prior)
    return PathEnds(z0.detach().double().cpu(), z1.detach().double().cpu(), labels, "prior samples")


def _encoded_pairs(ctx: ScoreContext, n: int, own: torch.Generator, conditional: bool) -> PathEnds:
    labels = np.asarray(ctx.real_test_labels).astype(np.int64)
    conditional = conditional and bool((labels >= 0).all())   # unlabelled clips: no condition
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    groups = [g for g in groups if len(g) >= 2]
    if not groups:
        raise MetricSkipped("no class has two real test clips to interpolate between")
    pick_group = torch.randint(0, len(groups), (n,), generator=own).tolist()
    first, second = [], []
    for g in pick_group:
        members = groups[g]
        i, j = torch.randperm(len(members), generator=own)[:2].tolist()
        first.append(int(members[i]))
        second.append(int(members[j]))
    needed = np.unique(first + second)
    audio = np.asarray(ctx.real_test, dtype=np.float32)[needed]
    codes = {}
    with torch.no_grad():
        for start in range(0, len(needed), 32):
            idx = needed[start:start + 32]
            x = torch.from_numpy(audio[start:start + 32]).to(ctx.device).unsqueeze(1)
            cond = _condition(torch.from_numpy(labels[idx]), ctx.device) if conditional else None
            z = ctx.baseline.encode(x, condition=cond).detach().double().cpu()
            codes.update({int(k): z[m] for m, k in enumerate(idx)})
    z0 = torch.stack([codes[i] for i in first])
    z1 = torch.stack([codes[j] for j in second])
    pair_labels = torch.from_numpy(labels[first]) if conditional else None
    return PathEnds(z0, z1, pair_labels, "encoded real test clips")


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Linear interpolation; ``t`` has one value per row."""
    return a + _rows(t, a) * (b - a)


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation of the direction (StyleGAN's slerp: rotate ``a``'s unit vector
    toward ``b``'s by ``t`` times their angle) times the linearly interpolated norm, so that
    Gaussian latents, whose norms differ, keep a norm between the endpoints' norms."""
    flat_a, flat_b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    na = flat_a.norm(dim=1, keepdim=True)
    nb = flat_b.norm(dim=1, keepdim=True)
    ua = flat_a / na.clamp_min(1e-300)
    ub = flat_b / nb.clamp_min(1e-300)
    cos = (ua * ub).sum(dim=1, keepdim=True).clamp(-1.0, 1.0)
    ortho = ub - cos * ua
    ortho_norm = ortho.norm(dim=1, keepdim=True)
    ortho = torch.where(ortho_norm > 1e-12, ortho / ortho_norm.clamp_min(1e-300), torch.zeros_like(ortho))
    tt = t.reshape(-1, 1).to(a.dtype)
    angle = tt * torch.arccos(cos)
    direction = ua * torch.cos(angle) + ortho * torch.sin(angle)
    norm = (1 - tt) * na + tt * nb
    return (direction * norm).reshape(a.shape)


def _rows(t: Tensor, like: Tensor) -> Tensor:
    return t.to(like.dtype).reshape((-1,) + (1,) * (like.ndim - 1))


def _condition(labels: Tensor | None, device: torch.device) -> Condition | None:
    return None if labels is None else Condition(labels=labels.to(device=device, dtype=torch.long))


def decode(ctx: ScoreContext, z: Tensor, labels: Tensor | None, *, noise_seed: int,
           batch_size: int = 32) -> np.ndarray:
    """Decode float64 codes in float32 batches, without gradients, to ``(n, T)`` float32.

    Each batch runs under a fixed global RNG seed (``noise_seed`` + batch index, restored
    afterwards), so a decoder that draws internal noise draws the same noise for two calls on
    paired batches (PPL's t and t + ε)."""
    out = []
    devices = [ctx.device] if ctx.device.type == "cuda" else []
    with torch.no_grad():
        for b, start in enumerate(range(0, len(z), batch_size)):
            zb = z[start:start + batch_size].to(device=ctx.device, dtype=torch.float32)
            lb = None if labels is None else labels[start:start + batch_size]
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(noise_seed + b)
                y = ctx.baseline.decode(zb, condition=_condition(lb, ctx.device))
            if y.ndim == 3:
                y = y[:, 0]
            out.append(y.detach().float().cpu().numpy())
    audio = np.concatenate(out)
    if not np.isfinite(audio).all():
        raise ValueError(f"{ctx.baseline.meta.name}.decode returned non-finite audio")
    return audio


def embedding_scale(ctx: ScoreContext, embedder: str) -> np.ndarray:
    """Per-dimension standard deviation of the real test set's embeddings (floored at 1e-3 of
    the mean std, so a constant dimension cannot blow distances up)."""
    real = np.asarray(ctx.embed(embedder, np.asarray(ctx.real_test, dtype=np.float32)), np.float64)
    if len(real) < 2:
        raise MetricSkipped("need at least two real test clips to scale the embedding space")
    std = real.std(axis=0)
    return np.maximum(std, 1e-3 * std.mean() + 1e-12)


def _embed(ctx: ScoreContext, embedder: str, audio: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.asarray(ctx.embed(embedder, audio), dtype=np.float64) / scale


def _linear_paths(ctx: ScoreContext, n_paths: int, steps: int) -> tuple[np.ndarray, PathEnds]:
    """Decodes at t = 0, 1/steps, ..., 1 along ``n_paths`` lerp paths: ``(n_paths, steps+1, T)``."""
    ends = path_ends(ctx, n_paths)
    t = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    z = torch.cat([lerp(ends.z0, ends.z1, t.new_full((n_paths,), float(tk))) for tk in t])
    labels = None if ends.labels is None else ends.labels.repeat(steps + 1)
    audio = decode(ctx, z, labels, noise_seed=ctx.seed)
    return audio.reshape(steps + 1, n_paths, -1).transpose(1, 0, 2), ends


# --- metrics -------------------------------------------------------------------------------

class PerceptualPathLength(Metric):
    """Mean ``‖e(G(z(t))) − e(G(z(t+ε)))‖² / ε²`` over random pairs and ``t ~ U(0, 1)``."""

    version = "1"
    higher_is_better = False
    needs = frozenset({"latent"})
    title = "Perceptual path length"

    def __init__(self, method: str = "lerp", embedder: str = "mel", n: int = 128,
                 eps: float = 1e-4) -> None:
        if method not in ("lerp", "slerp"):
            raise ValueError(f"PPL method must be 'lerp' or 'slerp', got {method!r}")
        if not n >= 2 or not eps > 0:
            raise ValueError(f"PPL needs n >= 2 and eps > 0, got n={n}, eps={eps}")
        self.method, self.embedder, self.n, self.eps = method, embedder, int(n), float(eps)
        self.name = f"ppl_{method}"
        self.title = f"Perceptual path length ({method})"
        self.definition = (
            f"Perceptual path length ({method}): mean squared distance in the standardised "
            f"{embedder} embedding between decodes at t and t+{eps:g} on same-class latent paths, "
            f"divided by {eps:g}², 1st-99th percentile.")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        scale = embedding_scale(ctx, self.embedder)
        ends = path_ends(ctx, self.n)
        own = torch.Generator().manual_seed(ctx.seed + 2 * _OWN_DRAWS)
        t = torch.rand(self.n, generator=own, dtype=torch.float64)
        step = lerp if self.method == "lerp" else slerp
        # float64 path arithmetic, float32 decodes; the latent step is ε·|z1 − z0| (lerp), i.e.
        # relative to the baseline's own latent scale.
        a = decode(ctx, step(ends.z0, ends.z1, t), ends.labels, noise_seed=ctx.seed)
        b = decode(ctx, step(ends.z0, ends.z1, t + self.eps), ends.labels, noise_seed=ctx.seed)
        ea, eb = _embed(ctx, self.embedder, a, scale), _embed(ctx, self.embedder, b, scale)
        dist = ((eb - ea) ** 2).sum(axis=1) / self.eps ** 2
        lo = np.percentile(dist, 1, method="lower")
        hi = np.percentile(dist, 99, method="higher")
        kept = dist[(dist >= lo) & (dist <= hi)]
        latent_step = (ends.z1 - ends.z0).reshape(self.n, -1).norm(dim=1) * self.eps
        return MetricValue(
            value=float(kept.mean()),
            ci95=bootstrap_ci(kept, bootstrap_resamples(ctx.protocol), ctx.seed),
            n=int(len(kept)),
            details={
                "method": self.method, "eps": self.eps, "pairs": self.n, "kept": int(len(kept)),
                "median": float(np.median(kept)), "endpoints": ends.source,
                "embedder": self.embedder,
                "embedding_scale": "each dimension divided by its std over the real test set",
                "median_latent_step": float(latent_step.median()),
                "interpolation": ("lerp in t" if self.method == "lerp" else
                                  "slerp of the direction (StyleGAN) times lerp of the norm"),
            },
        )


class InterpolationEvenness(Metric):
    """Largest / mean embedding step along equal latent steps; 1 is perfectly even."""

    version = "1"
    higher_is_better = False
    needs = frozenset({"latent"})
    title = "Interpolation evenness"
    name = "interp_evenness"

    def __init__(self, embedder: str = "mel", n_paths: int = 32, steps: int = 8) -> None:
        if n_paths < 1 or steps < 2:
            raise ValueError(f"need n_paths >= 1 and steps >= 2, got {n_paths}, {steps}")
        self.embedder, self.n_paths, self.steps = embedder, int(n_paths), int(steps)
        self.definition = (
            f"Along {steps}-step linear latent paths, the largest step in the standardised "
            f"{embedder} embedding divided by the mean step, averaged over paths (1 = even).")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        scale = embedding_scale(ctx, self.embedder)
        audio, ends = _linear_paths(ctx, self.n_paths, self.steps)
        n, k, length = audio.shape
        emb = _embed(ctx, self.embedder, audio.reshape(n * k, length), scale).reshape(n, k, -1)
        step = np.linalg.norm(np.diff(emb, axis=1), axis=2)          # (n_paths, steps)
        mean_step = step.mean(axis=1)
        moving = mean_step > 0
        if not moving.any():
            raise MetricSkipped("every decoded path is constant in the embedding")
        ratio = step[moving].max(axis=1) / mean_step[moving]
        return MetricValue(
            value=float(ratio.mean()),
            ci95=bootstrap_ci(ratio, bootstrap_resamples(ctx.protocol), ctx.seed),
            n=int(len(ratio)),
            details={"paths": self.n_paths, "steps": self.steps,
                     "constant_paths": int((~moving).sum()), "median": float(np.median(ratio)),
                     "endpoints": ends.source, "embedder": self.embedder,
                     "embedding_scale": "each dimension divided by its std over the real test set"},
        )


def _r_squared(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """R² of a least-squares line through each row of ``y`` against ``t``; nan where a row is
    constant or has a nan."""
    tc = t - t.mean()
    yc = y - y.mean(axis=1, keepdims=True)
    ss_tot = (yc ** 2).sum(axis=1)
    slope = (yc * tc).sum(axis=1) / (tc ** 2).sum()
    ss_res = ((yc - slope[:, None] * tc) ** 2).sum(axis=1)
    scale = np.abs(y).max(axis=1) + 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - ss_res / ss_tot
    return np.where(ss_tot > (1e-9 * scale) ** 2 * len(t), r2, np.nan)


class DescriptorLinearity(Metric):
    """Mean R² of spectral centroid and of RMS level (dB) against t along linear latent paths."""

    version = "1"
    higher_is_better = True
    needs = frozenset({"latent"})
    title = "Descriptor linearity"
    name = "descriptor_linearity"

    def __init__(self, n_paths: int = 32, steps: int = 8) -> None:
        if n_paths < 1 or steps < 2:
            raise ValueError(f"need n_paths >= 1 and steps >= 2, got {n_paths}, {steps}")
        self.n_paths, self.steps = int(n_paths), int(steps)
        self.definition = (
            f"R² of a straight-line fit of spectral centroid, and of RMS level in dB, against t "
            f"along {steps}-step linear latent paths; mean over paths and the two descriptors.")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        audio, ends = _linear_paths(ctx, self.n_paths, self.steps)
        n, k, length = audio.shape
        flat = torch.from_numpy(audio.reshape(n * k, length))
        t = np.linspace(0.0, 1.0, k)
        r2 = {
            "spectral_centroid": _r_squared(t, spectral_centroid(flat, ctx.sample_rate)
                                            .double().numpy().reshape(n, k)),
            "rms_db": _r_squared(t, rms_db(flat).double().numpy().reshape(n, k)),
        }
        both = np.stack(list(r2.values()))                          # (2, n_paths)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)        # all-nan paths -> nan
            per_path = np.nanmean(both, axis=0)
        per_descriptor = {name: float(np.nanmean(v)) if np.isfinite(v).any() else None
                          for name, v in r2.items()}
        valid = [v for v in per_descriptor.values() if v is not None]
        if not valid:
            raise MetricSkipped("both descriptors are constant (or undefined) along every path")
        per_path = per_path[np.isfinite(per_path)]
        return MetricValue(
            value=float(np.mean(valid)),
            ci95=bootstrap_ci(per_path, bootstrap_resamples(ctx.protocol), ctx.seed),
            n=int(len(per_path)),
            details={"per_descriptor": per_descriptor,
                     "undefined_paths": {name: int(np.isnan(v).sum()) for name, v in r2.items()},
                     "paths": self.n_paths, "steps": self.steps, "endpoints": ends.source},
        )


#: ``ppl`` (both paths), ``ppl:lerp`` or ``ppl:slerp``
PPL = MetricFamily((PerceptualPathLength,), variants=("lerp", "slerp"), variant_kwarg="method")
