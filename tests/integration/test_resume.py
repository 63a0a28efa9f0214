"""SIGKILL a suite mid-training, run the same command again: it finishes what is left, skips what
is complete, and the resumed baseline ends exactly where an unbroken run with the same seed ends."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from bench.io_atomic import read_jsonl
from bench.runner.app import compose
from bench.runner.experiment import run_experiment
from tests.integration.sweep_helpers import ROOT, cli, cli_command, cli_env, sweep_overrides, wait_for

STEPS, VAL_EVERY = 40, 10
BUDGET = [f"protocol.budget.max_steps={STEPS}", f"protocol.budget.val_every={VAL_EVERY}",
          "protocol.budget.max_wall_s=600"]


def _periodic_checkpoint(runs: Path) -> tuple[Path, int] | None:
    """The VAE's run folder once a mid-training last.pt exists (written at a validation)."""
    for path in runs.glob("smoke@*/*/vae@*/*/seed0/checkpoints/last.pt"):
        try:
            step = int(torch.load(path, map_location="cpu", weights_only=False)["step"])
        except Exception:  # noqa: BLE001 - being replaced right now: look again
            return None
        if VAL_EVERY < step < STEPS:
            return path.parents[1], step
    return None


@pytest.mark.slow
def test_killed_suite_resumes_and_matches_an_unbroken_run(tmp_path, smoke_workspace):
    runs = tmp_path / "runs"
    args = ["suite", "--baselines", "noise,vae_smoke", "--report", str(tmp_path / "site"),
            *sweep_overrides(runs, smoke_workspace, *BUDGET)]
    proc = subprocess.Popen(cli_command(*args), cwd=ROOT, env=cli_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        vae_dir, killed_at = wait_for(lambda: _periodic_checkpoint(runs), 300,
                                      "the VAE's first periodic checkpoint", proc)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert json.loads((vae_dir / "run.json").read_text())["stages"]["fit"]["status"] == "running"
    noise_json = next(runs.glob("smoke@*/*/noise@*/*/seed0/run.json"))
    assert json.loads(noise_json.read_text())["status"] == "ok"  # finished before the kill
    noise_mtime = noise_json.stat().st_mtime_ns

    again = cli(*args)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "[skipped] noise seed 0" in again.stdout and "[ok] vae_smoke seed 0" in again.stdout
    assert noise_json.stat().st_mtime_ns == noise_mtime  # complete: not touched again
    events = read_jsonl(vae_dir / "events.jsonl")
    resumed = [e for e in events if e["kind"] == "resume"]
    assert [e["step"] for e in resumed] == [killed_at]
    assert [e["step"] for e in events if e["kind"] == "train"] == list(range(STEPS))  # each once
    assert (tmp_path / "site" / "index.html").exists()

    # the same configuration, never interrupted, with the threads the killed run had
    record = json.loads((vae_dir / "run.json").read_text())
    torch.set_num_threads(int(record["provenance"]["torch_threads"]))
    unbroken = run_experiment(compose(sweep_overrides(tmp_path / "unbroken", smoke_workspace,
                                                      "baseline=vae_smoke", *BUDGET)))
    other = Path(unbroken["run_dir"])
    assert other.name == vae_dir.name and other.parent.name == vae_dir.parent.name  # same signature
    assert record["stages"]["fit"]["summary"]["best_value"] == \
        unbroken["stages"]["fit"]["summary"]["best_value"]
    for metric in ("fad_mfcc", "params"):
        a = json.loads((vae_dir / "metrics" / f"{metric}.json").read_text())["value"]
        b = json.loads((other / "metrics" / f"{metric}.json").read_text())["value"]
        assert a == b, (metric, a, b)
    mine = torch.load(vae_dir / "checkpoints" / "last.pt", weights_only=False)["state"]["modules"]
    theirs = torch.load(other / "checkpoints" / "last.pt", weights_only=False)["state"]["modules"]
    for module, tensors in theirs.items():
        for name, value in tensors.items():
            assert torch.equal(mine[module][name], value), (module, name)


@pytest.mark.slow
def test_force_trains_afresh_instead_of_resuming(tmp_path, smoke_workspace):
    """`force=true` on a complete run is a new run: it must not resume from the old `last.pt`
    (whose spent budget would end the fit at once) nor keep the old run's training log."""
    overrides = sweep_overrides(tmp_path / "runs", smoke_workspace, "baseline=vae_smoke", *BUDGET)
    first = run_experiment(compose(overrides))
    run_dir = Path(first["run_dir"])
    (run_dir / "metrics" / "stale_metric.json").write_text("{}")
    again = run_experiment(compose([*overrides, "force=true"]))
    assert Path(again["run_dir"]) == run_dir and again["status"] == "ok"
    assert again["stages"]["fit"]["summary"]["steps"] == STEPS
    events = read_jsonl(run_dir / "events.jsonl")
    assert not [e for e in events if e["kind"] == "resume"]
    assert [e["step"] for e in events if e["kind"] == "train"] == list(range(STEPS))  # once, afresh
    assert not (run_dir / "metrics" / "stale_metric.json").exists()
    assert (run_dir / "metrics" / "fad_mfcc.json").exists()
