"""The DrumGAN networks: a spectral generator with an exact iSTFT and a conditional critic.

Generator: (noise z, normalised timbral descriptors, class) → a short frame sequence →
upsampling residual convolutions (FiLM on a style vector of all three, plus a learned vector per
frame) → per-bin log-magnitude and instantaneous-frequency deviation (and a noise part) →
``torch.istft`` (:class:`baselines._common.stft.ISTFTSynth`) → tanh (``soft_clip``). DrumGAN's
generator likewise emits magnitude + IF and its waveform is their exact inverse, with no Griffin-Lim.

Critic: the log-mel spectrogram of the waveform (the generator's output is re-analysed, so phase
errors show as the smeared magnitudes they cause) → strided 1-D convolutions over frames → a
feature vector φ. It returns the adversarial score ``w·φ + ⟨e_class, φ⟩`` (the projection
discriminator of Miyato & Koyama 2018) and DrumGAN's auxiliary heads: class logits (as in
AC-GAN) and the descriptors it reads from the clip, which the generator is asked to match.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from baselines._common.blocks import ConditionedStack
from baselines._common.stft import ISTFTSynth, LogMelFrontEnd, num_frames


def _positive(**values: int) -> None:
    for name, value in values.items():
        if int(value) < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_labels(labels: Tensor, batch: int, num_classes: int) -> Tensor:
    labels = labels.flatten().long()
    if labels.shape[0] != batch:
        raise ValueError(f"got {labels.shape[0]} labels for a batch of {batch}")
    if bool((labels < 0).any()) or bool((labels >= num_classes).any()):
        raise ValueError(f"class labels must lie in [0, {num_classes}); got {sorted(set(labels.tolist()))}")
    return labels


class SpectralGenerator(nn.Module):
    """``(z (B, latent_dim), descriptors (B, D), labels (B,))`` → waveform ``(B, 1, T)``."""

    def __init__(self, *, num_classes: int, clip_samples: int, latent_dim: int, descriptors: int,
                 label_dim: int = 32, style_dim: int = 128, widths: Sequence[int] = (192, 128, 96, 64),
                 blocks: int = 1, n_fft: int = 1024, hop: int = 256, phase: str = "if_noise",
                 init_log_mag: float = -4.0, positional: bool = True, bands: int = 0,
                 lobe_phase: bool = False, soft_clip: bool = False,
                 fine_n_fft: int = 0, fine_hop: int = 64, fine_width: int = 32,
                 fine_init_log_mag: float = -2.0, sample_rate: int = 16000) -> None:
        super().__init__()
        widths = list(widths)
        if not widths:
            raise ValueError("generator widths need at least one level")
        if bands < 0:
            raise ValueError(f"bands must be ≥ 0 (0: no band-decay envelope), got {bands}")
        _positive(num_classes=num_classes, clip_samples=clip_samples, latent_dim=latent_dim,
                  label_dim=label_dim, style_dim=style_dim,
                  **{f"widths[{i}]": w for i, w in enumerate(widths)})
        if descriptors < 0:
            raise ValueError(f"descriptors must be ≥ 0, got {descriptors}")
        self.num_classes, self.latent_dim, self.descriptors = num_classes, latent_dim, descriptors
        self.labels = nn.Embedding(num_classes, label_dim)
        cond = latent_dim + descriptors + label_dim
        self.frames = num_frames(clip_samples, hop)
        self.start = max(1, math.ceil(self.frames / 2 ** len(widths)))
        self.style = nn.Sequential(nn.Linear(cond, style_dim), nn.LeakyReLU(0.2),
                                   nn.Linear(style_dim, style_dim))
        self.inp = nn.Linear(cond, widths[0] * self.start)
        self.up = nn.ModuleList(nn.Conv1d(w_in, w_out, 3, padding=1)
                                for w_in, w_out in zip(widths[:1] + widths[:-1], widths))
        self.stacks = nn.ModuleList(ConditionedStack(w, style_dim, blocks) for w in widths)
        # one-shots start at frame 0: a learned vector per frame says where attack and decay lie
        self.pos = nn.ParameterList(nn.Parameter(torch.zeros(1, w, self.start * 2 ** (i + 1)))
                                    for i, w in enumerate(widths)) if positional else None
        self.synth = ISTFTSynth(widths[-1], n_fft, hop, clip_samples, phase=phase,
                                init_log_mag=init_log_mag, lobe_phase=lobe_phase)
        self.decay = BandDecayEnvelope(style_dim, bands, n_fft, hop, self.frames,
                                       sample_rate=sample_rate) if bands else None
        self.soft_clip = soft_clip
        self.fine = FineBranch(widths[-1], style_dim, fine_width, fine_n_fft, fine_hop, clip_samples,
                               positional=positional, init_log_mag=fine_init_log_mag) \
            if fine_n_fft else None

    def forward(self, z: Tensor, descriptors: Tensor, labels: Tensor) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected noise of shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
        if descriptors.shape != (z.shape[0], self.descriptors):
            raise ValueError(f"expected descriptors of shape ({z.shape[0]}, {self.descriptors}), "
                             f"got {tuple(descriptors.shape)}")
        labels = _check_labels(labels, z.shape[0], self.num_classes)
        cond = torch.cat([z, descriptors, self.labels(labels)], dim=1)
        style = self.style(cond)
        h = self.inp(cond).view(z.shape[0], -1, self.start)
        for level, (up, stack) in enumerate(zip(self.up, self.stacks)):
            h = up(F.interpolate(h, scale_factor=2, mode="nearest"))
            if self.pos is not None:
                h = h + self.pos[level]
            h = stack(h, style)
        h = F.leaky_relu(h[..., : self.frames], 0.2)
        if h.shape[-1] < self.frames:  # too few levels for this clip length
            h = F.interpolate(h, size=self.frames, mode="linear", align_corners=False)
        wave = self.synth(h, None if self.decay is None else self.decay(style))
        if self.fine is not None:
            wave = wave + self.fine(h, style)
        # tanh: the critic then judges the bounded clip that is scored; a hard clamp applied only
        # at sampling time clipped every generated kick, unseen in training (README)
        return torch.tanh(wave) if self.soft_clip else wave


class FineBranch(nn.Module):
    """A second, short-window iSTFT head added to the waveform: the frame features interpolated
    to a finer hop, a FiLM residual block and a learned vector per fine frame, then magnitude + IF
    + noise on an ``n_fft``-sample window.

    The main head's 64 ms window cannot place what happens within a few milliseconds: a clap is
    3–4 noise bursts 7–13 ms apart, a snare's attack a noise burst over a tone. A 16 ms window
    at a 4 ms hop can resolve them; at the quick budget on a CPU it cost 1.7× per update and did
    not bring the claps (README.md, development row 24), so it is off by default.
    """

    def __init__(self, channels: int, style_dim: int, width: int, n_fft: int, hop: int,
                 clip_samples: int, *, positional: bool, init_log_mag: float) -> None:
        super().__init__()
        _positive(fine_n_fft=n_fft, fine_hop=hop, fine_width=width)
        self.frames = num_frames(clip_samples, hop)
        self.inp = nn.Conv1d(channels, width, 1)
        self.pos = nn.Parameter(torch.zeros(1, width, self.frames)) if positional else None
        self.stack = ConditionedStack(width, style_dim, 1)
        self.synth = ISTFTSynth(width, n_fft, hop, clip_samples, phase="if_noise",
                                init_log_mag=init_log_mag)

    def forward(self, h: Tensor, style: Tensor) -> Tensor:
        h = self.inp(F.interpolate(h, size=self.frames, mode="linear", align_corners=False))
        if self.pos is not None:
            h = h + self.pos
        return self.synth(F.leaky_relu(self.stack(h, style), 0.2))


class BandDecayEnvelope(nn.Module):
    """A log-magnitude envelope ``level(f) − rate(f)·t`` from the style vector: per mel band an
    onset level and an exponential decay rate, interpolated to the STFT bins.

    A struck drum is, to first order, a set of bands that decay exponentially; giving the
    generator that shape as ``bands`` × 2 numbers from linear heads lets a class's spectral balance
    and decay times be learnt within a few hundred adversarial steps, while the convolutional
    path still adds every detail (see README.md for the measurement with and without it).
    """

    def __init__(self, style_dim: int, bands: int, n_fft: int, hop: int, frames: int, *,
                 sample_rate: int, base_rate: float = 10.0) -> None:
        super().__init__()
        self.level = nn.Linear(style_dim, bands)
        self.rate = nn.Linear(style_dim, bands)
        for head in (self.level, self.rate):
            nn.init.normal_(head.weight, std=0.01)
            nn.init.zeros_(head.bias)
        self.base_log_rate = math.log(base_rate)        # 1/s: a T60 of ln(1000)/10 ≈ 0.7 s
        self.register_buffer("interp", _band_interpolation(bands, n_fft // 2 + 1, sample_rate),
                             persistent=False)
        self.register_buffer("seconds", torch.arange(frames) * hop / sample_rate, persistent=False)

    def forward(self, style: Tensor) -> Tensor:
        level = self.level(style) @ self.interp                        # (B, bins)
        rate = torch.exp(self.rate(style) + self.base_log_rate) @ self.interp
        return level.unsqueeze(-1) - rate.unsqueeze(-1) * self.seconds   # (B, bins, frames)


def _band_interpolation(bands: int, bins: int, sample_rate: int) -> Tensor:
    """``(bands, bins)`` weights: each STFT bin linearly interpolated between the two nearest
    band centres, which are spaced evenly on the mel scale (ends held constant)."""
    mel = lambda f: 2595.0 * torch.log10(1.0 + f / 700.0)  # noqa: E731
    centres = torch.linspace(0.0, float(mel(torch.tensor(sample_rate / 2))), bands)
    position = mel(torch.linspace(0.0, sample_rate / 2, bins))
    weights = torch.zeros(bands, bins)
    if bands == 1:
        return weights + 1.0
    step = centres[1] - centres[0]
    left = (position / step).floor().long().clamp(0, bands - 2)
    frac = ((position - centres[left]) / step).clamp(0.0, 1.0)
    cols = torch.arange(bins)
    weights[left, cols] = 1.0 - frac
    weights[left + 1, cols] += frac
    return weights


class FrameTrunk(nn.Module):
    """Log-mel frames ``(B, n_mels, frames)`` → strided residual 1-D convolutions over frames →
    a flat ``(B, out_features)`` vector (with ProGAN's minibatch-std channel when ``std_group``)."""

    def __init__(self, n_mels: int, widths: Sequence[int], frames: int, std_group: int) -> None:
        super().__init__()
        widths = list(widths)
        if not widths:
            raise ValueError("critic widths need at least one level")
        _positive(n_mels=n_mels, **{f"widths[{i}]": w for i, w in enumerate(widths)})
        self.std_group = std_group
        self.inp = nn.Conv1d(n_mels, widths[0], 3, padding=1)
        self.convs = nn.ModuleList()
        self.down = nn.ModuleList()
        for w_in, w_out in zip(widths, widths[1:] + widths[-1:]):
            self.convs.append(nn.Conv1d(w_in, w_in, 3, padding=1))
            self.down.append(nn.Conv1d(w_in, w_out, 4, stride=2, padding=1))
            frames = max(1, (frames + 2 - 4) // 2 + 1)
        self.out_features = (widths[-1] + (1 if std_group else 0)) * frames

    def forward(self, features: Tensor) -> Tensor:
        h = self.inp(features)
        for conv, down in zip(self.convs, self.down):
            h = h + conv(F.leaky_relu(h, 0.2))
            h = down(F.leaky_relu(h, 0.2))
        if self.std_group:
            h = torch.cat([h, minibatch_std(h, self.std_group)], dim=1)
        return h.flatten(1)


class SpectralCritic(nn.Module):
    """Waveform → log-mel ``features`` (one tensor per resolution); features + class → (score,
    class logits, descriptors).

    With ``fine_n_fft`` it reads a second, short-window log-mel too (each through its own
    :class:`FrameTrunk`, joined in φ), the multi-resolution critic of MelGAN/HiFi-GAN/UnivNet: a
    64 ms window does not show a clap's bursts, so it cannot ask the generator for them.
    """

    def __init__(self, *, num_classes: int, clip_samples: int, sample_rate: int, descriptors: int,
                 widths: Sequence[int] = (128, 192, 256), feature_dim: int = 256, n_fft: int = 1024,
                 hop: int = 256, n_mels: int = 80, projection: bool = True,
                 minibatch_std_group: int = 0, fine_n_fft: int = 0, fine_hop: int = 64,
                 fine_mels: int = 40, fine_widths: Sequence[int] = (32, 64, 64, 64),
                 spectral_norm: bool = False) -> None:
        super().__init__()
        if minibatch_std_group < 0:
            raise ValueError(f"minibatch_std_group must be ≥ 0 (0: no minibatch-std feature), "
                             f"got {minibatch_std_group}")
        if fine_n_fft < 0:
            raise ValueError(f"fine_n_fft must be ≥ 0 (0: no fine-resolution branch), got {fine_n_fft}")
        _positive(num_classes=num_classes, feature_dim=feature_dim)
        self.num_classes, self.clip_samples = num_classes, clip_samples
        self.std_group = int(minibatch_std_group)
        grids = [(n_fft, hop, n_mels, widths)] + ([(fine_n_fft, fine_hop, fine_mels, fine_widths)]
                                                  if fine_n_fft else [])
        self.fronts = nn.ModuleList(LogMelFrontEnd(sample_rate, f, h, m) for f, h, m, _ in grids)
        self.trunks = nn.ModuleList(FrameTrunk(m, w, num_frames(clip_samples, h), self.std_group)
                                    for _, h, m, w in grids)
        self.feature = nn.Linear(sum(t.out_features for t in self.trunks), feature_dim)
        self.score = nn.Linear(feature_dim, 1)
        self.project = nn.Embedding(num_classes, feature_dim) if projection else None
        if self.project is not None:
            nn.init.zeros_(self.project.weight)
        self.classify = nn.Linear(feature_dim, num_classes)
        self.regress = nn.Linear(feature_dim, descriptors) if descriptors else None
        if spectral_norm:   # SN-GAN: every layer up to the score has its largest singular value 1
            for layer in [m for m in self.trunks.modules() if isinstance(m, nn.Conv1d)] \
                    + [self.feature, self.score]:
                nn.utils.parametrizations.spectral_norm(layer)

    def features(self, audio: Tensor) -> tuple[Tensor, ...]:
        """``(B, 1, T)`` → per resolution ``(B, n_mels, frames)``: the critic's input, where
        penalties are taken."""
        if audio.ndim != 3 or audio.shape[1] != 1 or audio.shape[2] != self.clip_samples:
            raise ValueError(f"expected audio of shape (batch, 1, {self.clip_samples}), "
                             f"got {tuple(audio.shape)}")
        return tuple((front(audio) + 5.0) / 5.0 for front in self.fronts)

    def forward(self, features: Sequence[Tensor], labels: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        if len(features) != len(self.trunks):
            raise ValueError(f"the critic reads {len(self.trunks)} resolution(s), got {len(features)} "
                             f"feature tensors (use critic.features(audio))")
        labels = _check_labels(labels, features[0].shape[0], self.num_classes)
        flat = torch.cat([trunk(f) for trunk, f in zip(self.trunks, features)], dim=1)
        phi = F.leaky_relu(self.feature(flat), 0.2)
        score = self.score(phi).squeeze(1)
        if self.project is not None:
            score = score + (self.project(labels) * phi).sum(dim=1)
        regressed = self.regress(phi) if self.regress is not None else None
        return score, self.classify(phi), regressed


def minibatch_std(h: Tensor, group: int) -> Tensor:
    """ProGAN's minibatch standard deviation (Karras et al. 2018), which DrumGAN's critic has: per
    group of ``group`` examples, the deviation across the group of every feature, averaged to one
    number per frame and given to each member as an extra channel ``(B, 1, frames)``. A critic
    that sees how alike a batch is can punish a generator that gives every code the same sound.
    A batch that ``group`` does not divide is taken as one group."""
    batch, _, frames = h.shape
    g = group if batch % group == 0 and batch >= group else batch
    if g < 2:
        return h.new_zeros(batch, 1, frames)
    grouped = h.view(g, batch // g, -1, frames)          # member, group, channel, frame
    std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=1, keepdim=True)  # (B/g, 1, F)
    return std.repeat(g, 1, 1)
