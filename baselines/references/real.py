"""`real`: returns real training clips of the requested class — the ceiling row of every metric."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from bench.api.baseline import Baseline, BaselineMeta, Condition, FitSummary


class RealClips(Baseline):
    meta = BaselineMeta(
        name="real", version="1", capabilities=frozenset({"sample", "conditional"}),
        description="Real training clips of the requested class (reference ceiling). Draws "
                    "without replacement while the class has clips left.",
        reference=True,
    )

    def __init__(self, *, max_per_class: int = 512, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_per_class = int(max_per_class)
        self.bank: list[Tensor] = []

    def fit(self, data, ctx) -> FitSummary:
        g = torch.Generator().manual_seed(ctx.seed)
        self.bank = []
        for c in range(self.num_classes):
            clips = data.train.of_class(c).audio
            keep = torch.randperm(len(clips), generator=g)[: self.max_per_class]
            self.bank.append(clips[keep].clone())
        empty = [data.classes[c] for c, b in enumerate(self.bank) if len(b) == 0]
        if empty:
            raise ValueError(f"no training clips for classes {empty}")
        ctx.log(0, clips=float(sum(len(b) for b in self.bank)))
        ctx.stopped_because = "done"
        return FitSummary(steps=1, wall_s=ctx.elapsed())

    def sample(self, n: int, *, condition: Condition | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        if not self.bank:
            raise RuntimeError("`real` has no clips: call fit() or load_state_dict() first")
        labels = _labels(n, condition, self.num_classes, generator)
        out = torch.empty(n, 1, self.clip_samples)
        for c in labels.unique().tolist():
            where = torch.nonzero(labels == c).flatten()
            bank = self.bank[c]
            order = torch.randperm(len(bank), generator=generator)
            reps = -(-len(where) // len(bank))  # with replacement only once the class runs out
            picks = torch.cat([order] * reps)[: len(where)]
            out[where] = bank[picks]
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"bank": [b.clone() for b in self.bank]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bank = [b.clone() for b in state["bank"]]


def _labels(n: int, condition: Condition | None, num_classes: int,
            generator: torch.Generator | None) -> Tensor:
    """Requested labels, or uniformly random ones when unconditioned."""
    if condition is not None and condition.labels is not None:
        labels = condition.labels.to("cpu", torch.long)
        if labels.shape != (n,):
            raise ValueError(f"condition.labels has shape {tuple(labels.shape)}, expected ({n},)")
        if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"labels must be in [0, {num_classes}), got {labels.tolist()}")
        return labels
    return torch.randint(0, num_classes, (n,), generator=generator)
