"""FitContext: what the harness hands a baseline's ``fit``.

It carries the protocol's budget and owns the training log (``events.jsonl``), the validation
loop (the protocol's cheap validation metric, lower is better, used to keep the best checkpoint)
and checkpoint/resume. A baseline calls, in its loop::

    batches = ctx.batches(data, batch_size)     # one batch per step; resumes the same order
    for step in range(ctx.start_step, 10**9):
        if ctx.should_stop(step): break
        loss = ...
        ctx.log(step, loss=loss.item())          # raises NonFiniteLoss on NaN/inf
        if ctx.should_validate(step): ctx.validate(step)

Every ``validate`` also writes ``checkpoints/last.pt`` with what a killed run needs to go on as if
it had never stopped: the baseline's state (weights and optimisers), the step to train next, the
wall time spent, the best validation so far and the RNG states (torch, CUDA, NumPy, Python). The
data order is replayed, not stored: ``ctx.generator`` restarts from the seed and ``batches``
skips the batches already trained on.
"""
from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.io_atomic import atomic_torch_save, atomic_write_jsonl, read_jsonl
from bench.progress import bar


class NonFiniteLoss(RuntimeError):
    """A logged training value was NaN or infinite: the run stops as ``failed``."""


class NonFiniteGradient(NonFiniteLoss):
    """The loss was finite but its gradient was not: the update would have made every weight NaN."""


@dataclass(frozen=True)
class Budget:
    max_steps: int
    max_wall_s: float
    batch_size: int
    val_every: int


class FitContext:
    def __init__(self, *, budget: Budget, device: torch.device, seed: int, run_dir: Path,
                 baseline: Any, validate_fn: Callable[[], float] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.device = device
        self.seed = seed
        self.run_dir = Path(run_dir)
        self.generator = torch.Generator().manual_seed(seed)
        self._baseline = baseline
        self._validate_fn = validate_fn
        self._clock = clock
        self._t0 = clock()
        self.best_value: float | None = None
        self.best_step: int | None = None
        self.stopped_because = "running"
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self._events = open(self.run_dir / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.start_step = 0
        self._bar = None  # the training-steps progress bar, made at the first log

    # --- budget ---------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self._clock() - self._t0

    def should_stop(self, step: int) -> bool:
        """True once ``step`` reaches max_steps or the wall budget is spent."""
        if step >= self.budget.max_steps:
            self.stopped_because = "max_steps"
            return True
        if self.elapsed() >= self.budget.max_wall_s:
            self.stopped_because = "max_wall_s"
            return True
        return False

    def should_validate(self, step: int) -> bool:
        return self.budget.val_every > 0 and step > 0 and step % self.budget.val_every == 0

    # --- logging --------------------------------------------------------------------------
    def log(self, step: int, **values: float) -> None:
        """Append one training record; a non-finite value stops the run."""
        clean = {k: float(v) for k, v in values.items()}
        bad = [k for k, v in clean.items() if not math.isfinite(v)]
        self._write({"kind": "train", "step": step, "t": round(self.elapsed(), 4), **clean})
        self._progress(step, clean)
        if bad:
            raise NonFiniteLoss(f"non-finite training value(s) {bad} at step {step}: {clean}")

    def _progress(self, step: int, values: dict[str, float]) -> None:
        if self._bar is None:
            self._bar = bar(total=self.budget.max_steps, desc="fit", initial=step, unit="step")
        self._bar.update(max(0, step + 1 - self._bar.n))
        if "loss" in values:
            self._bar.set_postfix(loss=f"{values['loss']:.4g}", refresh=False)

    def _write(self, record: dict[str, Any]) -> None:
        self._events.write(json.dumps(record, allow_nan=True) + "\n")
        self._events.flush()

    # --- validation and checkpoints -------------------------------------------------------
    def validate(self, step: int) -> float | None:
        """Run the protocol's validation metric; keep ``checkpoints/best.pt`` when it improves;
        then write the resume point ``checkpoints/last.pt`` (``step`` is the step just trained)."""
        value = self._validation(step)
        self.checkpoint(step + 1)
        return value

    def _validation(self, step: int) -> float | None:
        if self._validate_fn is None:
            return None
        self._baseline.eval()
        with torch.no_grad():
            value = float(self._validate_fn())
        self._baseline.train()
        improved = math.isfinite(value) and (self.best_value is None or value < self.best_value)
        self._write({"kind": "valid", "step": step, "t": round(self.elapsed(), 4),
                     "value": value, "best": improved})
        if improved:
            self.best_value, self.best_step = value, step
            self.checkpoint(step, name="best.pt")
        return value

    def checkpoint(self, step: int, name: str = "last.pt") -> Path:
        """Save the baseline's state as ``name``; ``step`` counts the steps trained so far.
        ``last.pt`` also carries the resume state (clock, best validation, RNGs)."""
        path = self.ckpt_dir / name
        payload: dict[str, Any] = {"step": step, "state": self._baseline.state_dict()}
        if name == "last.pt":
            payload["resume"] = {"elapsed": self.elapsed(), "best_value": self.best_value,
                                 "best_step": self.best_step, "rng": rng_state()}
        atomic_torch_save(payload, path)
        return path

    def resume(self) -> dict[str, Any] | None:
        """Load ``checkpoints/last.pt`` into the baseline if present: sets ``start_step``, moves
        the wall clock on by the time already spent, restores the best validation so far and
        the RNG states, and cuts ``events.jsonl`` back to the checkpoint (a killed run logged
        steps after it that the resumed run trains again)."""
        path = self.ckpt_dir / "last.pt"
        if not path.exists():
            return None
        payload = torch.load(path, map_location="cpu", weights_only=False)
        self._baseline.load_state_dict(payload["state"])
        self.start_step = int(payload["step"])
        extra = payload.get("resume")
        if extra is not None:
            self._t0 = self._clock() - float(extra["elapsed"])
            self.best_value, self.best_step = extra["best_value"], extra["best_step"]
            set_rng_state(extra["rng"])
        self._truncate_events()
        return payload

    def batches(self, data: Any, batch_size: int):
        """The training split's shuffled batches, one per step: a resumed run skips the
        ``start_step`` batches it already trained on, so it sees the order an unbroken run sees."""
        return data.train_batches(batch_size, self.generator, self.device, skip=self.start_step)

    def _truncate_events(self) -> None:
        self._events.close()
        path = self.run_dir / "events.jsonl"
        kept = [r for r in read_jsonl(path) if int(r.get("step", 0)) < self.start_step]
        kept.append({"kind": "resume", "step": self.start_step, "t": round(self.elapsed(), 4)})
        atomic_write_jsonl(path, kept)
        self._events = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._events.close()


def rng_state() -> dict[str, Any]:
    """Every global RNG a training step may draw from."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
