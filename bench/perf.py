"""``drumbench perf``: speed and memory targets, measured and written as JSON.

Targets are checked here, not by timed tests: each benchmark records its number, the target and
whether it was met, beside the machine facts (device, threads, torch version).
"""
from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.io_atomic import atomic_write_json
from bench.runner.provenance import package_versions, provenance, resolve_device


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_synthkit(work: Path) -> dict[str, Any]:
    """Default synthkit (9 classes × 300 clips) generated, written and scanned: target < 60 s."""
    from bench.data.sources import build_source
    from bench.runner.app import compose

    cfg = compose(["dataset=synthkit"]).dataset
    seconds, scan = _timed(lambda: build_source(cfg).scan(work / "synthkit"))
    return {"seconds": round(seconds, 2), "clips": len(scan.entries), "target_s": 60,
            "met": seconds < 60}


def bench_embedders(n: int = 64) -> dict[str, Any]:
    """Throughput of the offline embedders on 1 s clips at 16 kHz (clips per second)."""
    from bench.metrics.embedding_cache import EmbeddingCache

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    clips = (rng.standard_normal((n, 16000)) * np.exp(-t / 0.1)).astype(np.float32) * 0.5
    out = {}
    for name in ("mel", "aisfx"):
        cache = EmbeddingCache(None)
        cache.embedder(name)  # load weights outside the timing
        seconds, vec = _timed(lambda: cache.embed(name, clips, 16000))
        out[name] = {"clips_per_s": round(n / seconds, 1), "dim": int(vec.shape[1])}
    return out


def bench_training(steps: int = 10, warmup: int = 3) -> dict[str, Any]:
    """Seconds per training step at the quick protocol's batch size (32 × 1 s at 16 kHz),
    from the training log's clock after ``warmup`` steps (the first steps pay one-off costs)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from bench.api.fit import Budget, FitContext
    from bench.data.datamodule import ClipSet, DataModule
    from bench.io_atomic import read_jsonl
    from bench.runner.app import compose

    rng = np.random.default_rng(0)
    audio = torch.from_numpy((rng.standard_normal((96, 1, 16000)) * 0.3).astype(np.float32))
    labels = torch.arange(96) % 9
    clips = ClipSet(audio, labels, [str(i) for i in range(96)])
    data = DataModule([f"c{i}" for i in range(9)], 16000, 16000, clips, clips.subset(torch.arange(8)),
                      clips.subset(torch.arange(8)))
    budget_s = float(compose([]).protocol.budget.max_wall_s)
    out = {}
    for name in ("vae", "aae"):
        cfg = compose([f"baseline={name}"])
        baseline = instantiate(OmegaConf.to_container(cfg.baseline), num_classes=9, sample_rate=16000,
                               clip_samples=16000)
        with tempfile.TemporaryDirectory() as tmp:
            ctx = FitContext(budget=Budget(warmup + steps, 600.0, 32, 0), device=torch.device("cpu"),
                             seed=0, run_dir=Path(tmp), baseline=baseline)
            baseline.fit(data, ctx)
            ctx.close()
            t = [r["t"] for r in read_jsonl(Path(tmp) / "events.jsonl") if r["kind"] == "train"]
        s_per_step = (t[-1] - t[warmup - 1]) / (len(t) - warmup)
        out[name] = {"s_per_step": round(s_per_step, 4), "steps_in_quick_budget": int(budget_s / s_per_step)}
    return out


def bench_report(work: Path) -> dict[str, Any]:
    """The static site for 7 baselines × 3 seeds × 2 datasets: target < 60 s."""
    from bench.report.perf import bench_report as report_bench

    result = report_bench(work / "report")
    result["target_s"] = 60
    result["met"] = result["seconds"] < 60
    return result


BENCHMARKS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "synthkit_generation": bench_synthkit,
    "embedder_throughput": lambda work: bench_embedders(),
    "training_step": lambda work: bench_training(),
    "report_build": bench_report,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="drumbench perf")
    parser.add_argument("-o", "--out", type=Path, default=Path("reports/perf.json"))
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {', '.join(BENCHMARKS)}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"perf: {name} ...", flush=True)
            try:
                results[name] = BENCHMARKS[name](Path(tmp))
            except Exception as err:  # one broken benchmark must not hide the others' numbers
                results[name] = {"error": f"{type(err).__name__}: {err}"}
            print(f"perf: {name}: {results[name]}", flush=True)
    report = {"machine": provenance(resolve_device("auto")), "packages": package_versions(),
              "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "results": results}
    atomic_write_json(args.out, report)
    print(args.out)
    return 1 if any("error" in r for r in results.values()) else 0
