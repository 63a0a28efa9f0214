"""How long a report takes to build: fabricate N baselines × seeds × datasets, time build_report.

The acceptance bar is 7 baselines × 3 seeds × 2 datasets in under 60 s on 2 CPU cores; figures
and spectrograms dominate, so the result also says how many of each were made.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from bench.report.synthetic import fabricate_runs


def bench_report(work_dir: Path, n_baselines: int = 7, n_seeds: int = 3, n_datasets: int = 2,
                 *, clips_per_class: int = 8, rebuild: bool = True) -> dict[str, Any]:
    """Fabricate the runs under ``work_dir/runs``, build into ``work_dir/site`` (from empty),
    and return timings: ``seconds`` (cold build), ``rebuild_seconds`` (warm spectrogram cache)."""
    from bench.report.site import build_report

    work_dir = Path(work_dir)
    runs_dir, site = work_dir / "runs", work_dir / "site"
    shutil.rmtree(runs_dir, ignore_errors=True)
    shutil.rmtree(site, ignore_errors=True)
    t0 = time.perf_counter()
    run_dirs = fabricate_runs(runs_dir, n_baselines=n_baselines, seeds=tuple(range(n_seeds)),
                              n_datasets=n_datasets, listen_root=work_dir / "listen_cache",
                              clips_per_class=clips_per_class)
    fabricate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = build_report(runs_dir, site)
    seconds = time.perf_counter() - t0
    result: dict[str, Any] = {
        "seconds": round(seconds, 3), "fabricate_seconds": round(fabricate_s, 3),
        "runs": len(run_dirs), "rows": n_baselines * n_datasets, "baselines": n_baselines,
        "seeds": n_seeds, "datasets": n_datasets, "index": str(index),
        "figures": len(list((site / "figures").glob("*.png"))),
        "spectrograms": len(list((site / "media" / "spec").glob("*.png"))),
        "audio_files": len(list((site / "media" / "audio").iterdir())),
        "pages": 1 + len(list((site / "baselines").glob("*.html"))),
        "cpus": os.cpu_count(),
    }
    if rebuild:
        t0 = time.perf_counter()
        build_report(runs_dir, site)
        result["rebuild_seconds"] = round(time.perf_counter() - t0, 3)
    return result


if __name__ == "__main__":  # pragma: no cover - manual use: python -m bench.report.perf DIR
    import json
    import sys

    print(json.dumps(bench_report(Path(sys.argv[1] if len(sys.argv) > 1 else "perf_report")),
                     indent=2))
