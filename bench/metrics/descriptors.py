"""Per-clip audio descriptors shared by the latent and reconstruction metrics.

Small torch functions that take a batch of mono clips ``(N, T)`` (or ``(N, 1, T)``) on any device
and return one number per clip (or one curve per clip): spectral centroid, RMS level in dB, the
spectral-flux curve and the onset time read from it. Plus the bootstrap CI that both metric
families report over their per-clip (or per-path) values.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

#: Level given to a silent clip (and the floor of every dB value here).
SILENCE_DB = -120.0


def as_batch(clips: Tensor | np.ndarray) -> Tensor:
    """``(N, T)`` float tensor from ``(N, T)``, ``(N, 1, T)`` or a numpy array."""
    x = torch.as_tensor(clips)
    if x.ndim == 3:
        if x.shape[1] != 1:
            raise ValueError(f"expected mono clips (N, 1, T), got shape {tuple(x.shape)}")
        x = x[:, 0]
    if x.ndim != 2:
        raise ValueError(f"expected clips of shape (N, T) or (N, 1, T), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"expected floating-point audio, got dtype {x.dtype}")
    return x


def _window_samples(sample_rate: int, seconds: float) -> int:
    """The power of two closest to ``seconds`` at ``sample_rate`` (so 32 ms is 512 at 16 kHz)."""
    return 2 ** max(4, round(math.log2(max(sample_rate * seconds, 1.0))))


def magnitude_spectrogram(clips: Tensor, n_fft: int, hop: int) -> Tensor:
    """``|STFT|`` with a Hann window, ``(N, n_fft // 2 + 1, frames)``; zero-padded, centred."""
    x = as_batch(clips)
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop, window=window, center=True,
                      pad_mode="constant", return_complex=True)
    return spec.abs()


def spectral_centroid(clips: Tensor, sample_rate: int, *, window_s: float = 0.064) -> Tensor:
    """Clip-level spectral centroid in Hz: the centroid of the magnitude spectrum summed over
    frames (so loud frames weigh more). ``nan`` for a silent clip."""
    n_fft = _window_samples(sample_rate, window_s)
    mag = magnitude_spectrogram(clips, n_fft, n_fft // 4).sum(dim=-1)   # (N, F)
    freqs = torch.linspace(0.0, sample_rate / 2, mag.shape[1], device=mag.device, dtype=mag.dtype)
    total = mag.sum(dim=1)
    centroid = (mag * freqs).sum(dim=1) / total.clamp_min(torch.finfo(mag.dtype).tiny)
    return torch.where(total > 0, centroid, torch.full_like(centroid, float("nan")))


def rms_db(clips: Tensor) -> Tensor:
    """Whole-clip RMS level in dB re full scale (1.0), floored at :data:`SILENCE_DB`."""
    x = as_batch(clips)
    power = x.double().pow(2).mean(dim=1)
    floor = 10.0 ** (SILENCE_DB / 10.0)
    return (10.0 * torch.log10(power.clamp_min(floor))).to(x.dtype)


def spectral_flux(clips: Tensor, sample_rate: int, *, window_s: float = 0.032,
                  hop_s: float = 0.002, compression: float = 100.0) -> tuple[Tensor, float]:
    """Half-wave-rectified spectral flux of the log-compressed magnitude, ``(N, frames)``, and the
    time in seconds of frame 0.

    The clip is preceded by one window of silence, so a clip whose onset sits at sample 0 (as the
    protocol's onset alignment leaves it) still shows its onset as a rise from silence; frame ``k``
    is centred at ``k * hop - window / 2`` seconds relative to the clip's first sample.
    """
    x = as_batch(clips)
    n_fft = _window_samples(sample_rate, window_s)
    hop = max(1, round(sample_rate * hop_s))
    padded = torch.nn.functional.pad(x, (n_fft, 0))
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    spec = torch.stft(padded, n_fft=n_fft, hop_length=hop, window=window, center=False,
                      return_complex=True).abs()
    # Normalise by the window sum so the compression acts on a scale-free magnitude.
    log_mag = torch.log1p(compression * spec / window.sum())
    flux = torch.relu(log_mag[..., 1:] - log_mag[..., :-1]).sum(dim=1)
    first_frame_centre = (hop + n_fft / 2 - n_fft) / sample_rate   # frame 1's centre, clip time
    return flux, first_frame_centre


def onset_times(clips: Tensor, sample_rate: int, *, threshold: float = 0.5,
                hop_s: float = 0.002, window_s: float = 0.032) -> Tensor:
    """The main onset of each clip in seconds, by spectral flux: the first local maximum of the
    flux curve that reaches ``threshold`` times the clip's largest flux value, refined to a
    fraction of a hop by a parabola through the peak and its neighbours. ``nan`` for a clip with
    no flux (silence or a constant spectrum).

    The absolute time carries the detector's constant lag (the onset is found when it has entered
    part of the window); differences between two clips cancel it.
    """
    flux, t0 = spectral_flux(clips, sample_rate, window_s=window_s, hop_s=hop_s)
    hop = max(1, round(sample_rate * hop_s)) / sample_rate
    f = flux.double().cpu().numpy()
    out = np.full(f.shape[0], np.nan)
    for i, curve in enumerate(f):
        peak = curve.max(initial=0.0)
        if not peak > 0:
            continue
        above = np.flatnonzero(curve >= threshold * peak)
        k = int(above[0])
        while k + 1 < len(curve) and curve[k + 1] > curve[k]:   # climb to the local maximum
            k += 1
        offset = 0.0
        if 0 < k < len(curve) - 1:
            a, b, c = curve[k - 1], curve[k], curve[k + 1]
            denom = a - 2 * b + c
            if denom < 0:
                offset = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
        out[i] = t0 + (k + offset) * hop
    return torch.from_numpy(out)


def bootstrap_resamples(protocol, default: int = 200) -> int:
    """The protocol's ``bootstrap`` count (``default`` when there is no protocol or it is unset)."""
    value = getattr(protocol, "bootstrap", None) if protocol is not None else None
    return int(value) if value else default


def bootstrap_ci(values: np.ndarray, resamples: int, seed: int,
                      statistic=np.mean) -> tuple[float, float] | None:
    """Percentile-bootstrap 95% interval of ``statistic`` over ``values`` (None if < 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2 or resamples < 1:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(int(resamples), len(v)))
    stats = np.array([statistic(v[row]) for row in idx]) if statistic is not np.mean \
        else v[idx].mean(axis=1)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)
