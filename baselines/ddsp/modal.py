"""A bank of exponentially decaying sinusoidal partials with pitch glide: the modal part of a drum.

A struck membrane, bar or plate rings as a sum of modes, each a sinusoid with its own frequency,
amplitude and exponential decay (the modal synthesis of Shier et al. 2023, drumblender; the
sinusoidal oscillators of DDSP, Engel et al. 2020). Many drums also start sharp and fall in pitch
(a kick's glide), so each partial's frequency falls exponentially from ``glide_ratio × freq`` to
``freq`` with time constant ``glide_s``:

    x(t) = Σ_k a_k · exp(−ln(1000) · t / T60_k) · sin φ_k(t)
    φ_k(t) = 2π · (f_k t + (r_k − 1) f_k τ_k (1 − exp(−t / τ_k)))

so the instantaneous frequency is f_k (1 + (r_k − 1) e^{−t/τ_k}).

Why not render that sample by sample: 48 partials × 16 000 samples × a batch of 32 is 25 M
elements per tensor, and forward + backward took 4 s per step on one CPU core. Instead the bank
writes each partial straight into the STFT frames (inverse-FFT additive synthesis, Rodet &
Depalle 1992): in frame m a partial is a stationary sinusoid with the amplitude, phase and
frequency the closed form gives at the frame's centre, whose STFT is the analysis window's
transform G centred on its frequency, nonzero on a few bins only. Frames are overlap-added by
``torch.istft``. Cost: partials × frames × 2·``lobe_bins`` instead of partials × samples, about
30× fewer; the price is that amplitude and frequency are piecewise constant over one window
(32 ms at the defaults), which blurs decays much faster than that (the transient covers those).
The gradient with respect to a frequency (and glide) flows only through G's slope, that is
through where the partial's energy sits in each frame, never through the phase: the phase's
derivative 2πt grows with time, and through it the MR-STFT loss's gradient points the wrong way
even one bin from the target (measured, and the known trouble of sinusoidal frequency estimation
by gradient descent: Turian & Henry 2020; Hayes et al. 2023). Through G it points the right way
from up to two bins either side (``tests/baselines/test_ddsp_synth.py``), and no further. A partial is muted in frames where its
frequency reaches Nyquist (it would alias).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

LN1000 = math.log(1000.0)
_OVERSAMPLE = 64  # table points per bin of the window transform


class ModalBank(nn.Module):
    """``(B, K)`` partial parameters → ``(B, num_samples)`` audio. No trainable parameters."""

    def __init__(self, sample_rate: int, num_samples: int, n_fft: int = 512, hop: int = 128,
                 lobe_bins: int = 2) -> None:
        super().__init__()
        if sample_rate <= 0 or num_samples <= 0:
            raise ValueError(f"ModalBank needs a positive sample_rate and num_samples, got "
                             f"{sample_rate} and {num_samples}")
        if not 0 < hop <= n_fft // 2 or n_fft % 2:
            raise ValueError(f"ModalBank needs an even n_fft and 0 < hop ≤ n_fft/2, got "
                             f"n_fft={n_fft}, hop={hop}")
        if lobe_bins < 2:
            raise ValueError(f"lobe_bins must be ≥ 2 (the Hann window's main lobe), got {lobe_bins}")
        self.sample_rate, self.num_samples = int(sample_rate), int(num_samples)
        self.n_fft, self.hop, self.lobe_bins = int(n_fft), int(hop), int(lobe_bins)
        self.frames = num_samples // hop + 1
        window = torch.hann_window(n_fft, dtype=torch.float64)
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("t", torch.arange(self.frames) * hop / sample_rate, persistent=False)
        # G(δ) = Σ_n w[n] e^{2πiδ(n − N/2)/N}, real because the periodic Hann window is symmetric
        # about N/2; tabulated over |δ| ≤ lobe_bins + 1 bins
        reach = lobe_bins + 1
        delta = torch.arange(-reach * _OVERSAMPLE, reach * _OVERSAMPLE + 1, dtype=torch.float64) / _OVERSAMPLE
        m = torch.arange(n_fft, dtype=torch.float64) - n_fft // 2
        table = (window * torch.cos(2 * math.pi * delta[:, None] * m / n_fft)).sum(1)
        self.register_buffer("lobe", table.float(), persistent=False)
        self.reach = reach
        self.register_buffer("offsets", torch.arange(-lobe_bins + 1, lobe_bins + 1), persistent=False)

    def _window_transform(self, delta: Tensor) -> Tensor:
        """G at ``delta`` bins (linear interpolation of the table; 0 beyond its reach)."""
        pos = (delta + self.reach) * _OVERSAMPLE
        i0 = pos.detach().floor().clamp(0, self.lobe.numel() - 2)
        frac = pos - i0
        i0 = i0.long()
        value = self.lobe[i0] * (1 - frac) + self.lobe[i0 + 1] * frac
        return torch.where(delta.abs() < self.reach, value, torch.zeros_like(value))

    @staticmethod
    def _sign(bins: Tensor) -> Tensor:
        """(−1)^k: the window is centred on sample N/2 of its frame."""
        return 1.0 - 2.0 * (bins % 2).float()

    def forward(self, freq_hz: Tensor, amp: Tensor, t60_s: Tensor,
                glide_ratio: Tensor | None = None, glide_s: Tensor | None = None) -> Tensor:
        """Frequencies (Hz, final), linear amplitudes, 60-dB decay times (s); optionally the
        starting/final frequency ratio (≥ 1 falls in pitch) and its time constant (s)."""
        shapes = {"freq_hz": freq_hz.shape, "amp": amp.shape, "t60_s": t60_s.shape}
        if glide_ratio is not None or glide_s is not None:
            if glide_ratio is None or glide_s is None:
                raise ValueError("give both glide_ratio and glide_s, or neither")
            shapes.update(glide_ratio=glide_ratio.shape, glide_s=glide_s.shape)
        if len(set(shapes.values())) != 1 or freq_hz.ndim != 2:
            raise ValueError(f"ModalBank wants (batch, partials) tensors of one shape, got "
                             f"{ {k: tuple(v) for k, v in shapes.items()} }")
        batch, partials = freq_hz.shape
        t = self.t.view(1, 1, -1)                               # frame centres (s)
        f = freq_hz.unsqueeze(-1)
        cycles, inst = f * t, f.expand(-1, -1, self.frames)
        if glide_ratio is not None:
            tau, excess = glide_s.unsqueeze(-1), glide_ratio.unsqueeze(-1) - 1
            fall = torch.exp(-t / tau)
            cycles = cycles + excess * f * tau * (1 - fall)
            inst = f * (1 + excess * fall)
        phase = 2 * math.pi * cycles.detach() - math.pi / 2     # sin: zero at t = 0
        nu = inst * (self.n_fft / self.sample_rate)             # frequency in bins, (B, K, M)
        level = 0.5 * amp.unsqueeze(-1) * torch.exp(-LN1000 * t / t60_s.unsqueeze(-1))
        level = level * (nu < self.n_fft / 2).to(level.dtype)
        cos, sin = torch.cos(phase), torch.sin(phase)
        # each partial on the 2·lobe_bins bins around it, at +f
        bins = nu.detach().floor().long().unsqueeze(-1) + self.offsets   # (B, K, M, 2L)
        inside = (bins >= 0) & (bins <= self.n_fft // 2)
        weight = level.unsqueeze(-1) * self._window_transform(nu.unsqueeze(-1) - bins.to(nu.dtype))
        weight = weight * (self._sign(bins) * inside.to(nu.dtype))
        index = bins.clamp(0, self.n_fft // 2).permute(0, 2, 1, 3).reshape(batch, self.frames, -1)
        real, imag = (nu.new_zeros(batch, self.frames, self.n_fft // 2 + 1).scatter_add(
            2, index, (weight * part.unsqueeze(-1)).permute(0, 2, 1, 3).reshape(batch, self.frames, -1))
            for part in (cos, sin))
        # a partial within reach of 0 Hz also meets its mirror image at −f (conjugate phase),
        # which falls on the first bins only
        low = torch.nonzero((nu.detach() < self.reach).any(dim=2).any(dim=0)).flatten()
        if len(low):
            nu_low = nu.index_select(1, low).unsqueeze(-1)
            k = torch.arange(self.reach, device=nu.device)
            mirror = level.index_select(1, low).unsqueeze(-1) * self._sign(k) * \
                self._window_transform(-nu_low - k.to(nu.dtype))
            pad = (0, self.n_fft // 2 + 1 - self.reach)
            real = real + F.pad((mirror * cos.index_select(1, low).unsqueeze(-1)).sum(1), pad)
            imag = imag - F.pad((mirror * sin.index_select(1, low).unsqueeze(-1)).sum(1), pad)
        spec = torch.complex(real, imag).transpose(1, 2)
        return torch.istft(spec, n_fft=self.n_fft, hop_length=self.hop, window=self.window,
                           center=True, length=self.num_samples)
