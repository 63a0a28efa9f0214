"""STFT front end (waveform → log-mel frames) and STFT synthesis head (frames → waveform).

The encoder reads a log-mel spectrogram; the decoder predicts, per STFT frame, a log-magnitude
and a phase for every bin and inverts them with ``torch.istft``. Doing the heavy work at frame rate
(a 16 ms hop in the quick configuration) rather than sample rate is what lets the autoencoder
train in minutes on a CPU (the Vocos argument, Siuzdak 2023); predicting the phase keeps
generation free of Griffin-Lim.
"""
from __future__ import annotations

import math

import torch
import torchaudio
from torch import Tensor, nn
from torch.nn import functional as F


def num_frames(num_samples: int, hop: int) -> int:
    """Frames of a centred STFT of ``num_samples`` samples."""
    return num_samples // hop + 1


PHASE_MODELS = ("direct", "if", "if_noise")
# log-magnitudes below this are held there: exp(−80) ≈ 2e-35 is still a normal float32 (inaudible,
# 700 dB down), while below −87 exp gives subnormals, where torch.polar's backward divides by a
# magnitude that rounds to 0 and returns NaN (measured: drumgan's weights went NaN at step 573)
MIN_LOG_MAG = -80.0


def magnitude(spec: Tensor) -> Tensor:
    """``|spec|`` with a zero gradient, not NaN, at subnormal bins (below the dtype's smallest normal).

    A model whose decay underflows writes subnormal samples (~1e-41): there the complex ``abs``
    backward divides by a magnitude that rounds to 0 and returns NaN, and one such frame turns
    every weight into NaN at the next update while the loss itself stays finite. The values are
    those of ``spec.abs()`` bit for bit, and the gradient elsewhere is abs's own, ``z / |z|`` (to
    float rounding); one ``abs`` forward, not two, as the critic reads every generated batch.
    """
    return _SafeAbs.apply(spec)


class _SafeAbs(torch.autograd.Function):
    """One ``abs`` forward; backward ``grad · z / |z|`` where ``|z|`` is a normal number, else 0."""

    @staticmethod
    def forward(ctx, spec: Tensor) -> Tensor:  # noqa: D102
        value = spec.abs()
        ctx.save_for_backward(spec, value)
        return value

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: D102
        spec, value = ctx.saved_tensors
        normal = value >= torch.finfo(value.dtype).tiny
        return grad * torch.where(normal, spec / torch.where(normal, value, 1.0), 0.0)


class LogMelFrontEnd(nn.Module):
    """``(B, 1, T)`` waveform → ``(B, n_mels, frames)`` log-mel magnitudes.

    A GAN's critic back-propagates through it into generated audio, so the magnitude is
    :func:`magnitude`'s (torchaudio's ``power=1`` is ``abs``, whose backward is NaN at subnormal
    bins); the values are the same bit for bit.
    """

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int, floor: float = 1e-5) -> None:
        super().__init__()
        self.hop = hop
        self.floor = floor
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=None,
            center=True, pad_mode="constant", f_min=0.0, f_max=sample_rate / 2, norm="slaney",
            mel_scale="slaney")

    def forward(self, audio: Tensor) -> Tensor:
        # the transform's own two stages (its buffers stay where checkpoints expect them)
        spec = magnitude(self.mel.spectrogram(audio[:, 0]))
        return torch.log(self.mel.mel_scale(spec) + self.floor)


class ISTFTSynth(nn.Module):
    """Frame features ``(B, C, frames)`` → waveform ``(B, 1, num_samples)`` via ``torch.istft``.

    A 1×1 convolution predicts per bin and frame the parameters of one of three phase models:

    * ``"direct"``: a log-magnitude and the phase itself (as Vocos does). Phases of neighbouring
      frames are unrelated at the start of training, so a steady partial cancels itself in the
      overlap-add: tonal drums (kick, tom, cowbell) came out 50 dB too quiet under the quick budget.
    * ``"if"``: a log-magnitude and an instantaneous-frequency deviation: the phase advance per hop
      is the bin's centre frequency plus ``π·tanh(u)``, summed over frames, so a steady partial is a
      steady phase ramp from the first step. Noise, however, becomes a comb of steady sinusoids.
    * ``"if_noise"`` (default): the ``"if"`` tonal part plus a noise part with its own
      log-magnitude and random phase — the STFT of filtered noise (the harmonic-plus-noise split of
      DDSP, Engel et al. 2020, done per STFT bin). Training draws fresh noise phases every call;
      evaluation uses one fixed draw so that decoding is deterministic.

    ``lobe_phase`` (the ``"if"`` models): frame 0 has phase ``−π·k`` in bin ``k`` and frame ``m``
    adds the advances of frames ``0 … m − 1``, so every partial starts in phase at ``t = 0``, as in a
    struck body's impulse response. A Hann-windowed partial lies over 3–4 neighbouring bins whose
    phases differ by π (``torch.stft``'s frames start ``n_fft / 2`` before their centre) and advance
    alike; with the default start (each bin one advance of its own in), neighbouring bins of one
    partial are π/2 apart, plus their differing deviations, and cancel in the overlap-add (a
    partial over four bins came out 21 dB quiet, ``tests/baselines/test_stft.py``) unless the
    network learns the offsets itself. Off by default: the autoencoders' checkpoints and measured
    rows were made without it.
    """

    def __init__(self, channels: int, n_fft: int, hop: int, num_samples: int,
                 phase: str = "if_noise", max_log_mag: float = 7.0,
                 init_log_mag: float = -4.0, lobe_phase: bool = False) -> None:
        super().__init__()
        if phase not in PHASE_MODELS:
            raise ValueError(f"phase must be one of {PHASE_MODELS}, got {phase!r}")
        if hop > n_fft:
            raise ValueError(f"hop ({hop}) must not exceed n_fft ({n_fft})")
        if lobe_phase and phase == "direct":
            raise ValueError("lobe_phase sets where the summed advances of the 'if' phase models "
                             "start; phase='direct' predicts the phase itself")
        self.n_fft, self.hop, self.num_samples, self.phase = n_fft, hop, num_samples, phase
        self.bins = n_fft // 2 + 1
        self.max_log_mag = max_log_mag
        parts = 3 if phase == "if_noise" else 2
        self.proj = nn.Conv1d(channels, parts * self.bins, 1)
        with torch.no_grad():  # start quiet, with small phase deviations
            self.proj.weight.mul_(0.1)
            self.proj.bias.zero_()
            self.proj.bias[: self.bins].fill_(init_log_mag)
            self.proj.bias[2 * self.bins:].fill_(init_log_mag)
        if phase == "if_noise":
            fixed = torch.rand(self.bins, num_frames(num_samples, hop),
                               generator=torch.Generator().manual_seed(0))
            self.register_buffer("fixed_noise_phase", 2 * math.pi * fixed, persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        advance = 2 * math.pi * torch.arange(self.bins) * hop / n_fft
        self.register_buffer("bin_advance", advance.view(1, -1, 1), persistent=False)
        self.lobe_phase = lobe_phase
        self.register_buffer("lobe_origin", -math.pi * torch.arange(self.bins).view(1, -1, 1),
                             persistent=False)

    def log_magnitude(self, audio: Tensor, floor: float = 1e-5) -> Tensor:
        """``(B, 1, T)`` → ``(B, bins, frames)``: the log-magnitude on this head's own STFT grid."""
        spec = torch.stft(audio[:, 0], self.n_fft, self.hop, window=self.window, center=True,
                          return_complex=True)
        return torch.log(spec.abs() + floor)

    def forward(self, features: Tensor, envelope: Tensor | None = None) -> Tensor:
        """``envelope`` (``(B, bins, frames)``, optional) is added to both parts' log-magnitudes."""
        params = self.proj(features).split(self.bins, dim=1)
        log_mag, u = params[0], params[1]
        if envelope is not None:
            log_mag = log_mag + envelope
        mag = torch.exp(log_mag.clamp(MIN_LOG_MAG, self.max_log_mag))
        if self.phase == "direct":
            spec = torch.polar(mag, u)
        else:
            phase = torch.cumsum(self.bin_advance + math.pi * torch.tanh(u), dim=2)
            if self.lobe_phase:   # frame m: −π·k plus the advances of frames 0 … m − 1
                phase = F.pad(phase[..., :-1], (1, 0)) + self.lobe_origin
            spec = torch.polar(mag, phase)
        if self.phase == "if_noise":
            noise_log_mag = params[2] if envelope is None else params[2] + envelope
            noise_mag = torch.exp(noise_log_mag.clamp(MIN_LOG_MAG, self.max_log_mag))
            if self.training:
                noise_phase = 2 * math.pi * torch.rand_like(noise_mag)
            else:
                noise_phase = self.fixed_noise_phase.expand_as(noise_mag)
            spec = spec + torch.polar(noise_mag, noise_phase)
        wave = torch.istft(spec, n_fft=self.n_fft, hop_length=self.hop, window=self.window,
                           center=True, length=self.num_samples)
        return wave.unsqueeze(1)
