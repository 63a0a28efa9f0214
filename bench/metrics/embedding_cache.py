"""Embeddings cached on disk by (embedder, version, sample rate, content hash).

Scoring five baselines against the same real test split embeds the real clips once. The cache
also resamples clips to the embedder's rate and keeps the embedder's notes (padding etc.) so
metrics can report them.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.api.embedder import Embedder
from bench.io_atomic import atomic_write_with
from bench.data.preprocess import resample
from bench import registry


class EmbeddingCache:
    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder else None
        self._embedders: dict[str, Embedder] = {}
        self.notes: dict[str, list[str]] = {}
        self.hits = 0
        self.misses = 0

    def embedder(self, name: str) -> Embedder:
        if name not in self._embedders:
            self._embedders[name] = registry.embedder(name)
        return self._embedders[name]

    def embed(self, name: str, clips: np.ndarray, sample_rate: int) -> np.ndarray:
        emb = self.embedder(name)
        clips = np.ascontiguousarray(clips, dtype=np.float32)
        if clips.ndim == 3:
            clips = clips[:, 0]
        key = hashlib.sha256(f"{emb.name}|{emb.version}|{emb.sample_rate}|{sample_rate}|{clips.shape}".encode()
                             + clips.tobytes()).hexdigest()[:32]
        path = self.folder / f"{emb.name}-{emb.version}" / f"{key}.npz" if self.folder else None
        if path is not None and path.exists():
            with np.load(path, allow_pickle=False) as z:
                self.hits += 1
                self._note(name, [str(n) for n in z["notes"]])
                return z["vectors"]
        self.misses += 1
        audio = resample(clips, sample_rate, emb.sample_rate)  # batched; no-op at equal rates
        result = emb.embed(audio)
        vectors = np.asarray(result.vectors, dtype=np.float64)
        if vectors.shape[0] != len(clips):
            raise ValueError(f"embedder {name!r} returned {vectors.shape[0]} vectors for {len(clips)} clips")
        self._note(name, result.notes)
        if path is not None:
            notes = np.asarray(result.notes, dtype=str)
            atomic_write_with(path, lambda tmp: np.savez(tmp, vectors=vectors, notes=notes))
        return vectors

    def _note(self, name: str, notes: list[str]) -> None:
        seen = self.notes.setdefault(name, [])
        seen.extend(n for n in notes if n not in seen)
