"""The self-trained codec: a convolutional autoencoder over STFT frames with residual vector
quantisation, decoding straight to the waveform.

Encoder: log-mel spectrogram (the shared front end) → residual convolutions and strided
downsampling (×2 per level) → a ``code_dim``-dimensional vector per latent frame. Each vector is
quantised by :class:`~baselines.codec_latent.rvq.ResidualVQ`. Decoder: the quantised frames →
upsampling residual convolutions (a learned vector per frame added at every level: one-shots are
onset-aligned, so where attack and decay lie is the same for every clip) → the shared iSTFT head
(per bin a tonal log-magnitude and phase advance plus a noise log-magnitude) → ``torch.istft``.
Working at STFT-frame rate instead of sample rate (Vocos, Siuzdak 2023) is what lets the codec
train in a few minutes on a CPU; no Griffin-Lim anywhere. The codec is unconditional: the class
reaches only the prior, so reconstruction scores are the codec's alone.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from baselines._common.stft import ISTFTSynth, LogMelFrontEnd, num_frames
from baselines.codec_latent.rvq import Quantized, ResidualVQ


class ResidualStack(nn.Module):
    """``blocks`` residual pairs of 1-D convolutions, dilations 1, 3, 9, … (cycling)."""

    def __init__(self, channels: int, blocks: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.pairs = nn.ModuleList()
        for i in range(blocks):
            dilation = 3 ** (i % 3)
            self.pairs.append(nn.Sequential(
                nn.LeakyReLU(0.2),
                nn.Conv1d(channels, channels, kernel_size, padding=dilation * (kernel_size - 1) // 2,
                          dilation=dilation),
                nn.LeakyReLU(0.2),
                nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)))

    def forward(self, x: Tensor) -> Tensor:
        for pair in self.pairs:
            x = x + pair(x)
        return x


class SpectralCodec(nn.Module):
    """``(B, 1, T)`` audio ⇄ ``(B, frames, levels)`` codes; latent embeddings are ``(B, code_dim, frames)``."""

    def __init__(self, *, sample_rate: int, clip_samples: int, n_fft: int = 1024, hop: int = 256,
                 n_mels: int = 64, widths: Sequence[int] = (128, 128), blocks: int = 2,
                 code_dim: int = 32, levels: int = 4, codebook_size: int = 256,
                 ema_decay: float = 0.99, dead_threshold: float = 0.2, phase: str = "if_noise",
                 positional: bool = True, latent_norm: bool = True,
                 init_log_mag: float = -4.0) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if not widths or min(widths) < 1:
            raise ValueError(f"codec widths must be positive integers (one per ×2 level), got {widths}")
        if int(blocks) < 0:
            raise ValueError(f"codec blocks must be ≥ 0, got {blocks}")
        self.clip_samples = int(clip_samples)
        self.code_dim = int(code_dim)
        # frame counts at every level, so the decoder retraces the encoder's sizes exactly
        sizes = [num_frames(self.clip_samples, hop)]
        for _ in widths:
            sizes.append(max(1, (sizes[-1] + 2 - 4) // 2 + 1))
        self.level_frames = sizes
        self.frames = sizes[-1]

        self.front = LogMelFrontEnd(sample_rate, n_fft, hop, n_mels)
        self.enc_in = nn.Conv1d(n_mels, widths[0], 3, padding=1)
        self.enc_stacks = nn.ModuleList(ResidualStack(w, blocks) for w in widths)
        self.enc_down = nn.ModuleList(nn.Conv1d(w_in, w_out, 4, stride=2, padding=1)
                                      for w_in, w_out in zip(widths, widths[1:] + widths[-1:]))
        self.enc_out = nn.Conv1d(widths[-1], self.code_dim, 1)
        # each frame's vector normalised to zero mean and unit variance over its dimensions: the
        # scale the codebooks must follow cannot run away from them early in training (without
        # it the EMA codebooks lagged a growing encoder and the loss spiked 20-fold)
        self.latent_norm = nn.LayerNorm(self.code_dim, elementwise_affine=False) if latent_norm else None
        self.rvq = ResidualVQ(self.code_dim, levels, codebook_size, decay=ema_decay,
                              dead_threshold=dead_threshold)

        rev = widths[::-1]
        self.dec_in = nn.Conv1d(self.code_dim, rev[0], 3, padding=1)
        self.dec_up = nn.ModuleList(nn.Conv1d(w_in, w_out, 3, padding=1)
                                    for w_in, w_out in zip(rev, rev[1:] + rev[-1:]))
        self.dec_stacks = nn.ModuleList(ResidualStack(w, blocks) for w in rev[1:] + rev[-1:])
        self.dec_pos = nn.ParameterList(
            nn.Parameter(torch.zeros(1, w, n)) for w, n in zip(rev[1:] + rev[-1:], sizes[-2::-1])
        ) if positional else None
        self.synth = ISTFTSynth(rev[-1], n_fft, hop, self.clip_samples, phase=phase,
                                init_log_mag=init_log_mag)

    @property
    def levels(self) -> int:
        return self.rvq.levels

    @property
    def codebook_size(self) -> int:
        return self.rvq.codebook_size

    @property
    def latent_dim(self) -> int:
        """Numbers in one clip's flattened latent: ``code_dim × frames``."""
        return self.code_dim * self.frames

    def encode(self, audio: Tensor) -> Tensor:
        """``(B, 1, T)`` → ``(B, code_dim, frames)`` continuous (pre-quantisation) embeddings."""
        if audio.ndim != 3 or audio.shape[1] != 1 or audio.shape[2] != self.clip_samples:
            raise ValueError(f"expected audio of shape (batch, 1, {self.clip_samples}), "
                             f"got {tuple(audio.shape)}")
        h = self.enc_in((self.front(audio) + 5.0) / 5.0)
        for stack, down in zip(self.enc_stacks, self.enc_down):
            h = down(F.leaky_relu(stack(h), 0.2))
        z = self.enc_out(F.leaky_relu(h, 0.2))
        if self.latent_norm is not None:
            z = self.latent_norm(z.transpose(1, 2)).transpose(1, 2)
        return z

    def quantize(self, z: Tensor) -> Quantized:
        """RVQ of every frame of ``(B, code_dim, frames)``; the result's tensors are reshaped to
        ``(B, code_dim, frames)`` (vectors) and ``(B, frames, levels)`` (codes)."""
        b, d, n = z.shape
        q = self.rvq(z.transpose(1, 2).reshape(b * n, d))
        as_frames = lambda v: v.view(b, n, d).transpose(1, 2)  # noqa: E731
        return Quantized(straight_through=as_frames(q.straight_through), quantized=as_frames(q.quantized),
                         codes=q.codes.view(b, n, -1), commitment=q.commitment)

    def embed(self, codes: Tensor) -> Tensor:
        """``(B, frames, levels)`` codes → ``(B, code_dim, frames)`` quantised embeddings."""
        if codes.ndim != 3 or codes.shape[1:] != (self.frames, self.levels):
            raise ValueError(f"expected codes of shape (batch, {self.frames}, {self.levels}), "
                             f"got {tuple(codes.shape)}")
        b = codes.shape[0]
        return self.rvq.embed(codes.reshape(b * self.frames, self.levels)).view(
            b, self.frames, self.code_dim).transpose(1, 2)

    def decode(self, q: Tensor) -> Tensor:
        """``(B, code_dim, frames)`` embeddings → ``(B, 1, T)`` waveform (not clipped)."""
        if q.ndim != 3 or q.shape[1:] != (self.code_dim, self.frames):
            raise ValueError(f"expected embeddings of shape (batch, {self.code_dim}, {self.frames}), "
                             f"got {tuple(q.shape)}")
        h = self.dec_in(q)
        for level, (up, stack) in enumerate(zip(self.dec_up, self.dec_stacks)):
            size = self.level_frames[-2 - level]
            h = up(F.interpolate(h, size=size, mode="nearest"))
            if self.dec_pos is not None:
                h = h + self.dec_pos[level]
            h = stack(h)
        return self.synth(F.leaky_relu(h, 0.2))
