"""The pieces a long sweep rests on, in-process and fast: the data order a resumed run replays,
the resume state in last.pt, the time limit, threads per job, reading job outcomes, and writes
of one shared file by two jobs."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from bench.api.fit import Budget, FitContext
from bench.data.datamodule import ClipSet, DataModule
from bench.io_atomic import atomic_write_with, read_jsonl
from bench.runner.job import threads_for
from bench.runner.launch import read_outcomes, summary_table, SweepResult
from bench.runner.time_limit import RunTimeout, time_limit


def _data(n: int = 10) -> DataModule:
    audio = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1).expand(n, 1, 4).contiguous()
    clips = ClipSet(audio, torch.zeros(n, dtype=torch.long), [str(i) for i in range(n)])
    return DataModule(["a"], 8000, 4, clips, clips.subset(torch.arange(2)), clips.subset(torch.arange(2)))


@pytest.mark.parametrize("skip", [0, 1, 3, 4, 7, 11])
def test_skipped_batches_are_the_ones_an_unbroken_stream_would_give(skip):
    data = _data(10)  # 3 batches of 3 per epoch (one clip left over each epoch)
    unbroken = data.train_batches(3, torch.Generator().manual_seed(5))
    expected = [next(unbroken).audio[:, 0, 0].tolist() for _ in range(skip + 4)][skip:]
    resumed = data.train_batches(3, torch.Generator().manual_seed(5), skip=skip)
    assert [next(resumed).audio[:, 0, 0].tolist() for _ in range(4)] == expected


class _Weights:
    def __init__(self):
        self.w = torch.zeros(3)

    def state_dict(self):
        return {"w": self.w.clone()}

    def load_state_dict(self, state):
        self.w = state["w"].clone()

    def eval(self):
        return self

    def train(self):
        return self


def test_last_checkpoint_carries_what_a_resumed_run_needs(tmp_path):
    values = iter([2.0, 1.0, 3.0])
    budget = Budget(max_steps=100, max_wall_s=1000.0, batch_size=2, val_every=2)
    model = _Weights()
    ctx = FitContext(budget=budget, device=torch.device("cpu"), seed=0, run_dir=tmp_path,
                     baseline=model, validate_fn=lambda: next(values))
    for step in range(6):
        ctx.log(step, loss=float(step))
        model.w += 1
        if ctx.should_validate(step):
            ctx.validate(step)     # steps 2 and 4: last.pt says "train step 5 next"
    torch.manual_seed(123)
    np.random.seed(7)
    expected = (torch.rand(2), np.random.rand(2))
    ctx.close()
    resumed_model = _Weights()
    ctx2 = FitContext(budget=budget, device=torch.device("cpu"), seed=0, run_dir=tmp_path,
                      baseline=resumed_model)
    torch.manual_seed(999)  # resume must put the RNGs back, whatever happened since
    ctx2.resume()
    assert ctx2.start_step == 5 and float(resumed_model.w[0]) == 5.0
    assert (ctx2.best_step, ctx2.best_value) == (4, 1.0)
    assert ctx2.elapsed() >= 0
    events = read_jsonl(tmp_path / "events.jsonl")
    assert [e["step"] for e in events if e["kind"] == "train"] == [0, 1, 2, 3, 4]  # step 5 re-trained
    assert events[-1] == {"kind": "resume", "step": 5, "t": events[-1]["t"]}
    ctx2.close()
    torch.manual_seed(123), np.random.seed(7)
    assert torch.equal(torch.rand(2), expected[0]) and np.array_equal(np.random.rand(2), expected[1])


def test_time_limit_interrupts_a_sleeping_run():
    t0 = time.monotonic()
    with pytest.raises(RunTimeout, match="run_timeout_s=0.2"):
        with time_limit(0.2, what="sleeper"):
            time.sleep(30)
    assert time.monotonic() - t0 < 10
    with time_limit(0):  # no limit
        time.sleep(0.01)


def _hydra(target: str, **launcher):
    return OmegaConf.create({"launcher": {"_target_": target, **launcher}})


def test_parallel_jobs_times_threads_is_the_cores():
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert threads_for(_hydra(joblib, n_jobs=2), cores=16) == 8
    assert threads_for(_hydra(joblib, n_jobs=-1), cores=16) == 1      # joblib: one job per core
    assert threads_for(_hydra(joblib, n_jobs=-2), cores=16) == 1
    assert threads_for(_hydra(joblib, n_jobs=32), cores=16) == 1
    submitit = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert threads_for(_hydra(submitit, cpus_per_task=6), cores=64) == 6
    assert threads_for(_hydra("hydra._internal.core_plugins.basic_launcher.BasicLauncher")) is None
    assert threads_for(None) is None


def test_a_job_that_died_shows_as_failed(tmp_path):
    base = {"seed": 0, "seconds": 1.0, "overrides": [], "threads": 1, "reason": None}
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "job.json").write_text(json.dumps({**base, "baseline": "vae", "status": "ok",
                                                         "job": 0, "run_dir": "runs/x"}))
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "job.json").write_text(json.dumps({**base, "baseline": "aae", "status": "started",
                                                         "job": 1, "run_dir": "runs/y"}))
    outcomes = read_outcomes(tmp_path)
    assert [(o.baseline, o.status) for o in outcomes] == [("vae", "ok"), ("aae", "failed")]
    assert "ended without reporting" in outcomes[1].reason
    table = summary_table(SweepResult(tmp_path, outcomes))
    assert "1 of 2 runs complete, 1 failed" in table and "ended without reporting" in table


def test_two_writers_of_one_shared_file_never_rename_each_other_s_temp_file(tmp_path):
    """Parallel jobs write the same listening clips into the shared data folder. Here a second
    writer runs to completion while the first is between its write and its rename, the
    interleaving that failed a joblib suite's `real` row (FileNotFoundError on the rename) when
    the temp name was fixed per target."""
    target = tmp_path / "00-kick" / "real_00.wav"

    def inner(tmp):
        tmp.write_bytes(b"second")

    def outer(tmp):
        tmp.write_bytes(b"first")
        atomic_write_with(target, inner)

    atomic_write_with(target, outer)
    assert target.read_bytes() == b"first"            # the later rename wins, whole
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left
