"""Reconstruction losses: multi-resolution STFT (Yamamoto et al. 2020) plus an optional waveform L1.

Per FFT size: spectral convergence ``‖|Y|−|X|‖_F / ‖|Y|‖_F`` plus the mean absolute difference of
log magnitudes, averaged over resolutions — the same form as the harness's validation distance
(:func:`bench.metrics.recon.mrstft_distance`), extended with small FFT sizes so onsets are sharp.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from baselines._common.stft import magnitude


class MultiResolutionSTFTLoss(nn.Module):
    """Mean over the batch of the per-clip MR-STFT distance of ``estimate`` from ``target``."""

    def __init__(self, fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
                 hop_ratio: float = 0.25, log_floor: float = 1e-5) -> None:
        super().__init__()
        if not fft_sizes:
            raise ValueError("fft_sizes must name at least one FFT size")
        self.fft_sizes = tuple(int(n) for n in fft_sizes)
        self.hops = tuple(max(1, int(n * hop_ratio)) for n in self.fft_sizes)
        self.log_floor = log_floor
        for n in self.fft_sizes:
            self.register_buffer(f"window_{n}", torch.hann_window(n), persistent=False)

    def forward(self, estimate: Tensor, target: Tensor) -> Tensor:
        x, y = estimate.flatten(1), target.flatten(1)
        if x.shape != y.shape:
            raise ValueError(f"estimate {tuple(x.shape)} and target {tuple(y.shape)} differ in shape")
        total = x.new_zeros(())
        for n_fft, hop in zip(self.fft_sizes, self.hops):
            window = getattr(self, f"window_{n_fft}")
            mx = magnitude(torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="constant",
                                      return_complex=True))
            my = torch.stft(y, n_fft, hop, window=window, center=True, pad_mode="constant",
                            return_complex=True).abs()
            sc = torch.linalg.vector_norm(my - mx, dim=(1, 2)) / \
                torch.linalg.vector_norm(my, dim=(1, 2)).clamp_min(1e-6)
            log_l1 = (torch.log(mx + self.log_floor) - torch.log(my + self.log_floor)).abs().mean(dim=(1, 2))
            total = total + (sc + log_l1).mean()
        return total / len(self.fft_sizes)


class ReconstructionLoss(nn.Module):
    """MR-STFT distance plus ``wave_weight`` × waveform L1; returns ``(total, mrstft, wave_l1)``."""

    def __init__(self, fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
                 wave_weight: float = 0.0, hop_ratio: float = 0.25) -> None:
        super().__init__()
        self.mrstft = MultiResolutionSTFTLoss(fft_sizes, hop_ratio)
        self.wave_weight = float(wave_weight)

    def forward(self, estimate: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        spectral = self.mrstft(estimate, target)
        wave = (estimate - target).abs().mean()
        return spectral + self.wave_weight * wave, spectral, wave
