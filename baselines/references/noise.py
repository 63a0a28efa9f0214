"""`noise`: white noise under a drum-like decay envelope — the floor row of every metric.

It accepts a class condition and ignores it, so its class accuracy is the chance floor.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from bench.api.baseline import Baseline, BaselineMeta, Condition, FitSummary


class DecayingNoise(Baseline):
    meta = BaselineMeta(
        name="noise", version="1", capabilities=frozenset({"sample", "conditional"}),
        description="White noise, 1 ms attack, exponential decay with a random time constant "
                    "(reference floor; ignores the class).",
        reference=True,
    )

    def __init__(self, *, min_decay_s: float = 0.03, max_decay_s: float = 0.5,
                 peak: float = 0.89, **kw: Any) -> None:
        super().__init__(**kw)
        self.min_decay_s, self.max_decay_s, self.peak = min_decay_s, max_decay_s, peak

    def fit(self, data, ctx) -> FitSummary:
        ctx.stopped_because = "done"
        return FitSummary(steps=0, wall_s=ctx.elapsed())

    def sample(self, n: int, *, condition: Condition | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        t = torch.arange(self.clip_samples) / self.sample_rate
        u = torch.rand(n, 1, generator=generator)
        decay = torch.exp(math.log(self.min_decay_s) + u * math.log(self.max_decay_s / self.min_decay_s))
        attack = torch.clamp(t / 1e-3, max=1.0)
        env = attack * torch.exp(-t / decay)
        wave = torch.randn(n, self.clip_samples, generator=generator) * env
        wave = wave / wave.abs().amax(dim=1, keepdim=True).clamp_min(1e-9) * self.peak
        return wave.unsqueeze(1)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
