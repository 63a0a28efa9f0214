"""The embedder contract: audio clips in, one vector per clip out.

Embedders are found by name through :mod:`bench.registry` (built-ins and the
``drumbench.embedders`` entry-point group). The harness resamples clips to ``sample_rate``
before calling :meth:`Embedder.embed` and caches results by
(name, version, sample_rate, content hash), so ``embed`` must be a pure function of its input.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


class EmbedderUnavailable(RuntimeError):
    """The embedder cannot run here (weights or package missing); the message says how to fix."""


@dataclass
class Embedding:
    vectors: np.ndarray                 # (n_clips, dim) float64, one row per input clip
    notes: list[str] = field(default_factory=list)   # e.g. "padded 40 clips shorter than 0.96 s"


class Embedder(abc.ABC):
    name: str
    version: str
    sample_rate: int
    dim: int
    min_seconds: float = 0.0            # clips shorter than this are padded (and it is noted)

    @abc.abstractmethod
    def embed(self, audio: np.ndarray) -> Embedding:
        """``audio``: (n_clips, n_samples) float32 mono at ``self.sample_rate``."""
