"""One job: a run as a launcher executes it, with everything a long unattended sweep needs.

Around :class:`bench.runner.experiment.Run` a job adds: the threads it may use (so parallel jobs
× threads = cores), a per-run log file (``<run_dir>/log.txt``), the run's claim (two jobs never
train one signature), the ``run_timeout_s`` limit, and a failure caught, written to ``run.json``
and returned, never raised, so one broken baseline cannot stop a sweep. In a multirun, the job's
:class:`Outcome` is also written to ``job.json`` in its Hydra job folder, where the parent
process reads every job's outcome after the launcher returns (also for jobs in other processes
or on other machines, whose return values a killed job would never deliver).
"""
from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from bench.io_atomic import atomic_write_json
from bench.runner.claims import claim
from bench.runner.time_limit import time_limit

log = logging.getLogger("drumbench")
JOB_FILE = "job.json"
LOG_FILE = "log.txt"


@dataclass
class Outcome:
    """How one job went: ``ok`` (ran now), ``skipped`` (already complete), ``failed``, or
    ``started`` (written when the job begins; still there afterwards = the job died)."""
    baseline: str
    seed: int
    status: str
    reason: str | None = None
    run_dir: str | None = None
    seconds: float = 0.0
    threads: int | None = None
    job: int | None = None
    overrides: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The one status line printed when a run ends."""
        where = self.reason if self.status == "failed" else self.run_dir
        return f"[{self.status}] {self.baseline} seed {self.seed} ({self.seconds:.1f} s): {where}"


def hydra_job() -> Any | None:
    """The Hydra job config when running under a Hydra app, else None (compose API, tests)."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def baseline_label(cfg: DictConfig, hc: Any | None) -> str:
    """The baseline as the user named it: the config-group choice (``vae_smoke``), else its name."""
    choice = None if hc is None else hc.runtime.choices.get("baseline")
    return str(choice or cfg.baseline.get("name") or cfg.baseline.get("_target_"))


def threads_for(hc: Any | None, cores: int | None = None) -> int | None:
    """Threads one job may use: cores / parallel jobs for joblib, ``cpus_per_task`` for submitit,
    None (torch's default, all cores) for the basic launcher and plain runs."""
    if hc is None:
        return None
    cores = cores or len(os.sched_getaffinity(0))
    launcher = hc.launcher
    target = str(launcher.get("_target_", ""))
    if "JoblibLauncher" in target:
        n_jobs = int(launcher.get("n_jobs") or -1)
        parallel = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)  # joblib's -1 = all cores
        return max(1, cores // parallel)
    if "submitit" in target and launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)
    return None


def job_file(hc: Any | None) -> Path | None:
    """``job.json`` in this job's Hydra output folder, in a multirun only."""
    from hydra.types import RunMode

    if hc is None or hc.mode != RunMode.MULTIRUN:
        return None
    return Path(hc.runtime.output_dir) / JOB_FILE


def run_job(cfg: DictConfig) -> Outcome:
    """Run (or resume, or skip) one configuration as a launcher job; never raises for a failure."""
    from threadpoolctl import threadpool_limits

    from bench.runner.experiment import Run, RunFailed

    t0 = time.perf_counter()
    hc = hydra_job()
    record_to = job_file(hc)  # None outside a multirun
    outcome = Outcome(baseline=baseline_label(cfg, hc), seed=int(cfg.seed), status="started",
                      job=None if record_to is None else int(hc.job.num),
                      overrides=[] if hc is None else list(hc.overrides.task))
    threads = threads_for(hc)
    if threads is not None:
        torch.set_num_threads(threads)
    outcome.threads = torch.get_num_threads()
    if record_to is not None:
        atomic_write_json(record_to, outcome.to_json())
    run, handler = None, None
    try:
        with threadpool_limits(limits=threads):
            run = Run(cfg)
            outcome.run_dir = str(run.dir)
            handler = _log_to(run.dir / LOG_FILE)
            with claim(run.dir):
                run.reload()  # the claim's previous holder may have finished or advanced it
                complete = str(cfg.stage) == "all" and run.complete() and not cfg.force
                with time_limit(float(cfg.run_timeout_s), what=f"{outcome.baseline} seed {outcome.seed}"):
                    record = run.execute(str(cfg.stage))
            outcome.status = "skipped" if complete else record.status
    except RunFailed:
        outcome.status = "failed"
        error = run.record.error or {}
        outcome.reason = f"{error.get('stage')}: {error.get('message')}"
        log.error("%s seed %s failed in %s\n%s", outcome.baseline, outcome.seed, outcome.reason,
                  error.get("traceback", ""))
    except Exception as err:  # recorded and returned: the rest of the sweep goes on
        outcome.status = "failed"
        outcome.reason = f"{type(err).__name__}: {err}"
        log.error("%s seed %s failed: %s\n%s", outcome.baseline, outcome.seed, outcome.reason,
                  traceback.format_exc())
        if run is not None:
            _record_failure(run, err)
    finally:
        outcome.seconds = round(time.perf_counter() - t0, 2)
        if handler is not None:
            logging.getLogger("drumbench").removeHandler(handler)
            handler.close()
    if record_to is not None:
        atomic_write_json(record_to, outcome.to_json())
    print(outcome.line(), file=sys.stderr if outcome.status == "failed" else sys.stdout, flush=True)
    return outcome


def _record_failure(run: Any, err: BaseException) -> None:
    """A failure outside any stage (e.g. the time limit between two stages) still reaches run.json."""
    run.record.status = "failed"
    run.record.error = {"stage": None, "message": f"{type(err).__name__}: {err}",
                        "traceback": traceback.format_exc()}
    try:
        run.save()
    except Exception:  # noqa: BLE001 - the outcome already carries the reason
        log.exception("could not write the failure to %s", run.dir)


def _log_to(path: Path) -> logging.Handler:
    """Copy the drumbench log to the run's own file for as long as the job runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("drumbench")
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler
