"""Build a :class:`ScoreContext` from arrays, for metric tests.

``make_context`` gives a context whose ``embed`` resolves embedders by name through the registry
(``mel``, ``aisfx``, ...), resamples to the embedder's rate, and memoises by content, so a test
that scores several metrics embeds each set once. ``embed("classifier", x)`` is routed to the
reference classifier's features, as the scorer does.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from bench.api.metric import ScoreContext
from bench.protocol import ProtocolConfig


def smoke_protocol(sample_rate: int = 16000, bootstrap: int = 50) -> ProtocolConfig:
    """A protocol at test sizes (50 bootstrap resamples)."""
    return ProtocolConfig(name="smoke", version="t", sample_rate=int(sample_rate),
                          bootstrap=int(bootstrap))


class CachedEmbed:
    """``(name, clips) -> (N, D) float64``, memoised by (name, sample rate, content hash)."""

    def __init__(self, sample_rate: int, memo: dict | None = None):
        self.sample_rate = int(sample_rate)
        self.context: ScoreContext | None = None
        self.misses = 0
        self._embedders: dict[str, Any] = {}
        self._memo: dict[tuple[str, str], np.ndarray] = {} if memo is None else memo

    def __call__(self, name: str, clips: np.ndarray) -> np.ndarray:
        if name == "classifier":
            from bench.metrics.classifier import get_reference_classifier

            return get_reference_classifier(self.context).features(clips)
        clips = np.ascontiguousarray(clips, dtype=np.float32)
        digest = hashlib.sha256(f"{clips.shape}".encode() + clips.tobytes()).hexdigest()
        if (name, digest) not in self._memo:
            from bench import registry
            from bench.data.preprocess import resample

            if name not in self._embedders:
                self._embedders[name] = registry.embedder(name)
            emb = self._embedders[name]
            vectors = emb.embed(resample(clips, self.sample_rate, emb.sample_rate)).vectors
            self._memo[(name, digest)] = np.asarray(vectors, dtype=np.float64)
            self.misses += 1
        return self._memo[(name, digest)].copy()


def make_context(generated, generated_labels, real_test, real_test_labels, real_train,
                 real_train_labels, classes, *, sample_rate: int = 16000, baseline=None,
                 capabilities=frozenset(), embed: Callable | None = None,
                 artefacts_dir: str | Path | None = None, protocol: Any = None,
                 seed: int = 0, embed_memo: dict | None = None) -> ScoreContext:
    """A ScoreContext over in-memory arrays; ``embed`` defaults to a fresh :class:`CachedEmbed`
    (pass one ``embed_memo`` dict to several contexts to embed each set once)."""
    cached = CachedEmbed(sample_rate, embed_memo) if embed is None else None
    ctx = ScoreContext(
        generated=np.asarray(generated, dtype=np.float32),
        generated_labels=np.asarray(generated_labels, dtype=np.int64),
        real_test=np.asarray(real_test, dtype=np.float32),
        real_test_labels=np.asarray(real_test_labels, dtype=np.int64),
        real_train=np.asarray(real_train, dtype=np.float32),
        real_train_labels=np.asarray(real_train_labels, dtype=np.int64),
        classes=list(classes), sample_rate=int(sample_rate),
        protocol=protocol if protocol is not None else smoke_protocol(sample_rate),
        embed=embed if embed is not None else cached, capabilities=frozenset(capabilities),
        baseline=baseline, device=torch.device("cpu"), seed=seed,
        artefacts_dir=Path(artefacts_dir) if artefacts_dir is not None else None)
    if cached is not None:
        cached.context = ctx
    return ctx


def drum_clips(seed: int, per_class: int, *, sample_rate: int = 16000, seconds: float = 1.0,
               classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """synthkit clips and their class ids (``classes``: keep only the first that many)."""
    from bench.data.drum_synth import CLASSES, generate

    rows = [r for r in generate(seed, per_class, sample_rate=sample_rate, seconds=seconds)
            if classes is None or CLASSES.index(r[1]) < classes]
    return np.stack([r[2] for r in rows]), np.asarray([CLASSES.index(r[1]) for r in rows])


def decaying_noise(n: int, samples: int, sample_rate: int, *, seed: int = 0,
                   max_decay_s: float = 0.5) -> np.ndarray:
    """White noise under exponential decays of 30 ms to ``max_decay_s``: the `noise` row's sound."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / sample_rate
    decay = rng.uniform(0.03, max_decay_s, (n, 1))
    return (0.5 * rng.standard_normal((n, samples)) * np.exp(-t / decay)).astype(np.float32)
