"""Fake run folders made in code, for the report's tests and ``drumbench perf``.

They are written by the runner's own writers (:class:`~bench.api.results.RunRecord`,
:func:`bench.runner.stages.write_sample`, :func:`bench.data.build.listening_clips`), so their
files have the same names and formats as a real run's (32-bit float samples under
``<id>-<class>/``). Nothing here trains anything: the clips are synthesised drum hits (a
pitch-swept sine for kicks, tone + noise for snares, high-passed noise for hats, …) degraded by
a per-baseline amount, and
the metric values follow that amount with seed-to-seed jitter, so a report built from them looks
like a real one (a clear floor and ceiling, overlapping CIs, failed and skipped cells).
"""
from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.signal import butter, sosfilt

from bench.api.results import MetricRecord, RunBaseline, RunDataset, RunRecord, run_dir_for, safe_part
from bench.data.build import listening_clips
from bench.data.datamodule import ClipSet, DataModule
from bench.hashing import short_hash
from bench.io_atomic import atomic_write_jsonl
from bench.runner.stages import interp_step_path, write_sample, write_wav


@dataclass
class FakeBaseline:
    """A pretend baseline: how good it is, how fast, what it can do, what goes wrong."""

    name: str
    quality: float                          # 0 = indistinguishable from real, 1 = noise
    latency_ms: float = 1.0
    capabilities: tuple[str, ...] = ("sample", "conditional")
    version: str = "1"
    reference: bool = False
    variant_of: str | None = None           # an opt-in variant of this family
    devices: tuple[str, ...] = ()           # what the variant adds
    losses: tuple[str, ...] = ("loss", "recon")
    failed_seeds: tuple[int, ...] = ()      # these seeds fail at the fit stage
    failing_metric: str | None = None       # this metric fails on every seed
    description: str = ""
    citation: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        return "conditional" in self.capabilities

    @property
    def latent(self) -> bool:
        return "latent" in self.capabilities


def default_baselines(n: int = 7) -> list[FakeBaseline]:
    """``n`` baselines: the two reference rows first, then models from good to poor."""
    pool = [
        FakeBaseline("real", 0.0, 0.0, reference=True, losses=(),
                     description="Real test clips scored as if generated: the ceiling."),
        FakeBaseline("noise", 1.0, 0.02, capabilities=("sample",), reference=True, losses=(),
                     description="Enveloped white noise: the floor."),
        FakeBaseline("vae", 0.35, 2.5, ("sample", "conditional", "encode", "latent"),
                     losses=("loss", "recon", "kl"),
                     description="Conditional spectrogram VAE.",
                     citation="Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014."),
        FakeBaseline("aae", 0.3, 3.1, ("sample", "conditional", "encode", "latent"),
                     losses=("recon", "adv_g", "adv_d"), failed_seeds=(2,),
                     description="Adversarial autoencoder with a Gaussian-mixture prior.",
                     citation="Tomczak, Goto, Hockman, ACM MM 2020."),
        FakeBaseline("drumgan", 0.22, 7.9, ("sample", "conditional", "latent"),
                     losses=("g_loss", "d_loss", "gp"),
                     description="Progressive-growing WGAN on magnitude + IF spectrograms.",
                     citation="Nistal, Lattner, Richard, ISMIR 2020."),
        FakeBaseline("ddsp", 0.45, 0.9, ("sample", "conditional"), losses=("mrstft",),
                     failing_metric="kad_aisfx",
                     description="Modal + transient + noise synthesiser.",
                     citation="Shier et al., Forum Acusticum 2023."),
        FakeBaseline("codec_latent", 0.4, 12.0, ("sample", "latent"), losses=("loss",),
                     description="Unconditional prior over a neural codec's latent."),
    ]
    while len(pool) < n:
        k = len(pool)
        pool.append(FakeBaseline(f"model{k}", 0.15 + 0.07 * (k % 9), 1.0 + k,
                                 ("sample", "conditional", "encode", "latent"),
                                 losses=("loss", "recon", "kl")))
    return pool[:n]


def _rng(*parts: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("|".join(map(str, parts)).encode()))


@functools.lru_cache(maxsize=64)
def _filter(order: int, cutoff: float | tuple[float, float], kind: str, sample_rate: int) -> np.ndarray:
    """A Butterworth filter; cut-offs above 0.45 × the sample rate are pulled below Nyquist."""
    top = 0.45 * sample_rate
    wn = tuple(min(c, top * (0.6 + 0.4 * i)) for i, c in enumerate(cutoff)) \
        if isinstance(cutoff, tuple) else min(cutoff, 0.6 * top)
    return butter(order, wn, kind, fs=sample_rate, output="sos")


def drum_hit(cls: str, sample_rate: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A plausible one-shot of class ``cls`` (unknown classes get a tuned noise burst)."""
    t = np.arange(n) / sample_rate
    kind = cls.lower()
    if "kick" in kind:
        f = 45 + 110 * np.exp(-t / 0.03) * rng.uniform(0.8, 1.2)
        x = np.sin(2 * np.pi * np.cumsum(f) / sample_rate) * np.exp(-t / rng.uniform(0.12, 0.25))
    elif "snare" in kind:
        tone = np.sin(2 * np.pi * rng.uniform(170, 220) * t) * np.exp(-t / 0.05)
        noise = sosfilt(_filter(2, (1500.0, 6000.0), "bandpass", sample_rate),
                        rng.standard_normal(n)) * np.exp(-t / rng.uniform(0.08, 0.15))
        x = 0.6 * tone + 1.5 * noise
    elif "hat" in kind or "crash" in kind or "cymbal" in kind:
        decay = 0.03 if "hat" in kind else 0.25
        x = sosfilt(_filter(4, 6000.0, "highpass", sample_rate),
                    rng.standard_normal(n)) * np.exp(-t / (decay * rng.uniform(0.7, 1.4)))
    elif "tom" in kind:
        f = rng.uniform(90, 200) * (1 + 0.3 * np.exp(-t / 0.05))
        x = np.sin(2 * np.pi * np.cumsum(f) / sample_rate) * np.exp(-t / 0.2)
    else:
        lo = float(rng.choice([300.0, 600.0, 1200.0, 2000.0]))
        x = sosfilt(_filter(2, (lo, lo * 3), "bandpass", sample_rate),
                    rng.standard_normal(n)) * np.exp(-t / rng.uniform(0.02, 0.1))
    return x / (np.max(np.abs(x)) + 1e-9)


def _degrade(x: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    env = np.abs(x)
    env = np.maximum.accumulate(env[::-1])[::-1]              # a decaying envelope of the hit
    y = (1 - quality) * x + quality * env * rng.standard_normal(x.size)
    return (0.89 * y / (np.max(np.abs(y)) + 1e-9)).astype(np.float32)


def manifest_hash(dataset: str, classes: list[str]) -> str:
    """The fake dataset's manifest hash: one per (name, class list), as a real one would be."""
    return short_hash({"dataset": dataset, "classes": list(classes)}, 16)


def write_listen_clips(folder: Path, classes: list[str], *, sample_rate: int, n: int,
                       per_class: int = 4, dataset: str = "") -> Path:
    """Real clips for listening, written by the runner's :func:`listening_clips` into
    ``folder/listen-<hash>-<sr>/`` (with its manifest); returns that folder."""
    audio, labels = [], []
    for c, cls in enumerate(classes):
        for i in range(per_class):
            audio.append(0.89 * drum_hit(cls, sample_rate, n, _rng("real", dataset, cls, i)))
            labels.append(c)
    clips = ClipSet(torch.from_numpy(np.asarray(audio, dtype=np.float32)).unsqueeze(1),
                    torch.tensor(labels, dtype=torch.long), [f"fake/{i:04d}.wav" for i in range(len(labels))])
    data = DataModule(list(classes), sample_rate, n, clips, clips, clips, dataset_name=dataset,
                      manifest_hash=manifest_hash(dataset, classes))
    return listening_clips(data, Path(folder), per_class=per_class)


def _metric(name: str, value: float | None, higher: bool, *, status: str = "ok", spread: float = 0,
            reason: str | None = None, details: dict | None = None, title: str = "",
            definition: str = "", embedder: str | None = None) -> MetricRecord:
    ci = [value - spread, value + spread] if (value is not None and spread) else None
    return MetricRecord(metric=name, version="1", higher_is_better=higher, status=status,
                        value=value, ci95=ci, n=200 if status == "ok" else None,
                        details=details or {}, embedder=embedder, reference_hash="ab12cd34",
                        seconds=0.5, reason=reason, title=title, definition=definition)


def _metrics(b: FakeBaseline, classes: list[str], seed: int, dataset: str) -> list[MetricRecord]:
    rng = _rng("metrics", b.name, seed, dataset)
    jitter = lambda s: float(rng.normal(0, s))              # noqa: E731
    q = b.quality
    out = [
        _metric("fad_mel", max(0.01, 0.05 + 12 * q ** 1.5 + jitter(0.4 * q + 0.01)), False,
                spread=0.2 + q, title="FAD (mel)", embedder="mel",
                definition="Fréchet distance between Gaussians fitted to mel-statistics "
                           "embeddings of generated and real test clips."),
    ]
    if b.failing_metric == "kad_aisfx":
        out.append(_metric("kad_aisfx", None, False, status="failed", title="KAD (AI-SFX)",
                           reason="RuntimeError: embedder aisfx produced NaN embeddings",
                           definition="Unbiased kernel MMD² ×100 between embeddings."))
    else:
        out.append(_metric("kad_aisfx", max(0.0, 0.01 + 3 * q ** 2 + jitter(0.1 * q + 0.005)),
                           False, spread=0.05 + 0.2 * q, title="KAD (AI-SFX)", embedder="aisfx",
                           definition="Unbiased kernel MMD² ×100 between embeddings."))
    k = len(classes)
    if b.conditional or b.name == "real":
        acc = np.clip(1 - 0.9 * q + rng.normal(0, 0.03, size=k), 0, 1)
        conf = np.zeros((k, k))
        for i in range(k):
            conf[i, i] = acc[i]
            rest = rng.dirichlet(np.ones(max(1, k - 1))) * (1 - acc[i])
            conf[i, [j for j in range(k) if j != i]] = rest[: k - 1]
        out.append(_metric("class_accuracy", float(acc.mean()), True, spread=0.02,
                           title="Class accuracy",
                           definition="Accuracy of the reference classifier on generated clips, "
                                      "against the requested class.",
                           details={"confusion": conf.round(4).tolist(),
                                    "per_class": {c: float(a) for c, a in zip(classes, acc)}}))
    else:
        out.append(_metric("class_accuracy", None, True, status="skipped", title="Class accuracy",
                           reason="needs capability 'conditional'",
                           definition="Accuracy of the reference classifier on generated clips."))
    if b.name == "real":
        out.append(_metric("latency_ms", None, False, status="skipped", title="Latency",
                           reason="a reference row has no model to time",
                           definition="Median wall time to generate one clip at batch 1."))
    else:
        lat = b.latency_ms * (1 + abs(jitter(0.05)))
        out.append(_metric("latency_ms", lat, False, title="Latency",
                           definition="Median wall time to generate one clip at batch 1.",
                           details={"p95_ms": lat * 1.3, "rtf": lat / 1000 / 0.5,
                                    "throughput_clips_per_s": 1000 / lat * 8, "params": 1_234_567,
                                    "device": "cpu", "torch": "2.9.1", "threads": 2}))
    if "encode" in b.capabilities:
        out.append(_metric("recon_mrstft", 0.5 + 3 * q + jitter(0.05), False, spread=0.03,
                           title="Reconstruction (MR-STFT)",
                           definition="Multi-resolution STFT distance between test clips and "
                                      "their reconstructions."))
    else:
        out.append(_metric("recon_mrstft", None, False, status="skipped",
                           title="Reconstruction (MR-STFT)", reason="needs capability 'encode'",
                           definition="Multi-resolution STFT distance of reconstructions."))
    if b.latent:
        out.append(_metric("ppl_lerp", 20 + 80 * q + jitter(3), False, title="PPL (lerp)",
                           definition="Perceptual path length of linear latent interpolation."))
    else:
        out.append(_metric("ppl_lerp", None, False, status="skipped", title="PPL (lerp)",
                           reason="needs capability 'latent'",
                           definition="Perceptual path length of linear latent interpolation."))
    return out


def fabricate_run(runs_dir: Path, b: FakeBaseline, *, seed: int, dataset: str, classes: list[str],
                  listen_dir: Path, clips_per_class: int = 8, sample_rate: int = 16_000,
                  clip_seconds: float = 0.5, protocol: str = "quick", protocol_version: str = "1",
                  interp_paths: int = 2, interp_steps: int = 6) -> Path:
    """Write one complete ``seed<k>`` folder for baseline ``b``."""
    n = int(sample_rate * clip_seconds)
    cfg = {"name": f"baselines.{safe_part(b.name)}.baseline:Model", **b.config}
    protocol_cfg = {"name": protocol, "version": protocol_version, "sample_rate": sample_rate,
                    "clip_seconds": clip_seconds, "clips_per_class": clips_per_class,
                    "seeds": [0, 1, 2], "budget": {"max_steps": 200, "max_wall_s": 60.0},
                    "metrics": ["fad:mel", "kad:aisfx", "class_accuracy", "latency",
                                "recon:mrstft", "ppl:lerp"]}
    data_hash = manifest_hash(dataset, classes)
    signature = short_hash({"baseline": [b.name, b.version], "config": cfg, "dataset": dataset,
                            "manifest": data_hash, "protocol": [protocol, protocol_version]}, 12)
    run_dir = run_dir_for(runs_dir, protocol=protocol, protocol_version=protocol_version,
                          dataset=dataset, baseline=b.name, baseline_version=b.version,
                          signature=signature, seed=seed)
    failed = seed in b.failed_seeds
    rng = _rng("samples", b.name, dataset, seed)
    samples = run_dir / "samples"
    if not failed:
        rows = []
        plan = list(enumerate(classes)) if b.conditional or b.name == "real" else [(-1, "any")]
        for label_id, cls in plan:
            for i in range(clips_per_class):
                src = cls if label_id >= 0 else classes[int(rng.integers(len(classes)))]
                x = _degrade(drum_hit(src, sample_rate, n, rng), b.quality, rng)
                rows.append(write_sample(samples, x, sample_rate, label=label_id,
                                         classes=list(classes), index=i))
        atomic_write_jsonl(samples / "manifest.jsonl", rows)
        if b.latent:
            irows = []
            for p in range(interp_paths):
                a, c = classes[p % len(classes)], classes[(p + 1) % len(classes)]
                xa = drum_hit(a, sample_rate, n, _rng("ia", b.name, seed, p))
                xc = drum_hit(c, sample_rate, n, _rng("ic", b.name, seed, p))
                method = "lerp" if p % 2 == 0 else "slerp"
                for s in range(interp_steps):
                    t = s / (interp_steps - 1)
                    rel = interp_step_path(p, s)
                    write_wav(samples / rel, _degrade((1 - t) * xa + t * xc, b.quality, rng),
                              sample_rate)
                    irows.append({"path": rel, "path_index": p, "step": s, "t": t,
                                  "method": method, "from_label": a, "to_label": c})
            atomic_write_jsonl(samples / "interp" / "manifest.jsonl", irows)
        for rec in _metrics(b, classes, seed, dataset):
            rec.write(run_dir)
    if b.losses:
        erng = _rng("events", b.name, seed, dataset)
        events = []
        steps = 100 if failed else 200
        for step in range(0, steps + 1, 5):
            row: dict[str, Any] = {"kind": "train", "step": step, "t": step * 0.05}
            for j, loss in enumerate(b.losses):
                row[loss] = float((1 + j) * (0.2 + np.exp(-step / 60)) + erng.normal(0, 0.03))
            events.append(row)
            if step and step % 50 == 0:
                events.append({"kind": "valid", "step": step, "t": step * 0.05,
                               "value": float(5 * b.quality + 8 * np.exp(-step / 80)),
                               "best": True})
        atomic_write_jsonl(run_dir / "events.jsonl", events)
    stages = {"fit": {"status": "failed" if failed else "ok", "seconds": 12.5 + seed,
                      "summary": {"steps": 100 if failed else 200, "wall_s": 12.5 + seed,
                                  "stopped_because": "error" if failed else "max_steps",
                                  "best_step": 200, "best_value": 5 * b.quality}}}
    if not failed:
        stages["generate"] = {"status": "ok", "seconds": 1.5}
        stages["score"] = {"status": "ok", "seconds": 4.2}
    record = RunRecord(
        status="failed" if failed else "ok", signature=signature, seed=seed,
        baseline=RunBaseline(name=b.name, version=b.version, capabilities=list(b.capabilities),
                             citation=b.citation, description=b.description,
                             reference=b.reference, variant_of=b.variant_of,
                             devices=list(b.devices)),
        protocol=protocol_cfg,
        dataset=RunDataset(name=dataset, manifest_hash=data_hash, classes=list(classes),
                           counts={"train": 200, "valid": 25, "test": 25}),
        config={"protocol": protocol_cfg, "dataset": {"name": dataset}, "baseline": cfg,
                "seed": seed, "device": "cpu"},
        stages=stages,
        error=({"stage": "fit", "message": "RuntimeError: loss became NaN at step 100",
                "traceback": "Traceback (most recent call last):\n  File \"fit.py\", line 1\n"
                             "RuntimeError: loss became NaN at step 100"} if failed else None),
        provenance={"git_sha": "0123456789abcdef0123456789abcdef01234567",
                    "packages": {"torch": "2.9.1", "numpy": np.__version__},
                    "device": "cpu", "python": "3.11.2", "platform": "Linux-x86_64",
                    "torch_threads": 2, "started": "2025-01-01T00:00:00Z",
                    "finished": "2025-01-01T00:00:20Z"},
        real_samples=str(listen_dir))
    record.write(run_dir)
    return run_dir


DATASETS = {
    "synthkit": ["kick", "snare", "hihat", "tom"],
    "hydrogen": ["kick", "snare", "hihat", "crash"],
}


def fabricate_runs(runs_dir: Path, *, baselines: list[FakeBaseline] | None = None,
                   n_baselines: int = 7, seeds: tuple[int, ...] = (0, 1, 2),
                   datasets: dict[str, list[str]] | None = None, n_datasets: int = 2,
                   listen_root: Path | None = None, **run_kwargs: Any) -> list[Path]:
    """Write runs for every baseline × seed × dataset; real clips go to ``listen_root``."""
    runs_dir = Path(runs_dir)
    baselines = baselines if baselines is not None else default_baselines(n_baselines)
    if datasets is None:
        names = list(DATASETS) + [f"dataset{i}" for i in range(len(DATASETS), n_datasets)]
        datasets = {d: DATASETS.get(d, ["kick", "snare", "hihat"]) for d in names[:n_datasets]}
    listen_root = Path(listen_root) if listen_root else runs_dir.parent / "listen_cache"
    sr = run_kwargs.get("sample_rate", 16_000)
    n = int(sr * run_kwargs.get("clip_seconds", 0.5))
    out = []
    for dataset, classes in datasets.items():
        listen_dir = write_listen_clips(listen_root / safe_part(dataset), classes,
                                        sample_rate=sr, n=n, dataset=dataset)
        for b in baselines:
            for seed in seeds:
                out.append(fabricate_run(runs_dir, b, seed=seed, dataset=dataset,
                                         classes=list(classes), listen_dir=listen_dir,
                                         **run_kwargs))
    return out
