"""Pretrained neural codecs in place of the self-trained one, frozen: EnCodec 24 kHz (Défossez et
al. 2022, the `encodec` package) and DAC 16 kHz (Kumar et al. 2023, the `descript-audio-codec`
package, imported as `dac`).

Both fetch their weights from the internet on first use; this machine may have none. So before
importing anything, :func:`require_pretrained` looks for the checkpoint on disk and raises
:class:`PretrainedCodecUnavailable` at once, naming the file, where to fetch it and where to put
it. With the file present, the package loads it from that path, without the network. Each adapter
has the interface of :class:`~baselines.codec_latent.codec.SpectralCodec` (encode → embeddings,
quantize → codes, embed, decode), resampling the protocol's rate to the codec's and back. Only the
fail-fast paths are tested on the development machine (no weights).
"""
from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
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
#: DAC 16 kHz, release 0.0.5 (8 kbps: 50 frames/s × 12 levels × 1 024 codes); the file name is the
#: one `python -m dac download --model_type 16khz` caches under ~/.cache/descript/dac
DAC_CHECKPOINT = "weights_16khz_8kbps_0.0.5.pth"
DAC_URL = "https://github.com/descriptinc/descript-audio-codec/releases/download/0.0.5/weights_16khz.pth"
DAC_RATE, DAC_LEVELS = 16_000, 12


class PretrainedCodecUnavailable(FileNotFoundError):
    """A pretrained codec's package or weight file is not on this machine."""


@dataclass(frozen=True)
class PretrainedCodec:
    """Where one pretrained codec's code and weights come from."""

    name: str
    module: str          # the import name
    pip: str             # what to pip install
    checkpoint: str      # the weight file's name
    url: str
    default_dir: Path


def _torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint folder ($TORCH_HOME/hub/checkpoints), where `encodec` caches its weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def pretrained_codecs() -> dict[str, PretrainedCodec]:
    return {
        "encodec_24khz": PretrainedCodec("encodec_24khz", "encodec", "encodec", ENCODEC_CHECKPOINT,
                                         ENCODEC_URL, _torch_hub_checkpoints()),
        "dac_16khz": PretrainedCodec("dac_16khz", "dac", "descript-audio-codec", DAC_CHECKPOINT,
                                     DAC_URL, Path.home() / ".cache" / "descript" / "dac"),
    }


PRETRAINED_CODECS = ("encodec_24khz", "dac_16khz")


def require_pretrained(name: str, weights_dir: str | Path | None = None) -> Path:
    """The checkpoint's path, or :class:`PretrainedCodecUnavailable` naming every missing piece."""
    codec = pretrained_codecs()[name]
    folder = Path(weights_dir).expanduser() if weights_dir else codec.default_dir
    checkpoint = folder / codec.checkpoint
    missing = []
    if importlib.util.find_spec(codec.module) is None:
        missing.append(f"python package '{codec.module}' (pip install {codec.pip})")
    if not checkpoint.is_file():
        missing.append(f"{name} checkpoint: {checkpoint}  (from {codec.url})")
    if missing:
        listing = "\n".join(f"  - {line}" for line in missing)
        raise PretrainedCodecUnavailable(
            f"codec '{name}' is unavailable: it needs files that are not on this machine.\n"
            f"Missing:\n{listing}\n"
            f"Download the checkpoint on a machine with network access and copy it to {folder} "
            f"(or set baseline.pretrained_dir to its folder); the default codec (codec: self) "
            f"needs nothing.")
    return checkpoint


def require_encodec(weights_dir: str | Path | None = None) -> Path:
    return require_pretrained("encodec_24khz", weights_dir)


def _fit_length(y: Tensor, samples: int) -> Tensor:
    y = y[..., :samples]
    return nn.functional.pad(y, (0, samples - y.shape[-1]))


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
        return _fit_length(y, self.clip_samples)


class DacCodec(nn.Module):
    """Frozen DAC 16 kHz behind the self-trained codec's interface, its first ``levels`` of 12
    residual codebooks (DAC trains with quantiser dropout, so any prefix of the levels decodes)."""

    def __init__(self, *, sample_rate: int, clip_samples: int, levels: int = 4,
                 weights_dir: str | Path | None = None) -> None:
        super().__init__()
        if not 1 <= int(levels) <= DAC_LEVELS:
            raise ValueError(f"DAC 16 kHz has {DAC_LEVELS} residual levels; levels must be 1–{DAC_LEVELS}, "
                             f"got {levels}")
        checkpoint = require_pretrained("dac_16khz", weights_dir)
        import dac

        self.model = dac.DAC.load(str(checkpoint)).eval().requires_grad_(False)
        self.sample_rate, self.clip_samples = int(sample_rate), int(clip_samples)
        self.levels = int(levels)
        self.code_dim = int(self.model.latent_dim)
        self.hop = int(self.model.hop_length)
        self.codebook_size = int(self.model.codebook_size)
        self.frames = math.ceil(round(clip_samples * DAC_RATE / sample_rate) / self.hop)

    @property
    def latent_dim(self) -> int:
        return self.code_dim * self.frames

    def train(self, mode: bool = True) -> "DacCodec":
        return super().train(False)  # frozen: never leaves eval mode

    def encode(self, audio: Tensor) -> Tensor:
        x = torchaudio.functional.resample(audio, self.sample_rate, DAC_RATE)
        x = nn.functional.pad(x, (0, self.frames * self.hop - x.shape[-1]))
        return self.model.encoder(x)[..., : self.frames]

    def quantize(self, z: Tensor) -> Quantized:
        q, codes, *_ = self.model.quantizer(z, n_quantizers=self.levels)   # codes (B, levels…, F)
        codes = codes[:, : self.levels]
        return Quantized(straight_through=q, quantized=q, codes=codes.transpose(1, 2),
                         commitment=z.new_zeros(()))

    def embed(self, codes: Tensor) -> Tensor:
        return self.model.quantizer.from_codes(codes.transpose(1, 2))[0]

    def decode(self, q: Tensor) -> Tensor:
        y = torchaudio.functional.resample(self.model.decode(q), DAC_RATE, self.sample_rate)
        return _fit_length(y, self.clip_samples)
