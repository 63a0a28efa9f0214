"""A pretrained neural codec in place of the self-trained one: EnCodec 24 kHz (Défossez et al.
2022, the `encodec` package), frozen.

EnCodec's weights come from the internet on first use (torch.hub); this machine may have none.
So before importing anything, :func:`require_encodec` looks for the checkpoint on disk and raises
:class:`PretrainedCodecUnavailable` at once, naming the file, where to fetch it and where to put
it. With the file present, the package loads it from that folder (``repository=``), without the
network. The adapter has the interface of :class:`~baselines.codec_latent.codec.SpectralCodec`
(encode → embeddings, quantize → codes, embed, decode), resampling the protocol's rate to
24 kHz and back. Only the fail-fast path is tested on the development machine (no weights).
"""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch
import torchaudio
from torch import Tensor, nn

from baselines.codec_latent.rvq import Quantized

ENCODEC_CHECKPOINT = "encodec_24khz-d7cc33bc.th"
ENCODEC_URL = f"https://dl.fbaipublicfiles.com/encodec/v0/{ENCODEC_CHECKPOINT}"
ENCODEC_RATE, ENCODEC_HOP, ENCODEC_DIM = 24_000, 320, 128
#: bandwidth (kbps) → residual levels of the 24 kHz model (75 frames/s × 10 bits per level)
ENCODEC_LEVELS = {1.5: 2, 3.0: 4, 6.0: 8, 12.0: 16, 24.0: 32}
PRETRAINED_CODECS = ("encodec_24khz",)


class PretrainedCodecUnavailable(FileNotFoundError):
    """A pretrained codec's package or weight file is not on this machine."""


def default_weights_dir() -> Path:
    """torch.hub's checkpoint folder ($TORCH_HOME/hub/checkpoints), where `encodec` caches its weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def require_encodec(weights_dir: str | Path | None = None) -> Path:
    """The checkpoint's path, or :class:`PretrainedCodecUnavailable` naming every missing piece."""
    folder = Path(weights_dir).expanduser() if weights_dir else default_weights_dir()
    checkpoint = folder / ENCODEC_CHECKPOINT
    missing = []
    if importlib.util.find_spec("encodec") is None:
        missing.append("python package 'encodec' (pip install encodec)")
    if not checkpoint.is_file():
        missing.append(f"EnCodec 24 kHz checkpoint: {checkpoint}  (from {ENCODEC_URL})")
    if missing:
        listing = "\n".join(f"  - {line}" for line in missing)
        raise PretrainedCodecUnavailable(
            f"codec 'encodec_24khz' is unavailable: it needs files that are not on this machine.\n"
            f"Missing:\n{listing}\n"
            f"Download the checkpoint on a machine with network access and copy it to {folder} "
            f"(or set baseline.pretrained_dir to its folder); the default codec (codec: self) "
            f"needs nothing.")
    return checkpoint


class EncodecCodec(nn.Module):
    """Frozen EnCodec 24 kHz at ``bandwidth`` kbps behind the self-trained codec's interface."""

    def __init__(self, *, sample_rate: int, clip_samples: int, bandwidth: float = 3.0,
                 weights_dir: str | Path | None = None) -> None:
        super().__init__()
        if float(bandwidth) not in ENCODEC_LEVELS:
            raise ValueError(f"EnCodec 24 kHz bandwidth must be one of {sorted(ENCODEC_LEVELS)} kbps, "
                             f"got {bandwidth}")
        checkpoint = require_encodec(weights_dir)
        from encodec import EncodecModel

        model = EncodecModel.encodec_model_24khz(pretrained=True, repository=checkpoint.parent)
        model.set_target_bandwidth(float(bandwidth))
        self.model = model.eval().requires_grad_(False)
        self.bandwidth = float(bandwidth)
        self.sample_rate, self.clip_samples = int(sample_rate), int(clip_samples)
        self.code_dim = ENCODEC_DIM
        self.frames = math.ceil(round(clip_samples * ENCODEC_RATE / sample_rate) / ENCODEC_HOP)
        self.levels = ENCODEC_LEVELS[self.bandwidth]
        self.codebook_size = int(self.model.quantizer.bins)

    @property
    def latent_dim(self) -> int:
        return self.code_dim * self.frames

    def train(self, mode: bool = True) -> "EncodecCodec":
        return super().train(False)  # frozen: never leaves eval mode

    def encode(self, audio: Tensor) -> Tensor:
        x = torchaudio.functional.resample(audio, self.sample_rate, ENCODEC_RATE)
        return self.model.encoder(x)[..., : self.frames]

    def quantize(self, z: Tensor) -> Quantized:
        codes = self.model.quantizer.encode(z, self.model.frame_rate, self.bandwidth)  # (L, B, F)
        q = self.model.quantizer.decode(codes)
        return Quantized(straight_through=q, quantized=q, codes=codes.permute(1, 2, 0),
                         commitment=z.new_zeros(()))

    def embed(self, codes: Tensor) -> Tensor:
        return self.model.quantizer.decode(codes.permute(2, 0, 1))

    def decode(self, q: Tensor) -> Tensor:
        y = torchaudio.functional.resample(self.model.decoder(q), ENCODEC_RATE, self.sample_rate)
        y = y[..., : self.clip_samples]
        return nn.functional.pad(y, (0, self.clip_samples - y.shape[-1]))
