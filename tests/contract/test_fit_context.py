"""FitContext: budget, logging, NaN guard, best-checkpoint selection, resume."""
from __future__ import annotations

import math

import pytest
import torch

from bench.api.fit import Budget, FitContext, NonFiniteLoss
from bench.io_atomic import read_jsonl


class _Model:
    def __init__(self):
        self.w = torch.zeros(1)

    def state_dict(self):
        return {"w": self.w.clone()}

    def load_state_dict(self, s):
        self.w = s["w"].clone()

    def eval(self):
        return self

    def train(self):
        return self


def _ctx(tmp_path, model, values=None, **budget):
    b = Budget(**{"max_steps": 10, "max_wall_s": 100.0, "batch_size": 2, "val_every": 2, **budget})
    it = iter(values or [])
    return FitContext(budget=b, device=torch.device("cpu"), seed=0, run_dir=tmp_path, baseline=model,
                      validate_fn=(lambda: next(it)) if values else None)


def test_budget_steps_and_wall_clock(tmp_path):
    ctx = _ctx(tmp_path, _Model(), max_steps=3)
    assert not ctx.should_stop(2) and ctx.should_stop(3)
    assert ctx.stopped_because == "max_steps"
    clock = iter([0.0, 5.0, 50.0])
    ctx2 = FitContext(budget=Budget(100, 10.0, 2, 0), device=torch.device("cpu"), seed=0,
                      run_dir=tmp_path / "b", baseline=_Model(), clock=lambda: next(clock))
    assert not ctx2.should_stop(1)
    assert ctx2.should_stop(2) and ctx2.stopped_because == "max_wall_s"


def test_log_writes_events_and_refuses_nan(tmp_path):
    ctx = _ctx(tmp_path, _Model())
    ctx.log(0, loss=1.5)
    with pytest.raises(NonFiniteLoss, match="loss"):
        ctx.log(1, loss=math.nan)
    ctx.close()
    rows = read_jsonl(tmp_path / "events.jsonl")
    assert rows[0]["loss"] == 1.5 and rows[0]["kind"] == "train"
    assert len(rows) == 2  # the bad value is logged too, then the run stops


def test_validation_keeps_the_best_checkpoint(tmp_path):
    model = _Model()
    ctx = _ctx(tmp_path, model, values=[3.0, 1.0, 2.0])
    for step, w in ((2, 1.0), (4, 2.0), (6, 3.0)):
        model.w = torch.tensor([w])
        ctx.validate(step)
    assert ctx.best_step == 4 and ctx.best_value == 1.0
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=False)
    assert best["step"] == 4 and float(best["state"]["w"]) == 2.0
    ctx.close()
    valid = [r for r in read_jsonl(tmp_path / "events.jsonl") if r["kind"] == "valid"]
    assert [r["best"] for r in valid] == [True, True, False]


def test_resume_restores_state_and_step(tmp_path):
    model = _Model()
    model.w = torch.tensor([7.0])
    ctx = _ctx(tmp_path, model)
    ctx.checkpoint(5)
    other = _Model()
    ctx2 = _ctx(tmp_path, other)
    assert ctx2.resume() is not None
    assert ctx2.start_step == 5 and float(other.w) == 7.0
