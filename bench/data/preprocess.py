"""Turn one decoded file into one protocol clip: mono, resampled, onset-aligned, fixed length,
faded, normalised. The protocol's ``preprocess`` block decides each step, so all baselines see
exactly the same clips.
"""
from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF

from bench.protocol import PreprocessConfig


def to_mono(audio: np.ndarray) -> np.ndarray:
    """``(channels, frames)`` → ``(frames,)`` by averaging channels."""
    return audio.mean(axis=0) if audio.ndim == 2 else audio


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return audio.astype(np.float32, copy=False)
    wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    return AF.resample(wave, sr_in, sr_out).numpy()


def onset_index(audio: np.ndarray, threshold_db: float) -> int:
    """First sample whose magnitude reaches ``threshold_db`` relative to the clip's peak."""
    mag = np.abs(audio)
    peak = float(mag.max()) if mag.size else 0.0
    if peak <= 0.0:
        return 0
    above = np.flatnonzero(mag >= peak * 10 ** (threshold_db / 20))
    return int(above[0]) if above.size else 0


def fit_length(audio: np.ndarray, n: int, fade: int) -> np.ndarray:
    """Crop to ``n`` samples with a raised-cosine fade-out of ``fade`` samples, or zero-pad."""
    if audio.shape[-1] >= n:
        out = audio[..., :n].copy()
        if fade > 0:
            fade = min(fade, n)
            out[..., n - fade:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade)))
        return out
    pad = np.zeros(audio.shape[:-1] + (n - audio.shape[-1],), dtype=audio.dtype)
    return np.concatenate([audio, pad], axis=-1)


def normalise(audio: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    peak = float(np.abs(audio).max())
    if peak == 0.0 or cfg.normalize == "none":
        return audio
    if cfg.normalize == "peak":
        return audio * (10 ** (cfg.peak_dbfs / 20) / peak)
    if cfg.normalize == "rms":
        rms = float(np.sqrt(np.mean(audio**2)))
        gain = 10 ** (cfg.rms_dbfs / 20) / max(rms, 1e-12)
        return audio * min(gain, 10 ** (cfg.peak_dbfs / 20) / peak)  # never clip
    raise ValueError(f"protocol.preprocess.normalize must be peak, rms or none; got {cfg.normalize!r}")


def preprocess_clip(audio: np.ndarray, sr_in: int, *, sample_rate: int, clip_samples: int,
                    cfg: PreprocessConfig) -> np.ndarray:
    """``(channels, frames)`` float32 at ``sr_in`` → ``(clip_samples,)`` float32 at ``sample_rate``."""
    mono = to_mono(audio) if cfg.mono else audio[0]
    if cfg.align_onset:
        start = onset_index(mono, cfg.onset_threshold_db)
        start = max(0, start - int(cfg.pre_onset_ms * 1e-3 * sr_in))
        mono = mono[start:]
        # only as much as we need: avoids resampling 30 s when the clip keeps 1 s
    keep = int(np.ceil(clip_samples * sr_in / sample_rate)) + 64
    wave = resample(mono[:keep], sr_in, sample_rate)
    wave = fit_length(wave, clip_samples, int(cfg.fade_out_ms * 1e-3 * sample_rate))
    return np.clip(normalise(wave, cfg), -1.0, 1.0).astype(np.float32)
