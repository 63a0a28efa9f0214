"""Parallel jobs through Hydra's launchers on one runs folder, and the per-run claim."""
from __future__ import annotations

import json
import subprocess

import pytest

from bench.runner.app import compose
from bench.runner.claims import claim, holder
from bench.runner.experiment import Run
from tests.integration.sweep_helpers import ROOT, cli, cli_command, cli_env, sweep_overrides, wait_for


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_two_parallel_jobs_share_one_runs_dir(tmp_path, smoke_workspace, launcher):
    runs, site = tmp_path / "runs", tmp_path / "site"
    extra = ["hydra.launcher.n_jobs=2"] if launcher == "joblib" else ["hydra.launcher.cpus_per_task=1"]
    out = cli("suite", "--baselines", "real,noise", "--report", str(site),
              *sweep_overrides(runs, smoke_workspace, f"hydra/launcher={launcher}", *extra))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "2 of 2 runs complete, 0 failed" in out.stdout
    jobs = [json.loads(p.read_text()) for p in runs.glob(".sweeps/*/*/job.json")]
    assert sorted(j["baseline"] for j in jobs) == ["noise", "real"]
    assert all(j["status"] == "ok" and j["threads"] == 1 for j in jobs), jobs  # 2 jobs × 1 = cores
    pids = set()
    for name in ("real", "noise"):
        run_dir = next(runs.glob(f"smoke@*/*/{name}@*/*/seed0"))
        record = json.loads((run_dir / "run.json").read_text())
        assert record["status"] == "ok", (name, record["error"])
        assert all(json.loads(p.read_text())["status"] == "ok" for p in (run_dir / "metrics").glob("*.json"))
        pids.add(holder(run_dir)["pid"])
    assert len(pids) == 2  # each run trained in its own worker process
    assert "noise" in (site / "index.html").read_text()


@pytest.mark.slow
def test_a_second_job_waits_for_the_claim_of_the_same_signature(tmp_path, smoke_workspace):
    """This process holds the run's claim as a job would; a `drumbench run` of the same
    configuration waits, writes nothing, and runs once the claim is let go."""
    args = sweep_overrides(tmp_path / "runs", smoke_workspace, "baseline=noise")
    run_dir = Run(compose(args)).dir
    log = tmp_path / "second.log"
    with claim(run_dir), open(log, "w") as sink:
        second = subprocess.Popen(cli_command("run", *args), cwd=ROOT, env=cli_env(),
                                  stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: "is claimed by" in log.read_text(), 300, "the second job to wait", second)
            assert not (run_dir / "run.json").exists()  # it waits before touching the run
        except BaseException:
            second.kill()
            raise
    assert second.wait(timeout=300) == 0, log.read_text()[-3000:]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "ok"
    assert holder(run_dir)["pid"] == second.pid and holder(run_dir)["waited"] is True


@pytest.mark.slow
def test_perf_times_one_suite_and_keeps_its_log(tmp_path, smoke_workspace):
    """`drumbench perf --only suite` runs the suite in a child and writes its wall time, exit code
    and summary into the JSON, with the child's whole output kept beside it."""
    suite = " ".join(["--baselines noise", f"--report {tmp_path / 'site'}",
                      *sweep_overrides(tmp_path / "runs", smoke_workspace)])
    out_json = tmp_path / "perf.json"
    out = cli("perf", "-o", str(out_json), "--only", "suite", "--suite", suite)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads(out_json.read_text())["results"]
    assert set(result) == {"suite"}   # no other benchmark ran
    assert result["suite"]["exit_code"] == 0 and result["suite"]["seconds"] > 0
    assert "1 of 1 runs complete, 0 failed" in result["suite"]["summary"]
    log = (tmp_path / "perf.suite.log").read_text()
    assert "[ok] noise" in log and str(tmp_path / "site") in log
