"""``drumbench perf``: speed and memory targets, measured and written as JSON.

Targets are checked here, not by timed tests: each benchmark records its number, the target and
whether it was met, beside the machine facts (device, threads, torch version).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.device import resolve_device
from bench.io_atomic import atomic_write_json
from bench.perf_scale import BENCHMARKS as SCALE_BENCHMARKS
from bench.runner.provenance import package_versions, provenance


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


def bench_report(work_dir: Path, n_baselines: int = 7, n_seeds: int = 3, n_datasets: int = 2,
                 *, clips_per_class: int = 8, rebuild: bool = True) -> dict[str, Any]:
    """The static site for fake runs (default 7 baselines × 3 seeds × 2 datasets): target < 60 s.

    The runs are fabricated under ``work_dir/runs`` and the site built into ``work_dir/site``
    from empty; ``seconds`` is that cold build, ``rebuild_seconds`` a second build with the
    spectrogram cache warm. Figures and spectrograms dominate, so their counts are returned."""
    from bench.report.site import build_report
    from bench.testing.fake_runs import fabricate_runs

    work_dir = Path(work_dir)
    runs_dir, site = work_dir / "runs", work_dir / "site"
    shutil.rmtree(runs_dir, ignore_errors=True)
    shutil.rmtree(site, ignore_errors=True)
    fabricate_s, run_dirs = _timed(lambda: fabricate_runs(
        runs_dir, n_baselines=n_baselines, seeds=tuple(range(n_seeds)), n_datasets=n_datasets,
        listen_root=work_dir / "listen_cache", clips_per_class=clips_per_class))
    seconds, index = _timed(lambda: build_report(runs_dir, site))
    result: dict[str, Any] = {
        "seconds": round(seconds, 3), "target_s": 60, "met": seconds < 60,
        "fabricate_seconds": round(fabricate_s, 3),
        "runs": len(run_dirs), "rows": n_baselines * n_datasets, "baselines": n_baselines,
        "seeds": n_seeds, "datasets": n_datasets, "index": str(index),
        "figures": len(list((site / "figures").glob("*.png"))),
        "spectrograms": len(list((site / "media" / "spec").glob("*.png"))),
        "audio_files": len(list((site / "media" / "audio").iterdir())),
        "pages": 1 + len(list((site / "baselines").glob("*.html"))),
        "cpus": os.cpu_count(),
    }
    if rebuild:
        result["rebuild_seconds"] = round(_timed(lambda: build_report(runs_dir, site))[0], 3)
    return result


BENCHMARKS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "synthkit_generation": bench_synthkit,
    "embedder_throughput": lambda work: bench_embedders(),
    "training_step": lambda work: bench_training(),
    "report_build": lambda work: bench_report(work / "report"),
}
BENCHMARKS.update(SCALE_BENCHMARKS)  # bench/perf_scale.py: Fréchet, bootstrap, aisfx, data prep


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="drumbench perf")
    parser.add_argument("-o", "--out", type=Path, default=Path("reports/perf.json"))
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {', '.join(BENCHMARKS)}"
                        " (or 'suite': only the --suite timing)")
    parser.add_argument("--suite", nargs="?", const="protocol=quick dataset=synthkit", default=None,
                        metavar="ARGS", help="also time one `drumbench suite ARGS` (default: "
                        "'protocol=quick dataset=synthkit'; add e.g. hydra/launcher=joblib)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    if "suite" in names:  # `--only suite`: the suite timing alone
        names.remove("suite")
        args.suite = args.suite or "protocol=quick dataset=synthkit"
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
        if args.suite is not None:
            from bench.perf_scale import bench_suite

            print(f"perf: suite {args.suite} ...", flush=True)
            results["suite"] = bench_suite(args.suite, args.out.with_suffix(".suite.log"))
            print(f"perf: suite: {results['suite']}", flush=True)
    report = {"machine": provenance(resolve_device("auto")), "packages": package_versions(),
              "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "results": results}
    atomic_write_json(args.out, report)
    print(args.out)
    return 1 if any("error" in r for r in results.values()) else 0
