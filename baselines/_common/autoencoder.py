"""The encoder/decoder shared by the VAE and AAE baselines, so the leaderboard compares their
latent regularisers and nothing else.

Encoder: log-mel front end → strided residual convolutions (FiLM on the class) → a global code of
``code_params × latent_dim`` numbers (2 for a Gaussian posterior's mean and log-variance, 1 for a
deterministic code). Decoder: code + class → a short frame sequence → upsampling residual
convolutions (FiLM on a style vector made of code and class, plus a learned vector per frame) →
per-frame log-magnitude and phase → ``torch.istft``. Optionally (``templates`` > 0) the code also
picks one of a class's spectral templates, whose log-magnitudes the head's are added to
(:mod:`baselines._common.templates`). The decoder writes the waveform directly; no Griffin-Lim
anywhere.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from baselines._common.blocks import ConditionedStack
from baselines._common.stft import ISTFTSynth, LogMelFrontEnd, num_frames
from baselines._common.templates import SpectralTemplates


class WaveAutoencoder(nn.Module):
    """Class-conditioned waveform autoencoder with a global latent code.

    Labels may be ``None`` (or ``-1`` entries): those use a learned "no class" embedding, which
    training visits with probability ``label_dropout`` so an unlabelled call still makes sense.
    """

    def __init__(self, *, num_classes: int, sample_rate: int, clip_samples: int,
                 latent_dim: int = 64, code_params: int = 1, label_dim: int = 32,
                 encoder_widths: Sequence[int] = (64, 96, 128), encoder_blocks: int = 1,
                 encoder_n_fft: int = 1024, encoder_hop: int = 256, n_mels: int = 64,
                 decoder_widths: Sequence[int] = (192, 128, 96, 64), decoder_blocks: int = 1,
                 n_fft: int = 1024, hop: int = 256, phase: str = "if_noise", style_dim: int = 128,
                 init_log_mag: float | None = None, positional: bool = True, templates: int = 0,
                 template_hard: bool = True, template_learn: bool = True,
                 template_min_clips: int = 1) -> None:
        super().__init__()
        encoder_widths, decoder_widths = list(encoder_widths), list(decoder_widths)
        for name, value in (("num_classes", num_classes), ("latent_dim", latent_dim),
                            ("code_params", code_params), ("clip_samples", clip_samples),
                            ("label_dim", label_dim), ("style_dim", style_dim),
                            *((f"encoder_widths[{i}]", w) for i, w in enumerate(encoder_widths)),
                            *((f"decoder_widths[{i}]", w) for i, w in enumerate(decoder_widths))):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not encoder_widths or not decoder_widths:
            raise ValueError("encoder_widths and decoder_widths need at least one level each")
        self.num_classes, self.latent_dim, self.code_params = num_classes, latent_dim, code_params
        self.clip_samples = clip_samples
        self.labels = nn.Embedding(num_classes + 1, label_dim)  # last row: "no class"

        # --- encoder ---------------------------------------------------------------------
        self.front = LogMelFrontEnd(sample_rate, encoder_n_fft, encoder_hop, n_mels)
        enc_frames = num_frames(clip_samples, encoder_hop)
        self.enc_in = nn.Conv1d(n_mels, encoder_widths[0], 3, padding=1)
        self.enc_stacks = nn.ModuleList()
        self.enc_down = nn.ModuleList()
        for w_in, w_out in zip(encoder_widths, encoder_widths[1:] + encoder_widths[-1:]):
            self.enc_stacks.append(ConditionedStack(w_in, label_dim, encoder_blocks))
            self.enc_down.append(nn.Conv1d(w_in, w_out, 4, stride=2, padding=1))
            enc_frames = max(1, (enc_frames + 2 - 4) // 2 + 1)
        self.pool_frames = min(8, enc_frames)
        self.enc_out = nn.Linear(encoder_widths[-1] * self.pool_frames, code_params * latent_dim)

        # --- decoder ---------------------------------------------------------------------
        self.dec_frames = num_frames(clip_samples, hop)
        levels = len(decoder_widths)
        self.dec_start = max(1, math.ceil(self.dec_frames / 2 ** levels))
        self.style = nn.Sequential(nn.Linear(latent_dim + label_dim, style_dim), nn.LeakyReLU(0.2),
                                   nn.Linear(style_dim, style_dim))
        self.dec_in = nn.Linear(latent_dim + label_dim, decoder_widths[0] * self.dec_start)
        self.dec_up = nn.ModuleList(nn.Conv1d(w_in, w_out, 3, padding=1)
                                    for w_in, w_out in zip(decoder_widths[:1] + decoder_widths[:-1],
                                                           decoder_widths))
        self.dec_stacks = nn.ModuleList(ConditionedStack(w, style_dim, decoder_blocks)
                                        for w in decoder_widths)
        # a learned vector per frame and level: one-shots start with their onset at frame 0, so
        # the decoder can learn where attack and decay lie in time instead of inferring it from
        # the zero padding at the edges
        self.dec_pos = nn.ParameterList(
            nn.Parameter(torch.zeros(1, w, self.dec_start * 2 ** (i + 1)))
            for i, w in enumerate(decoder_widths)) if positional else None
        if templates < 0:
            raise ValueError(f"templates must be ≥ 0 (0: none), got {templates}")
        self.templates = SpectralTemplates(
            num_classes + 1, int(templates), n_fft // 2 + 1, self.dec_frames, latent_dim + label_dim,
            hard=template_hard, learn=template_learn,
            min_clips=template_min_clips) if templates else None
        if init_log_mag is None:
            # without templates the head starts quiet; with them the template carries the level
            # and the tonal and noise parts each start at half of it
            init_log_mag = -4.0 if self.templates is None else -0.7
        self.synth = ISTFTSynth(decoder_widths[-1], n_fft, hop, clip_samples, phase=phase,
                                 init_log_mag=init_log_mag)

    def rows(self, labels: Tensor | None, batch: int, device: torch.device) -> Tensor:
        """Class labels (``None`` or -1: none) → row indices of the class tables (last: "no class")."""
        if labels is None:
            labels = torch.full((batch,), -1, dtype=torch.long, device=device)
        labels = labels.to(device=device, dtype=torch.long).flatten()
        if labels.shape[0] != batch:
            raise ValueError(f"got {labels.shape[0]} labels for a batch of {batch}")
        if bool((labels >= self.num_classes).any()) or bool((labels < -1).any()):
            raise ValueError(f"class labels must lie in [0, {self.num_classes}) (or -1 for none); "
                             f"got {sorted(set(labels.tolist()))}")
        return torch.where(labels < 0, self.num_classes, labels)

    def embed(self, labels: Tensor | None, batch: int, device: torch.device) -> Tensor:
        return self.labels(self.rows(labels, batch, device))

    def _decoder_input(self, z: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        """The class-table rows of ``labels`` and the decoder's input: code and class embedding."""
        rows = self.rows(labels, z.shape[0], z.device)
        return rows, torch.cat([z, self.labels(rows)], dim=1)

    @torch.no_grad()
    def init_templates(self, audio: Tensor, labels: Tensor, seed: int = 0) -> None:
        """k-means initialisation of the spectral templates from (training) clips ``(N, 1, T)``."""
        if self.templates is None:
            raise ValueError("this autoencoder has no spectral templates (templates=0)")
        device = self.synth.window.device
        log_mags = torch.cat([self.synth.log_magnitude(audio[i:i + 256].to(device)).cpu()
                              for i in range(0, len(audio), 256)])
        self.templates.fit_kmeans(log_mags, labels.cpu(), seed=seed)

    @torch.no_grad()
    def calibrate_templates(self, z: Tensor, labels: Tensor) -> dict[int, float]:
        """Fit the template selector's per-class bias to prior codes ``z`` of classes ``labels``."""
        if self.templates is None:
            raise ValueError("this autoencoder has no spectral templates (templates=0)")
        rows, zc = self._decoder_input(z, labels)
        return self.templates.calibrate(zc, rows)

    def template_loss(self, z: Tensor, labels: Tensor | None, audio: Tensor) -> Tensor:
        """The templates' assignment loss for codes ``z`` of clips ``audio``; 0 without templates."""
        if self.templates is None:
            return z.new_zeros(())
        rows, zc = self._decoder_input(z, labels)
        with torch.no_grad():
            target = self.synth.log_magnitude(audio)
        return self.templates.assignment_loss(zc, rows, target)

    def encode(self, audio: Tensor, labels: Tensor | None) -> Tensor:
        """``(B, 1, T)`` → ``(B, code_params · latent_dim)``."""
        if audio.ndim != 3 or audio.shape[1] != 1 or audio.shape[2] != self.clip_samples:
            raise ValueError(f"expected audio of shape (batch, 1, {self.clip_samples}), "
                             f"got {tuple(audio.shape)}")
        cond = self.embed(labels, audio.shape[0], audio.device)
        h = self.enc_in((self.front(audio) + 5.0) / 5.0)
        for stack, down in zip(self.enc_stacks, self.enc_down):
            h = down(F.leaky_relu(stack(h, cond), 0.2))
        h = F.adaptive_avg_pool1d(h, self.pool_frames).flatten(1)
        return self.enc_out(F.leaky_relu(h, 0.2))

    def decode(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """``(B, latent_dim)`` → ``(B, 1, T)`` waveform (not yet clipped to [-1, 1])."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected codes of shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
        rows, zc = self._decoder_input(z, labels)
        style = self.style(zc)
        h = self.dec_in(zc).view(z.shape[0], -1, self.dec_start)
        for level, (up, stack) in enumerate(zip(self.dec_up, self.dec_stacks)):
            h = up(F.interpolate(h, scale_factor=2, mode="nearest"))
            if self.dec_pos is not None:
                h = h + self.dec_pos[level]
            h = stack(h, style)
        h = F.leaky_relu(h[..., : self.dec_frames], 0.2)
        if h.shape[-1] < self.dec_frames:  # too few levels for this clip length
            h = F.interpolate(h, size=self.dec_frames, mode="linear", align_corners=False)
        envelope = None if self.templates is None else self.templates(zc, rows)
        return self.synth(h, envelope)
