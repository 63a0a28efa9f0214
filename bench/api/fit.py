"""FitContext: what the harness hands a baseline's ``fit``.

It carries the protocol's budget and owns the training log (``events.jsonl``), the validation
loop (the protocol's cheap validation metric, lower is better, used to keep the best checkpoint)
and checkpoint/resume. A baseline calls, in its loop::

    for step in range(ctx.start_step, 10**9):
        if ctx.should_stop(step): break
        loss = ...
        ctx.log(step, loss=loss.item())          # raises NonFiniteLoss on NaN/inf
        if ctx.should_validate(step): ctx.validate(step)
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.io_atomic import atomic_torch_save


class NonFiniteLoss(RuntimeError):
    """A logged training value was NaN or infinite: the run stops as ``failed``."""


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
        if bad:
            raise NonFiniteLoss(f"non-finite training value(s) {bad} at step {step}: {clean}")

    def _write(self, record: dict[str, Any]) -> None:
        self._events.write(json.dumps(record, allow_nan=True) + "\n")
        self._events.flush()

    # --- validation and checkpoints -------------------------------------------------------
    def validate(self, step: int) -> float | None:
        """Run the protocol's validation metric; keep ``checkpoints/best.pt`` when it improves."""
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
        path = self.ckpt_dir / name
        atomic_torch_save({"step": step, "state": self._baseline.state_dict()}, path)
        return path

    def resume(self) -> dict[str, Any] | None:
        """Load ``checkpoints/last.pt`` into the baseline if present; sets ``start_step``."""
        path = self.ckpt_dir / "last.pt"
        if not path.exists():
            return None
        payload = torch.load(path, map_location="cpu", weights_only=False)
        self._baseline.load_state_dict(payload["state"])
        self.start_step = int(payload["step"])
        return payload

    def close(self) -> None:
        self._events.close()
