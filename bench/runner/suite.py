"""The full suite: every baseline × the protocol's seeds on one dataset, then the leaderboard.

One Hydra multirun over ``baseline=<list> seed=<list>`` through the chosen ``hydra/launcher``
(bench/runner/launch.py); the dataset is prepared once before the jobs start, so parallel jobs
read its cache instead of racing to build it, and the leaderboard is built after every job has
ended. A failing baseline is recorded (``run.json`` and the summary say why) and the others go
on; re-running the same command skips complete runs and resumes the rest from their checkpoints.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bench import registry
from bench.runner.app import compose
from bench.runner.launch import SweepResult, parse_overrides, summary_table, sweep

log = logging.getLogger("drumbench")


def suite_baselines() -> list[str]:
    """The registry's default suite (references first, no opt-in variants)."""
    return registry.default_suite()


@dataclass
class SuiteResult:
    index: Path
    sweep: SweepResult


def run_suite(overrides: list[str], *, baselines: list[str] | None = None,
              report_dir: str | None = None) -> SuiteResult:
    from bench.data.build import load_datamodule
    from bench.report.site import build_report

    if {o.get_key_element() for o in parse_overrides(overrides)} & {"baseline", "seed"}:
        raise ValueError("suite chooses baseline and seed itself: use --baselines and protocol.seeds")
    base = compose(overrides)
    baselines = baselines or suite_baselines()
    for name in baselines:  # every config checked before hours of jobs start (names the problem)
        compose([*overrides, f"baseline={name}"])
    seeds = [int(s) for s in base.protocol.seeds]
    log.info("suite: %d baseline(s) × %d seed(s) on %s, %s@%s", len(baselines), len(seeds),
             base.dataset.name, base.protocol.name, base.protocol.version)
    load_datamodule(base.dataset, base.protocol, Path(base.data_dir))  # data first, jobs read it
    result = sweep([*overrides, f"baseline={','.join(baselines)}",
                    f"seed={','.join(str(s) for s in seeds)}"],
                   expected_jobs=len(baselines) * len(seeds))
    print(summary_table(result), flush=True)  # before the report: shown even if the report fails
    out = Path(report_dir or Path("reports") / f"{base.protocol.name}-{base.dataset.name}")
    index = build_report(Path(base.runs_dir), out,
                         title=f"drumbench — {base.dataset.name}, {base.protocol.name} protocol")
    return SuiteResult(index, result)
