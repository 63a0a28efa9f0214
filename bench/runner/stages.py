"""The three stages of a run. Each reads the files of the one before and writes its own.

fit:      data → ``checkpoints/{last,best}.pt`` + ``events.jsonl``
generate: checkpoint → ``samples/<class>/*.wav`` + ``samples/manifest.jsonl`` (+ interpolations)
score:    samples + real splits (+ checkpoint for model metrics) → ``metrics/<name>.json``
"""
from __future__ import annotations

import logging
import shutil
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
import torch

from bench.api.baseline import Baseline, Condition, LatentGenerator
from bench.api.fit import Budget, FitContext
from bench.api.metric import MetricSkipped, ScoreContext
from bench.api.output_check import checked_decode, checked_sample
from bench.api.results import SAMPLES_DIR, MetricRecord
from bench.data.build import class_folder
from bench.io_atomic import atomic_write_jsonl, atomic_write_with, read_jsonl
from bench.metrics.catalog import build_metrics
from bench.metrics.embedding_cache import EmbeddingCache
from bench.progress import bar
from bench.runner.build_baseline import instantiate_baseline
from bench.runner.validation import validation_fn

if TYPE_CHECKING:
    from bench.runner.experiment import Run

log = logging.getLogger("drumbench")
GEN_BATCH = 64
INTERP_PATHS, INTERP_STEPS = 4, 8


# --- fit -----------------------------------------------------------------------------------
def fit(run: "Run") -> dict[str, Any]:
    cfg = run.cfg
    baseline = instantiate_baseline(cfg, run.data).to(run.device)
    b = cfg.protocol.budget
    ctx = FitContext(budget=Budget(int(b.max_steps), float(b.max_wall_s), int(b.batch_size), int(b.val_every)),
                     device=run.device, seed=int(cfg.seed), run_dir=run.dir, baseline=baseline,
                     validate_fn=validation_fn(baseline, run.data, cfg.protocol, run.device))
    try:
        if ctx.resume() is not None:
            log.info("resuming from step %d", ctx.start_step)
        baseline.train()
        summary = baseline.fit(run.data, ctx)
        ctx.checkpoint(summary.steps, name="last.pt")
    finally:
        ctx.close()
    best = ctx.ckpt_dir / "best.pt"
    chosen = best if best.exists() else ctx.ckpt_dir / "last.pt"
    return {"summary": asdict(summary), "checkpoint": str(chosen.relative_to(run.dir)),
            "checkpoint_bytes": chosen.stat().st_size, "params": count_params(baseline)}


def count_params(baseline: Baseline) -> int:
    return sum(p.numel() for m in baseline.modules() for p in m.parameters())


def load_trained(run: "Run") -> Baseline:
    """A fresh baseline with the fit stage's chosen checkpoint loaded, in eval mode."""
    fit_info = run.record.stages.get("fit", {})
    if fit_info.get("status") != "ok":
        raise RuntimeError(f"{run.dir}: the fit stage has not completed; run stage=fit first")
    path = run.dir / fit_info["checkpoint"]
    baseline = instantiate_baseline(run.cfg, run.data)
    payload = torch.load(path, map_location="cpu", weights_only=False)
    baseline.load_state_dict(payload["state"])
    return baseline.to(run.device).eval()


# --- generate ------------------------------------------------------------------------------
def _as_clips(audio: torch.Tensor) -> np.ndarray:
    """(n, 1, T) checked audio → (n, T) float32 numpy."""
    return audio.detach().float().cpu().numpy()[:, 0]


def generate(run: "Run") -> dict[str, Any]:
    baseline = load_trained(run)
    data, cfg = run.data, run.cfg
    per_class = int(cfg.protocol.clips_per_class)
    conditional = "conditional" in baseline.meta.capabilities
    out_dir = run.dir / SAMPLES_DIR
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a re-run replaces the samples whole
    gen = torch.Generator().manual_seed(int(cfg.seed) + 7919)
    plan = ([(c, per_class) for c in range(data.num_classes)] if conditional
            else [(-1, per_class * data.num_classes)])
    rows, t0 = [], time.perf_counter()
    with torch.no_grad(), bar(total=sum(t for _, t in plan), desc="generate", unit="clip") as progress:
        for label, total in plan:
            done = 0
            while done < total:
                n = min(GEN_BATCH, total - done)
                cond = Condition(labels=torch.full((n,), label, dtype=torch.long, device=run.device)) \
                    if label >= 0 else None
                clips = _as_clips(checked_sample(baseline, n, condition=cond, generator=gen,
                                                 clip_samples=data.clip_samples))
                for i, clip in enumerate(clips):
                    rows.append(write_sample(out_dir, clip, data.sample_rate, label=label,
                                             classes=data.classes, index=done + i))
                done += n
                progress.update(n)
    seconds = time.perf_counter() - t0
    if isinstance(baseline, LatentGenerator):
        write_interpolations(baseline, data, out_dir, gen, conditional)
    atomic_write_jsonl(out_dir / "manifest.jsonl", rows)  # last: marks the samples complete
    return {"n_samples": len(rows), "generation_seconds": round(seconds, 3)}


def write_sample(out_dir: Path, clip: np.ndarray, sample_rate: int, *, label: int,
                 classes: list[str], index: int) -> dict[str, Any]:
    """Write generated clip ``index`` of class id ``label`` (-1: unconditional) under
    ``out_dir`` and return its ``samples/manifest.jsonl`` row."""
    folder = class_folder(label, classes[label]) if label >= 0 else "any"
    rel = f"{folder}/{index:04d}.wav"
    write_wav(out_dir / rel, clip, sample_rate)
    return {"path": rel, "label": classes[label] if label >= 0 else "?", "label_id": label,
            "conditional": label >= 0}


def interp_step_path(path_index: int, step: int) -> str:
    """Where step ``step`` of interpolation path ``path_index`` lives under ``samples/``."""
    return f"interp/path{path_index}/step{step:02d}.wav"


def write_wav(path: Path, clip: np.ndarray, sample_rate: int) -> None:
    """32-bit float WAV: scoring reads back exactly what the baseline returned. (16-bit PCM
    re-quantised the `real` row's training clips, so only 71% of them scored as copies.)"""
    atomic_write_with(path, lambda tmp: sf.write(tmp, clip, sample_rate, subtype="FLOAT"))


def write_interpolations(baseline: Any, data: Any, out_dir: Path, gen: torch.Generator,
                         conditional: bool) -> None:
    """Linear paths between two prior samples of one class, for the report's strips."""
    rows = []
    ts = torch.linspace(0, 1, INTERP_STEPS)
    with torch.no_grad():
        for k in range(INTERP_PATHS):
            label = k % data.num_classes
            cond = Condition(labels=torch.full((2,), label, dtype=torch.long, device=baseline.device)) \
                if conditional else None
            z = baseline.sample_latent(2, condition=cond, generator=gen)
            path_z = torch.stack([(1 - t) * z[0] + t * z[1] for t in ts])
            dcond = Condition(labels=torch.full((INTERP_STEPS,), label, dtype=torch.long,
                                                device=baseline.device)) if conditional else None
            clips = _as_clips(checked_decode(baseline, path_z, condition=dcond,
                                             clip_samples=data.clip_samples))
            name = data.classes[label] if conditional else "?"
            for j, clip in enumerate(clips):
                rel = interp_step_path(k, j)
                write_wav(out_dir / rel, clip, data.sample_rate)
                rows.append({"path": rel, "path_index": k, "step": j, "t": round(float(ts[j]), 4),
                             "method": "lerp", "from_label": name, "to_label": name})
    atomic_write_jsonl(out_dir / "interp" / "manifest.jsonl", rows)


# --- score ---------------------------------------------------------------------------------
def read_samples(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    manifest = run_dir / SAMPLES_DIR / "manifest.jsonl"
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} missing: run stage=generate first")
    rows = read_jsonl(manifest)
    clips = [sf.read(run_dir / SAMPLES_DIR / r["path"], dtype="float32")[0] for r in rows]
    return np.stack(clips), np.asarray([r["label_id"] for r in rows], dtype=np.int64)


def _real(data: Any, split: str, cap: int) -> tuple[np.ndarray, np.ndarray]:
    clipset = getattr(data, split)
    audio, labels = clipset.audio[:, 0].numpy(), clipset.labels.numpy()
    if cap > 0:
        keep = np.concatenate([np.flatnonzero(labels == c)[:cap] for c in np.unique(labels)])
        audio, labels = audio[np.sort(keep)], labels[np.sort(keep)]
    return audio, labels


def score(run: "Run") -> dict[str, Any]:
    cfg, data = run.cfg, run.data
    generated, gen_labels = read_samples(run.dir)
    baseline = load_trained(run)
    metrics = build_metrics(list(cfg.protocol.metrics), cfg.metric)
    cache_dir = Path(cfg.cache_dir)
    cache = EmbeddingCache(cache_dir / "embeddings")
    test, test_labels = _real(data, "test", int(cfg.protocol.max_real_per_class))
    train, train_labels = data.train.audio[:, 0].numpy(), data.train.labels.numpy()
    fit_info = run.record.stages["fit"]
    ctx = ScoreContext(
        generated=generated, generated_labels=gen_labels, real_test=test, real_test_labels=test_labels,
        real_train=train, real_train_labels=train_labels, classes=list(data.classes),
        sample_rate=data.sample_rate, protocol=cfg.protocol, embed=lambda n, x: x,
        capabilities=baseline.meta.capabilities, baseline=baseline, device=run.device,
        seed=int(cfg.seed),
        artefacts_dir=cache_dir / "artefacts" / f"{cfg.protocol.name}@{cfg.protocol.version}"
        / f"{data.dataset_name}-{data.manifest_hash[:10]}",
        run_info={"checkpoint": str(run.dir / fit_info["checkpoint"]),
                  "fit_seconds": fit_info.get("seconds"), "run_dir": str(run.dir)},
        dataset_hash=data.manifest_hash)
    ctx.embed = make_embed(cache, ctx)
    statuses: dict[str, str] = {}
    for metric in metrics:
        record = score_one(metric, ctx, cache)
        record.write(run.dir)
        statuses[metric.name] = record.status
        level = logging.WARNING if record.status == "failed" else logging.INFO
        log.log(level, "  %-24s %s %s", metric.name, record.status,
                record.value if record.status == "ok" else record.reason)
    return {"metrics": statuses, "embedding_cache": {"hits": cache.hits, "misses": cache.misses}}


def make_embed(cache: EmbeddingCache, ctx: ScoreContext):
    """``ctx.embed``: cached embedders by name; ``classifier`` is the protocol's reference classifier."""
    def embed(name: str, clips: np.ndarray) -> np.ndarray:
        if name == "classifier":
            from bench.metrics.classifier import get_reference_classifier

            return get_reference_classifier(ctx).features(clips)
        return cache.embed(name, clips, ctx.sample_rate)
    return embed


def score_one(metric: Any, ctx: ScoreContext, cache: EmbeddingCache) -> MetricRecord:
    base = dict(metric=metric.name, version=metric.version, higher_is_better=metric.higher_is_better,
                embedder=metric.embedder, title=metric.title, definition=metric.definition)
    missing = sorted(set(metric.needs) - set(ctx.capabilities))
    if missing:
        return MetricRecord(**base, status="skipped",
                            reason=f"needs capabilities {missing} that this baseline does not declare")
    t0 = time.perf_counter()
    try:
        value = metric.compute(ctx)
    except MetricSkipped as why:
        return MetricRecord(**base, status="skipped", reason=str(why), seconds=time.perf_counter() - t0)
    except Exception as err:  # recorded, never swallowed: the report shows it as failed
        return MetricRecord(**base, status="failed", reason=f"{type(err).__name__}: {err}",
                            details={"traceback": traceback.format_exc()},
                            seconds=time.perf_counter() - t0)
    v = float(value.value)
    if not np.isfinite(v):
        return MetricRecord(**base, status="failed", reason=f"non-finite value {v}",
                            seconds=time.perf_counter() - t0)
    details = dict(value.details)
    if metric.embedder and cache.notes.get(metric.embedder):
        details.setdefault("embedder_notes", cache.notes[metric.embedder])
    return MetricRecord(**base, status="ok", value=v,
                        ci95=None if value.ci95 is None else [float(value.ci95[0]), float(value.ci95[1])],
                        n=value.n, details=details, reference_hash=value.reference_hash,
                        seconds=round(time.perf_counter() - t0, 4))

