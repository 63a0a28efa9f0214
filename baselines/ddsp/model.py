"""The ``ddsp`` network: an encoder (clip → latent code) and a decoder (code + class → synthesis
parameters) driving three differentiable synthesisers whose outputs are summed.

* :class:`~baselines.ddsp.modal.ModalBank`: ``partials`` decaying, gliding sinusoids. Partial k
  may sit within ± one spacing of an anchor frequency (anchors log-spaced from ``f_min`` to
  ``f_max``): a gradient on a sinusoid's frequency only reaches nearby spectral peaks (Hayes et
  al. 2023), so the anchors spread the partials over the spectrum and the decoder mostly chooses
  their amplitudes, decays and glides, and fine-tunes their frequencies.
* :class:`~baselines.ddsp.noise.FilteredNoise`: noise with time-varying gains in ``bands`` mel
  bands, one frame every ``noise_hop`` samples (DDSP's noise branch). A band's gain is a level
  and an exponential decay per band (like a mode's) times a per-frame correction predicted by a
  small upsampling convolution stack FiLM-conditioned on the decoder's state. The decays matter:
  with per-frame gains alone, the silence after most one-shots pushed every gain to its floor
  before the onsets were learnt, and the noise branch fell silent for good (measured).
* :class:`~baselines.ddsp.transient.TransientBank`: the attack, a per-clip mix of learnt waveforms.

Amplitudes and gains use DDSP's scaled sigmoid ``2·sigmoid(x)^ln10 + 1e-7`` (Engel et al. 2020).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from baselines._common.blocks import ConditionedStack
from baselines._common.stft import LogMelFrontEnd, num_frames
from baselines.ddsp.modal import LN1000, ModalBank
from baselines.ddsp.noise import FilteredNoise
from baselines.ddsp.transient import TransientBank

MODAL_PARAMS = 5  # frequency offset, amplitude, decay, glide ratio, glide time


def exp_sigmoid(x: Tensor, exponent: float = math.log(10.0), max_value: float = 2.0) -> Tensor:
    """DDSP's positive scaling: smooth, bounded, and with a wide dynamic range."""
    return max_value * torch.sigmoid(x) ** exponent + 1e-7


def log_range(x: Tensor, low: float, high: float) -> Tensor:
    """``x`` → a value between ``low`` and ``high`` on a log scale (sigmoid)."""
    return torch.exp(math.log(low) + (math.log(high) - math.log(low)) * torch.sigmoid(x))


class Encoder(nn.Module):
    """Log-mel frames → strided convolutions → pooled → ``2 · latent_dim`` (mean, log-variance)."""

    def __init__(self, sample_rate: int, clip_samples: int, latent_dim: int, widths: Sequence[int],
                 n_fft: int, hop: int, n_mels: int, pool_frames: int = 4) -> None:
        super().__init__()
        self.front = LogMelFrontEnd(sample_rate, n_fft, hop, n_mels)
        layers: list[nn.Module] = [nn.Conv1d(n_mels, widths[0], 3, padding=1)]
        for w_in, w_out in zip(widths, list(widths[1:]) + [widths[-1]]):
            layers += [nn.LeakyReLU(0.2), nn.Conv1d(w_in, w_out, 4, stride=2, padding=1)]
        self.convs = nn.Sequential(*layers)
        frames = num_frames(clip_samples, hop)
        for _ in widths:
            frames = max(1, (frames + 2 - 4) // 2 + 1)
        self.pool_frames = min(pool_frames, frames)
        self.out = nn.Linear(widths[-1] * self.pool_frames, 2 * latent_dim)

    def forward(self, audio: Tensor) -> Tensor:
        h = self.convs((self.front(audio) + 5.0) / 5.0)
        h = F.adaptive_avg_pool1d(F.leaky_relu(h, 0.2), self.pool_frames).flatten(1)
        return self.out(h)


class DDSPAutoencoder(nn.Module):
    def __init__(self, *, num_classes: int, sample_rate: int, clip_samples: int,
                 latent_dim: int = 16, label_dim: int = 16, hidden: int = 256,
                 encoder_widths: Sequence[int] = (64, 96, 128), encoder_n_fft: int = 1024,
                 encoder_hop: int = 256, n_mels: int = 64,
                 partials: int = 48, f_min: float = 30.0, f_max: float = 7000.0,
                 t60_range: Sequence[float] = (0.01, 3.0), max_glide_ratio: float = 6.0,
                 glide_range: Sequence[float] = (0.003, 0.2), modal_n_fft: int = 512,
                 modal_hop: int = 128, bands: int = 64, noise_n_fft: int = 512,
                 noise_hop: int = 128, noise_widths: int = 64, noise_levels: int = 4,
                 transients: int = 32, transient_samples: int = 1024) -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("latent_dim", latent_dim),
                            ("label_dim", label_dim), ("hidden", hidden), ("partials", partials),
                            ("noise_widths", noise_widths), ("noise_levels", noise_levels)):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        # the anchors stop below Nyquist whatever the protocol's rate (as the drum synth's filters do)
        f_max = min(float(f_max), 0.45 * sample_rate)
        if not 0 < f_min < f_max:
            raise ValueError(f"need 0 < f_min < min(f_max, 0.45 × sample rate) = {f_max} Hz, "
                             f"got f_min={f_min}")
        self.num_classes, self.latent_dim, self.clip_samples = num_classes, latent_dim, clip_samples
        self.partials = partials
        self.t60_range, self.glide_range = tuple(t60_range), tuple(glide_range)
        self.max_glide_ratio = float(max_glide_ratio)
        self.encoder = Encoder(sample_rate, clip_samples, latent_dim, list(encoder_widths),
                               encoder_n_fft, encoder_hop, n_mels)
        self.labels = nn.Embedding(num_classes + 1, label_dim)  # last row: "no class"
        self.trunk = nn.Sequential(nn.Linear(latent_dim + label_dim, hidden), nn.LeakyReLU(0.2),
                                   nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                   nn.Linear(hidden, hidden), nn.LeakyReLU(0.2))
        # --- modal partials ------------------------------------------------------------------
        anchors = torch.logspace(math.log10(f_min), math.log10(f_max), partials)
        self.register_buffer("anchors", anchors)
        self.spread_octaves = math.log2(f_max / f_min) / max(1, partials - 1)
        self.modal_head = nn.Linear(hidden, MODAL_PARAMS * partials)
        with torch.no_grad():  # start quiet, without glide, decays mid-range
            self.modal_head.weight.mul_(0.1)
            bias = self.modal_head.bias.view(MODAL_PARAMS, partials)
            bias.zero_()
            bias[1].fill_(-1.5)
            bias[3].fill_(-4.0)
        self.modal = ModalBank(sample_rate, clip_samples, modal_n_fft, modal_hop)
        # --- filtered noise ------------------------------------------------------------------
        self.noise = FilteredNoise(sample_rate, clip_samples, bands, noise_n_fft, noise_hop)
        self.noise_start = max(1, math.ceil(self.noise.frames / 2 ** noise_levels))
        self.noise_in = nn.Linear(hidden, noise_widths * self.noise_start)
        self.noise_up = nn.ModuleList(nn.Conv1d(noise_widths, noise_widths, 3, padding=1)
                                      for _ in range(noise_levels))
        self.noise_stacks = nn.ModuleList(ConditionedStack(noise_widths, hidden, 1)
                                          for _ in range(noise_levels))
        # a learned vector per frame: the onset is at frame 0, so where a decay lies is learnable
        self.noise_pos = nn.ParameterList(
            nn.Parameter(torch.zeros(1, noise_widths, self.noise_start * 2 ** (i + 1)))
            for i in range(noise_levels))
        self.noise_out = nn.Conv1d(noise_widths, bands, 1)
        with torch.no_grad():  # the per-frame part starts flat: the decays shape it at first
            self.noise_out.weight.mul_(0.1)
            self.noise_out.bias.zero_()
        # per band, a level and a 60-dB decay time
        self.noise_head = nn.Linear(hidden, 2 * bands)
        with torch.no_grad():
            self.noise_head.weight.mul_(0.1)
            self.noise_head.bias.zero_()
            self.noise_head.bias[:bands].fill_(-1.0)
        self.register_buffer("noise_t", torch.arange(self.noise.frames) * noise_hop / sample_rate,
                             persistent=False)
        # --- transient -----------------------------------------------------------------------
        self.transient = TransientBank(transients, min(transient_samples, clip_samples), clip_samples,
                                       init_scale=0.05)
        self.transient_head = nn.Linear(hidden, transients)

    # --- conditioning -----------------------------------------------------------------------
    def rows(self, labels: Tensor | None, batch: int, device: torch.device) -> Tensor:
        """Class labels (``None`` or -1: none) → rows of the class table (last: "no class")."""
        if labels is None:
            return torch.full((batch,), self.num_classes, dtype=torch.long, device=device)
        labels = labels.to(device=device, dtype=torch.long).flatten()
        if labels.shape[0] != batch:
            raise ValueError(f"got {labels.shape[0]} labels for a batch of {batch}")
        if bool((labels >= self.num_classes).any()) or bool((labels < -1).any()):
            raise ValueError(f"class labels must lie in [0, {self.num_classes}) (or -1 for none); "
                             f"got {sorted(set(labels.tolist()))}")
        return torch.where(labels < 0, self.num_classes, labels)

    # --- encoder and decoder ----------------------------------------------------------------
    def encode(self, audio: Tensor) -> Tensor:
        """``(B, 1, T)`` → ``(B, 2 · latent_dim)``: posterior mean and log-variance."""
        if audio.ndim != 3 or audio.shape[1] != 1 or audio.shape[2] != self.clip_samples:
            raise ValueError(f"expected audio of shape (batch, 1, {self.clip_samples}), "
                             f"got {tuple(audio.shape)}")
        return self.encoder(audio)

    def synth_params(self, z: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """Code + class → every synthesiser's parameters (frequencies in Hz, times in s)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected codes of shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
        rows = self.rows(labels, z.shape[0], z.device)
        h = self.trunk(torch.cat([z, self.labels(rows)], dim=1))
        offset, amp, t60, glide, glide_t = self.modal_head(h).view(-1, MODAL_PARAMS, self.partials).unbind(1)
        x = self.noise_in(h).view(z.shape[0], -1, self.noise_start)
        for level, (up, stack) in enumerate(zip(self.noise_up, self.noise_stacks)):
            x = up(F.interpolate(x, scale_factor=2, mode="nearest")) + self.noise_pos[level]
            x = stack(x, h)
        x = F.leaky_relu(x[..., : self.noise.frames], 0.2)
        band_level, band_decay = self.noise_head(h).chunk(2, dim=1)
        if x.shape[-1] < self.noise.frames:
            x = F.interpolate(x, size=self.noise.frames, mode="linear", align_corners=False)
        return {
            "freq_hz": self.anchors * torch.exp2(self.spread_octaves * torch.tanh(offset)),
            "amp": exp_sigmoid(amp),
            "t60_s": log_range(t60, *self.t60_range),
            "glide_ratio": 1.0 + (self.max_glide_ratio - 1.0) * torch.sigmoid(glide),
            "glide_s": log_range(glide_t, *self.glide_range),
            "noise_gains": exp_sigmoid(band_level.unsqueeze(-1) + self.noise_out(x)) * torch.exp(
                -LN1000 * self.noise_t / log_range(band_decay, *self.t60_range).unsqueeze(-1)),
            "transient_weights": self.transient_head(h),
        }

    def synthesise(self, p: dict[str, Tensor]) -> Tensor:
        modal = self.modal(p["freq_hz"], p["amp"], p["t60_s"], p["glide_ratio"], p["glide_s"])
        return (modal + self.noise(p["noise_gains"]) + self.transient(p["transient_weights"])).unsqueeze(1)

    def decode(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """``(B, latent_dim)`` → ``(B, 1, T)`` waveform (not yet clipped to [-1, 1])."""
        return self.synthesise(self.synth_params(z, labels))
