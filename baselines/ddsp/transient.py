"""A learned bank of short waveforms mixed per clip: the attack transient of a drum.

The modal and noise parts describe a drum after its first few milliseconds; the stick or beater
hit itself is a broadband click that neither a sum of partials nor frame-rate noise renders well.
Shier et al. 2023 add it with a FiLM-conditioned TCN run on the synthesised audio; under a CPU
budget we take the issue's other option, a bank of ``count`` waveforms of ``length`` samples,
learnt from random initialisation by the reconstruction loss (no training audio is copied in),
which the decoder mixes with per-clip weights. A raised-cosine fade over the last quarter keeps
every transient ending at exactly zero.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class TransientBank(nn.Module):
    """Weights ``(B, count)`` → ``(B, num_samples)``: Σ_i w_i · waveform_i · fade, zero after ``length``."""

    def __init__(self, count: int, length: int, num_samples: int, init_scale: float = 0.01,
                 seed: int = 0) -> None:
        super().__init__()
        if count < 1 or length < 4:
            raise ValueError(f"TransientBank needs count ≥ 1 and length ≥ 4, got {count}, {length}")
        if length > num_samples:
            raise ValueError(f"transient length {length} exceeds the clip's {num_samples} samples")
        self.count, self.length, self.num_samples = count, length, num_samples
        g = torch.Generator().manual_seed(seed)
        self.waveforms = nn.Parameter(init_scale * torch.randn(count, length, generator=g))
        fade_len = max(1, length // 4)
        fade = torch.ones(length)
        fade[length - fade_len:] = 0.5 * (1 + torch.cos(torch.pi * torch.arange(1, fade_len + 1) / fade_len))
        self.register_buffer("fade", fade, persistent=False)

    def forward(self, weights: Tensor) -> Tensor:
        if weights.ndim != 2 or weights.shape[1] != self.count:
            raise ValueError(f"TransientBank wants weights of shape (batch, {self.count}), "
                             f"got {tuple(weights.shape)}")
        short = weights @ (self.waveforms * self.fade)
        return nn.functional.pad(short, (0, self.num_samples - self.length))
