"""Run folders for the report tests, made in code (imported by conftest.py and the tests).

``RUNS_SOURCES`` maps a name to a function ``(tmp_dir) -> runs_dir``; every report test that
takes the ``report_runs_dir`` / ``built_report`` fixtures runs once per source. Today the only
source fabricates schema-correct folders (real WAVs written with soundfile, events, metrics with
a failed and a skipped one, a failed seed, and hostile names); a source that trains real
baselines with the runner plugs in by adding an entry here.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench.testing.fake_runs import FakeBaseline, default_baselines, fabricate_runs

XSS_NAME = "<script>alert(1)</script>"

#: For tests of numbers and layouts that only the fabricated runs were built to contain (two
#: datasets, seven baselines, failed and skipped cells); browser and escaping tests run on both.
FABRICATED_ONLY = pytest.mark.parametrize("report_runs_dir", ["fabricated"], indirect=True)
XSS_PAYLOAD = '<img src=x onerror="window.__xss=1">'


def hostile_baseline() -> FakeBaseline:
    """A baseline whose every user-provided string tries to run script."""
    return FakeBaseline(
        XSS_NAME, 0.5, 4.0, ("sample", "conditional", "encode", "latent"),
        losses=("loss", XSS_PAYLOAD), description=f"desc {XSS_PAYLOAD}",
        citation=f"{XSS_PAYLOAD} & \"quoted\" et al.",
        config={"note": "</pre><script>window.__xss=1</script>", "payload": XSS_PAYLOAD})


def make_fabricated_runs(root: Path) -> Path:
    """The two reference rows, ``aae`` (seed 2 fails in fit), ``ddsp`` (kad_aisfx fails on every
    seed; no latent, so ppl is skipped) and the hostile baseline; 3 seeds; two datasets, one
    with a hostile name and a hostile class name."""
    runs_dir = root / "runs"
    chosen = [b for b in default_baselines(7) if b.name in ("real", "noise", "aae", "ddsp")]
    fabricate_runs(
        runs_dir, baselines=chosen + [hostile_baseline()], seeds=(0, 1, 2),
        datasets={"synthkit": ["kick", "snare", "hihat"],
                  "hydrogen & <kits>": ["kick", "snare", XSS_PAYLOAD]},
        listen_root=root / "listen_cache", clips_per_class=3, clip_seconds=0.25,
        interp_steps=4)
    return runs_dir


def make_real_runs(tmp_dir: Path) -> Path:
    """Real smoke runs through the runner: references over two seeds, both autoencoders, and a
    plugin named like a script tag."""
    from bench.runner.app import compose
    from bench.runner.experiment import run_experiment

    common = ["protocol=smoke", "dataset=synthkit_smoke", f"runs_dir={tmp_dir / 'runs'}",
              f"data_dir={tmp_dir / 'data'}", f"cache_dir={tmp_dir / 'cache'}", "device=cpu"]
    jobs = [["baseline=real", "seed=0"], ["baseline=real", "seed=1"], ["baseline=noise", "seed=0"],
            ["baseline=noise", "seed=1"], ["baseline=vae_smoke"], ["baseline=aae_smoke"],
            ["baseline=noise", "baseline.name=tests.report.hostile_plugin:ScriptNamedNoise"]]
    for job in jobs:
        run_experiment(compose([*common, *job]))
    return tmp_dir / "runs"


RUNS_SOURCES: dict[str, Callable[[Path], Path]] = {"fabricated": make_fabricated_runs,
                                                    "runner": make_real_runs}
