"""Sweeps through Hydra's launchers, then one summary of how every job went.

``drumbench run -m …`` and ``drumbench suite`` both end here: the overrides become a Hydra
multirun in this process, and the chosen ``hydra/launcher`` runs the jobs (``basic``: one after
the other in this process; ``joblib``: local parallel processes; ``submitit_local`` /
``submitit_slurm``: submitit jobs, on a SLURM cluster for the latter). No scheduling of our own.

Each job writes its :class:`~bench.runner.job.Outcome` to ``job.json`` in its job folder under
the sweep folder (``<runs_dir>/.sweeps/<time>-<pid>/<job>/``); after the launcher returns, the
outcomes are read from there, so a job that died (SIGKILL, out of memory, a cluster kill) still
shows, as ``failed`` with that reason, and the command exits non-zero.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser

from bench.runner.job import JOB_FILE, Outcome


@dataclass
class SweepResult:
    sweep_dir: Path
    outcomes: list[Outcome] = field(default_factory=list)
    launcher_error: str | None = None   # the launcher itself stopped (Hydra printed why)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status not in ("ok", "skipped")]

    @property
    def ok(self) -> bool:
        return self.launcher_error is None and not self.failed and bool(self.outcomes)


def parse_overrides(overrides: list[str]):
    return OverridesParser.create().parse_overrides(overrides=list(overrides))


def fixed_overrides(overrides: list[str]) -> list[str]:
    """The overrides that are not sweeps (``a=1,2`` or ``range(…)``): enough to compose the
    sweep's common settings (runs_dir, launcher)."""
    return [o.input_line for o in parse_overrides(overrides) if not o.is_sweep_override()]


def _value(overrides: list[str], key: str) -> str | None:
    for o in parse_overrides(overrides):
        if o.get_key_element() == key and not o.is_sweep_override():
            return str(o.value())
    return None


def sweep(overrides: list[str], *, expected_jobs: int | None = None) -> SweepResult:
    """Run ``drumbench run -m <overrides>`` in this process and collect every job's outcome."""
    from hydra.core.global_hydra import GlobalHydra

    from bench.runner import app

    base = app.compose(fixed_overrides(overrides))
    extra: list[str] = []
    sweep_dir = _value(overrides, "hydra.sweep.dir")
    if sweep_dir is None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d_%H-%M-%S")
        sweep_dir = str(Path(base.runs_dir) / ".sweeps" / f"{stamp}-{os.getpid()}")
        extra.append(f"hydra.sweep.dir={sweep_dir}")
    launcher = _value(overrides, "hydra/launcher") or "basic"
    if launcher == "joblib" and _value(overrides, "hydra.launcher.n_jobs") is None and expected_jobs:
        # joblib's default (-1) is one job per core; with fewer runs than cores, each run may
        # use the cores the missing jobs would have had (bench.runner.job.threads_for)
        extra.append(f"hydra.launcher.n_jobs={min(expected_jobs, len(os.sched_getaffinity(0)))}")
    GlobalHydra.instance().clear()
    argv, sys.argv = sys.argv, ["drumbench-run", "-m", *overrides, *extra]
    result = SweepResult(Path(sweep_dir))
    try:
        app.main()
    except SystemExit as stop:  # Hydra reports a launcher/config error and exits
        if stop.code not in (0, None):
            result.launcher_error = f"the launcher stopped (exit {stop.code}); see the error above"
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()
    result.outcomes = read_outcomes(result.sweep_dir)
    if expected_jobs is not None and len(result.outcomes) < expected_jobs \
            and result.launcher_error is None:
        result.launcher_error = (f"{expected_jobs - len(result.outcomes)} of {expected_jobs} jobs "
                                 f"never started (no {JOB_FILE} under {result.sweep_dir})")
    return result


def read_outcomes(sweep_dir: Path) -> list[Outcome]:
    """Every job's outcome under ``sweep_dir``; a job still ``started`` died without reporting."""
    outcomes = []
    for path in sorted(Path(sweep_dir).glob(f"*/{JOB_FILE}"), key=lambda p: _job_num(p.parent.name)):
        try:
            outcome = Outcome(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as err:
            outcome = Outcome(baseline=path.parent.name, seed=-1, status="failed",
                              reason=f"unreadable {path}: {err}")
        if outcome.status == "started":
            outcome.status = "failed"
            outcome.reason = ("the job ended without reporting (killed, out of memory, or stopped "
                              f"by the launcher); its log: {outcome.run_dir or path.parent}")
        outcomes.append(outcome)
    return outcomes


def _job_num(name: str) -> tuple[int, str]:
    return (int(name), name) if name.isdigit() else (10**9, name)


def summary_table(result: SweepResult) -> str:
    """A plain-text table: one row per job, the reason for every failure."""
    rows = [("baseline", "seed", "status", "seconds", "run folder / reason")]
    for o in result.outcomes:
        rows.append((o.baseline, str(o.seed), o.status, f"{o.seconds:.1f}",
                     (o.reason or "") if o.status == "failed" else (o.run_dir or "")))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * min(120, max(len(line) for line in lines)))
    done = sum(o.status in ("ok", "skipped") for o in result.outcomes)
    lines.append(f"{done} of {len(result.outcomes)} runs complete, {len(result.failed)} failed"
                 f" (sweep folder {result.sweep_dir})")
    if result.launcher_error:
        lines.append(f"launcher: {result.launcher_error}")
    return "\n".join(lines)
