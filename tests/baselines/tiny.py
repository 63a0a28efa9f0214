"""The tiny three-class data set the baseline tests train on: a low tone, a high tone and a
noise burst, each with a random exponential decay (seeded), at 8 kHz, 0.5 s."""
from __future__ import annotations

import math

import torch

from bench.data.datamodule import ClipSet, DataModule

RATE, SAMPLES, CLASSES = 8000, 4000, 3


def tiny_clips(per_class: int, seed: int, high_hz: float = 660.0) -> ClipSet:
    """Class 0: decaying 110 Hz tone; class 1: decaying ``high_hz`` tone; class 2: noise burst."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(SAMPLES) / RATE
    audio, labels = [], []
    for label in range(CLASSES):
        for _ in range(per_class):
            decay = 0.05 + 0.1 * torch.rand(1, generator=g)
            if label == 2:
                x = torch.randn(SAMPLES, generator=g)
            else:
                x = torch.sin(2 * math.pi * (110 if label == 0 else high_hz) * t)
            x = x * torch.exp(-t / decay)
            audio.append(0.89 * x / x.abs().max())
            labels.append(label)
    return ClipSet(torch.stack(audio).unsqueeze(1), torch.tensor(labels),
                   [f"c{i}" for i in range(len(labels))])


def tiny_data(per_class: int = 4, high_hz: float = 660.0) -> DataModule:
    return DataModule(classes=["low", "high", "noise"], sample_rate=RATE, clip_samples=SAMPLES,
                      train=tiny_clips(per_class, 0, high_hz), valid=tiny_clips(2, 1, high_hz),
                      test=tiny_clips(2, 2, high_hz), dataset_name="tiny")
