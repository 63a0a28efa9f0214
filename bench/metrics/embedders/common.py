"""Small pieces every embedder shares: device choice, input checks, padding to a minimum length."""
from __future__ import annotations

import numpy as np



def check_clips(audio: np.ndarray, embedder: str) -> np.ndarray:
    """``audio`` as a contiguous float32 (n_clips, n_samples) array, or a clear error."""
    audio = np.asarray(audio)
    if audio.ndim != 2:
        raise ValueError(f"{embedder}: expected audio of shape (n_clips, n_samples), got shape {audio.shape}")
    if audio.shape[0] == 0 or audio.shape[1] == 0:
        raise ValueError(f"{embedder}: got an empty batch of shape {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"{embedder}: expected float audio in [-1, 1], got dtype {audio.dtype}")
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if not np.isfinite(audio).all():
        bad = int((~np.isfinite(audio).all(axis=1)).sum())
        raise ValueError(f"{embedder}: {bad} clip(s) contain NaN or infinite samples")
    return audio


def pad_to(audio: np.ndarray, min_samples: int, sample_rate: int, embedder: str) -> tuple[np.ndarray, list[str]]:
    """Zero-pad every clip at the end to ``min_samples``; the note says how much and why."""
    n = audio.shape[1]
    if n >= min_samples:
        return audio, []
    padded = np.zeros((audio.shape[0], min_samples), dtype=audio.dtype)
    padded[:, :n] = audio
    note = (f"padded {audio.shape[0]} clips of {n / sample_rate:.3f} s with zeros to "
            f"{min_samples / sample_rate:.3f} s, the shortest input {embedder} accepts")
    return padded, [note]
