"""DataModule: the preprocessed clips of one dataset under one protocol, split and batched.

Built by :func:`bench.data.build.load_datamodule` from the manifest, the persisted split and the
preprocessed-clip cache; baselines only ever see this object.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from bench.api.batch import Batch  # noqa: F401  (defined in the contract; importable here too)


@dataclass
class ClipSet:
    """One split: audio ``(N, 1, T)`` float32 in [-1, 1], class ids ``(N,)``, per-clip extras."""

    audio: Tensor
    labels: Tensor
    ids: list[str]
    extra: dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: Tensor) -> "ClipSet":
        idx = index.tolist()
        return ClipSet(self.audio[index], self.labels[index], [self.ids[i] for i in idx],
                       {k: v[index] for k, v in self.extra.items()})

    def of_class(self, label: int) -> "ClipSet":
        return self.subset(torch.nonzero(self.labels == label).flatten())


@dataclass
class DataModule:
    classes: list[str]
    sample_rate: int
    clip_samples: int
    train: ClipSet
    valid: ClipSet
    test: ClipSet
    dataset_name: str = ""
    manifest_hash: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def train_batches(self, batch_size: int, generator: torch.Generator,
                      device: torch.device | str = "cpu", *, skip: int = 0) -> Iterator[Batch]:
        """Endless shuffled batches of the training split (reshuffled each epoch, seeded).
        ``skip`` leaves out the first ``skip`` batches without building them, so a run resumed
        at step ``skip`` sees the batches an unbroken run would."""
        n = len(self.train)
        if n == 0:
            raise ValueError(f"dataset {self.dataset_name!r} has an empty training split")
        batch_size = min(batch_size, n)
        per_epoch = n // batch_size
        for _ in range(skip // per_epoch):
            torch.randperm(n, generator=generator)  # the epochs already trained on
        first = (skip % per_epoch) * batch_size
        while True:
            order = torch.randperm(n, generator=generator)
            for start in range(first, n - batch_size + 1, batch_size):
                idx = order[start:start + batch_size]
                yield Batch(self.train.audio[idx], self.train.labels[idx],
                            {k: v[idx] for k, v in self.train.extra.items()}).to(device)
            first = 0
