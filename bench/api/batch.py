"""The fit input: one shuffled training batch, as :meth:`DataModule.train_batches` yields it.

A contract type (baselines type their ``training_step`` with it), so it lives in ``bench.api``
beside the baseline contract; ``bench.data.datamodule`` makes the batches.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Batch:
    audio: Tensor                  # (B, 1, T) float32 in [-1, 1]
    labels: Tensor                 # (B,) class ids
    extra: dict[str, Tensor]       # per-clip descriptors (synthkit factors), each (B,)

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.audio.to(device), self.labels.to(device),
                     {k: v.to(device) for k, v in self.extra.items()})
