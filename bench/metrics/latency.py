"""Cost metrics: generation latency (with throughput, real-time factor, model size, training
time) and parameter count. Every number is stored beside the device, torch version and thread
count it was measured with, since none of them means anything without those."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.api.baseline import Condition
from bench.api.metric import Metric, MetricSkipped, MetricValue, ScoreContext
from bench.metrics.descriptors import bootstrap_ci, bootstrap_resamples
from bench.protocol import LatencyConfig

#: Timed batch-1 calls never fewer than this, whatever the protocol says.
MIN_REPEATS = 20
#: Timed calls at the throughput batch size (after one warm-up call at that size).
THROUGHPUT_REPEATS = 3


def parameter_count(baseline: Any, *, trainable_only: bool = False) -> int:
    """Number of parameters over ``baseline.modules()``, each shared tensor counted once
    (0 for a baseline without modules); ``trainable_only``: those that require a gradient."""
    counts = tensor_counts(baseline)
    return counts["trained"] if trainable_only else counts["trained"] + counts["frozen"]


def tensor_counts(baseline: Any) -> dict[str, int]:
    """Values a baseline holds, apart: ``trained`` (parameters that get a gradient), ``frozen``
    (parameters that do not) and ``buffers`` (e.g. a fixed bank of spectra), each shared tensor
    once. Only the first says how big the learnt model is; the others are what it stores."""
    seen: dict[str, dict[int, int]] = {"trained": {}, "frozen": {}, "buffers": {}}
    for module in baseline.modules():
        for p in module.parameters():
            seen["trained" if p.requires_grad else "frozen"][id(p)] = p.numel()
        for b in module.buffers():
            seen["buffers"][id(b)] = b.numel()
    return {kind: int(sum(values.values())) for kind, values in seen.items()}


def environment(device: torch.device) -> dict[str, Any]:
    """What a timing depends on: device (and GPU name), torch version, CPU threads."""
    env: dict[str, Any] = {"device": str(device), "torch_version": torch.__version__,
                           "num_threads": torch.get_num_threads()}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def _size_bytes(path: str | os.PathLike | None) -> int | None:
    if not path:
        return None
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return None


def _latency_config(ctx: ScoreContext) -> LatencyConfig:
    cfg = getattr(ctx.protocol, "latency", None) if ctx.protocol is not None else None
    return cfg if cfg is not None else LatencyConfig()


class _Timer:
    """Wall time of one call, synchronising CUDA on both sides so queued kernels count."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.device = device

    def __call__(self, fn) -> float:
        if self.cuda:
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        fn()
        if self.cuda:
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - start


class Latency(Metric):
    """Median batch-1 generation time in ms, with p95, real-time factor and throughput."""

    name = "latency_ms"
    version = "1"
    higher_is_better = False
    needs = frozenset({"sample"})
    title = "Latency (ms)"
    definition = ("Median wall time in ms of one batch-1 sample() call after warm-up, on the "
                  "device recorded beside it.")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        baseline = ctx.baseline
        if baseline is None:
            raise MetricSkipped("no baseline is loaded")
        cfg = _latency_config(ctx)
        repeats = max(MIN_REPEATS, int(cfg.repeats))
        batch = max(1, int(cfg.throughput_batch))
        timer = _Timer(ctx.device)
        generator = torch.Generator().manual_seed(ctx.seed)
        conditional = "conditional" in ctx.capabilities

        def condition(n: int) -> Condition | None:
            if not conditional:
                return None
            return Condition(labels=torch.zeros(n, dtype=torch.long, device=ctx.device))

        clip_samples = None

        def one() -> None:
            nonlocal clip_samples
            out = baseline.sample(1, condition=condition(1), generator=generator)
            clip_samples = int(out.shape[-1])

        with torch.no_grad():
            for _ in range(int(cfg.warmup)):
                one()
            seconds = np.array([timer(one) for _ in range(repeats)])
            many = lambda: baseline.sample(batch, condition=condition(batch), generator=generator)  # noqa: E731
            many()                                             # warm-up at the larger shape
            batch_seconds = np.array([timer(many) for _ in range(THROUGHPUT_REPEATS)])

        ms = seconds * 1000.0
        median_s = float(np.median(seconds))
        clip_s = clip_samples / ctx.sample_rate
        env = environment(ctx.device)
        details = {
            "median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()),
            "timed_calls": repeats, "warmup_calls": int(cfg.warmup),
            "real_time_factor": clip_s / median_s if median_s > 0 else float("inf"),
            "real_time_factor_definition": ("clip seconds / batch-1 generation seconds (median); "
                                            "> 1 is faster than real time"),
            "clip_seconds": clip_s,
            "throughput_clips_per_s": batch / float(np.median(batch_seconds)),
            "throughput_batch": batch, "throughput_timed_calls": THROUGHPUT_REPEATS,
            "params": tensor_counts(baseline),
            "checkpoint_bytes": _size_bytes(ctx.run_info.get("checkpoint")),
            "fit_seconds": ctx.run_info.get("fit_seconds"),
            **env,
        }
        return MetricValue(
            value=details["median_ms"],
            ci95=bootstrap_ci(ms, bootstrap_resamples(ctx.protocol), ctx.seed, statistic=np.median),
            n=repeats, details=details,
        )


class ParamCount(Metric):
    """Trained parameters (the size of what was learnt); frozen parameters and buffers apart in
    the details, so a row that carries a fixed bank of training spectra is not read as small or
    large by what it stores. Informative, not a score."""

    name = "params"
    version = "2"
    higher_is_better = False
    needs = frozenset({"sample"})
    title = "Trained parameters"
    definition = ("Parameters that training updates, over the baseline's modules (frozen parameters "
                  "and buffers counted apart in the details; 0 for reference rows).")

    def compute(self, ctx: ScoreContext) -> MetricValue:
        if ctx.baseline is None:
            raise MetricSkipped("no baseline is loaded")
        counts = tensor_counts(ctx.baseline)
        return MetricValue(
            value=float(counts["trained"]),
            details={"modules": [type(m).__name__ for m in ctx.baseline.modules()],
                     "trained": counts["trained"], "frozen": counts["frozen"],
                     "buffers": counts["buffers"],
                     "stored_values": counts["trained"] + counts["frozen"] + counts["buffers"],
                     "checkpoint_bytes": _size_bytes(ctx.run_info.get("checkpoint"))},
        )
