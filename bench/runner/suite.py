"""The full suite: every baseline × the protocol's seeds on one dataset, then the leaderboard.

Runs continue past a failing baseline (its ``run.json`` says why) and the report shows it.
"""
from __future__ import annotations

import logging
from pathlib import Path

from bench.registry import BUILTIN_BASELINES
from bench.runner.app import compose
from bench.runner.experiment import RunFailed, run_experiment

log = logging.getLogger("drumbench")
CONF = Path(__file__).resolve().parents[1] / "conf"


def suite_baselines() -> list[str]:
    """Built-in baselines that have a config of the same name, references first."""
    names = [n for n in BUILTIN_BASELINES if (CONF / "baseline" / f"{n}.yaml").exists()]
    return sorted(names, key=lambda n: (n not in ("real", "noise"), names.index(n)))


def run_suite(overrides: list[str], *, baselines: list[str] | None = None,
              report_dir: str | None = None) -> tuple[Path, list[str]]:
    from bench.report.site import build_report

    if any(o.startswith("baseline=") or o.startswith("seed=") for o in overrides):
        raise ValueError("suite chooses baseline and seed itself: use --baselines and protocol.seeds")
    baselines = baselines or suite_baselines()
    base = compose(overrides)
    failed: list[str] = []
    for name in baselines:
        for seed in base.protocol.seeds:
            cfg = compose([*overrides, f"baseline={name}", f"seed={seed}"])
            log.info("=== %s seed %s (%s, %s@%s)", name, seed, cfg.dataset.name,
                     cfg.protocol.name, cfg.protocol.version)
            try:
                record = run_experiment(cfg)
                log.info("=== %s seed %s: %s", name, seed, record["status"])
            except RunFailed as err:
                log.error("=== %s seed %s failed: %s", name, seed, err)
                failed.append(f"{name} seed {seed}: {err}")
    out = Path(report_dir or Path("reports") / f"{base.protocol.name}-{base.dataset.name}")
    index = build_report(Path(base.runs_dir), out,
                         title=f"drumbench — {base.dataset.name}, {base.protocol.name} protocol")
    return index, failed
