"""Filtered noise with time-varying gains per frequency band: the noisy part of a drum.

DDSP's noise synthesiser (Engel et al. 2020) shapes white noise with a filter that changes every
frame. Here the filter is applied where it is cheapest, on the STFT grid: per frame, complex
Gaussian noise in each bin is scaled by the gain of the band the bin belongs to, and the frames
are overlap-added by ``torch.istft``. Bands are contiguous runs of bins, equally spaced on the
mel scale (each at least one bin wide), so a band's energy stays inside its frequency range up
to the synthesis window's main lobe (two bins either side).

Training draws fresh noise on every call; in ``eval()`` mode one fixed draw (seed 0) is used, so
decoding is deterministic.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _mel(hz: float) -> float:
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def _hz(mel: float) -> float:
    return 700.0 * (10 ** (mel / 2595.0) - 1.0)


def band_edges(bands: int, n_fft: int, sample_rate: int) -> list[int]:
    """``bands + 1`` bin indices: band ``b`` holds bins ``edges[b] ≤ i < edges[b + 1]``."""
    bins = n_fft // 2 + 1
    if not 1 <= bands <= bins:
        raise ValueError(f"FilteredNoise: bands must lie in [1, {bins}] for n_fft={n_fft}, got {bands}")
    top = _mel(sample_rate / 2)
    edges = [0]
    for b in range(1, bands):
        wanted = round(_hz(top * b / bands) / (sample_rate / n_fft))
        # at least one bin per band, and room left for the bands still to come
        edges.append(min(max(wanted, edges[-1] + 1), bins - (bands - b)))
    edges.append(bins)
    return edges


class FilteredNoise(nn.Module):
    """Band gains ``(B, bands, frames)`` (≥ 0, linear) → ``(B, num_samples)`` noise."""

    def __init__(self, sample_rate: int, num_samples: int, bands: int = 64, n_fft: int = 512,
                 hop: int = 128) -> None:
        super().__init__()
        if not 0 < hop <= n_fft:
            raise ValueError(f"FilteredNoise: hop must lie in (0, n_fft={n_fft}], got {hop}")
        self.n_fft, self.hop, self.num_samples, self.bands = n_fft, hop, num_samples, bands
        self.frames = num_samples // hop + 1
        edges = band_edges(bands, n_fft, sample_rate)
        self.edges_hz = [e * sample_rate / n_fft for e in edges]
        index = torch.repeat_interleave(torch.arange(bands), torch.tensor(edges).diff())
        self.register_buffer("bin_band", index, persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        g = torch.Generator().manual_seed(0)
        fixed = torch.complex(torch.randn(n_fft // 2 + 1, self.frames, generator=g),
                              torch.randn(n_fft // 2 + 1, self.frames, generator=g))
        self.register_buffer("fixed_noise", fixed, persistent=False)
        # gain 1 in every band gives unit-variance noise: the inverse FFT of unit complex noise in
        # every bin has variance 2/n_fft, and the overlap-add of independent frames divides the
        # variance by Σ w² = sum(window²) / hop
        overlap = float(self.window.pow(2).sum()) / hop
        self.scale = math.sqrt(n_fft / 2.0 * overlap)

    def forward(self, gains: Tensor) -> Tensor:
        if gains.ndim != 3 or gains.shape[1:] != (self.bands, self.frames):
            raise ValueError(f"FilteredNoise wants gains of shape (batch, {self.bands}, "
                             f"{self.frames}), got {tuple(gains.shape)}")
        mag = gains[:, self.bin_band, :] * self.scale
        if self.training:
            noise = torch.complex(torch.randn_like(mag), torch.randn_like(mag))
        else:
            noise = self.fixed_noise
        return torch.istft(mag * noise, n_fft=self.n_fft, hop_length=self.hop, window=self.window,
                           center=True, length=self.num_samples)
