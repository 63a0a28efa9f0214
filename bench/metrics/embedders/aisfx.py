"""aisfx: the pretrained sound-effects embedding CNN of Ma & Lerch (ISMIR 2022), batched on device.

Why this one: a real network trained on sound-effects libraries (UCS categories), shipped inside a
pip wheel (``aisfx``, checkpoint included), so FAD/KAD in a learned space work offline.

The wheel's network class ``aisfx.models.cnn2d.EmbeddingNet`` imports without the package's pinned
numpy/librosa, so we use it as is and load the trunk of its checkpoint into it (the per-dataset
classifier heads of ``CrossNet`` are not needed: ``CrossNet.get_embedding`` is ``EmbeddingNet``).
Checkpoint: 6.2 M parameters in all, 4.7 M in the trunk. Embedding: 512-d per block.

The package's own extraction (``aisfx.inference.main``, default ``spectrogram_type="essentia"``,
the front end the model was trained on) works file by file through Essentia. It is re-done here in
torch for a whole batch (checked against the package in tests/metrics/test_aisfx_parity.py):

* loading: Essentia's EasyLoader at 44.1 kHz with replayGain −6 dB, a gain of exactly 1, and
  clipping to [−1, 1];
* frames: FrameCutter(2048, hop 1024, startFromZero=False): frame k is centred on sample 1024·k,
  zeros outside the clip, ceil(n / 1024) + 1 frames;
* window: Essentia's symmetric Hann, not normalised; power spectrum |FFT|², 1025 bins;
* mel: MelBands(96 bands, 0–22050 Hz, htkMel, weighting "warping", normalize "unit_sum", type
  "power"): triangles that are linear in HTK mel (torchaudio's are linear in Hz, so its
  filterbank differs), every bin in [lower, upper) edge, each filter summing to 1;
* compression log10(1e4·x + 1), then the package's "original" min–max scaling by (0, 9.4578);
* blocks of 100 frames (2.32 s) with hop 50 and drop_partial_block=True, the package's defaults,
  following ``aisfx.preprocessing.blocking``: a shorter clip gives one block, zero-padded; a longer
  one several blocks, and a trailing partial block is dropped. Blocks of one clip are averaged.

(The package's librosa front end is not the training one: it peak-normalises and hands the model a
transposed (bands, frames) array.) With its default hop the package refuses clips of 50 frames or
fewer (≤ 1.14 s, an assert on the block hop); their single zero-padded block does not depend on
the hop, and that block is what we embed.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from bench.api.embedder import Embedder, Embedding, EmbedderUnavailable
from bench.device import resolve_device
from bench.metrics.embedders.common import check_clips
from bench.progress import bar

SAMPLE_RATE = 44100
N_FFT = 2048
HOP = 1024
N_MELS = 96
F_MIN, F_MAX = 0.0, 22050.0
SPEC_MAX = 9.457798957824707        # aisfx.preprocessing.spectrogram_normalize, spec_norm="original"
BLOCK_FRAMES = 100                  # aisfx.inference.EMB_BLOCK_LENGTH
BLOCK_HOP = 50                      # EMB_BLOCK_LENGTH · emb_hop_size (0.5, the package default)
EMBEDDING_DIM = 512


def htk_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def htk_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def essentia_mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
                            f_min: float = F_MIN, f_max: float = F_MAX) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) weights of Essentia's MelBands (htkMel, "warping", "unit_sum")."""
    edges = htk_hz(np.linspace(htk_mel(f_min), htk_mel(f_max), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * (sample_rate / 2) / (n_fft // 2)
    mel_f, mel_e = htk_mel(freqs), htk_mel(edges)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (mel_f - mel_e[:-2, None]) / (mel_e[1:-1, None] - mel_e[:-2, None])
    falling = (mel_e[2:, None] - mel_f) / (mel_e[2:, None] - mel_e[1:-1, None])
    weights = np.where((freqs >= lo) & (freqs < mid), rising, 0.0)
    weights = np.where((freqs >= mid) & (freqs < hi), falling, weights)
    sums = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, sums, out=np.zeros_like(weights), where=sums > 0)


def frame_count(n_samples: int) -> int:
    """Frames Essentia's FrameCutter(2048, 1024, startFromZero=False) cuts from ``n_samples``."""
    return math.ceil(n_samples / HOP) + 1


def block_starts(n_frames: int) -> list[int]:
    """First frame of each block, as ``aisfx.preprocessing.blocking`` (drop_partial_block=True)."""
    n_blocks = math.ceil((n_frames - BLOCK_FRAMES) / BLOCK_HOP + 1)
    if (n_frames - BLOCK_FRAMES) % BLOCK_HOP != 0:
        n_blocks -= 1
    return [i * BLOCK_HOP for i in range(max(n_blocks, 1))]


def load_trunk(device: torch.device) -> torch.nn.Module:
    """The wheel's ``EmbeddingNet('max', 3, 1, 64)`` with its checkpoint's trunk weights, in eval mode."""
    try:
        from aisfx.inference import get_path_modelWeights
        from aisfx.models.cnn2d import EmbeddingNet
    except ImportError as err:
        raise EmbedderUnavailable(
            "aisfx is not installed; install the wheel alone (its declared dependencies pin "
            "ancient numpy/librosa): pip install --no-deps aisfx==0.1.2") from err
    # A trusted file shipped in the wheel; it pickles a (state_dict, dataset-dict) tuple.
    weights, _datasets = torch.load(get_path_modelWeights(), map_location="cpu", weights_only=False)
    prefix = "embedding_net."
    trunk = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
    model = EmbeddingNet("max", 3, 1, 64)     # the arguments of aisfx.inference.load_bestModel
    model.load_state_dict(trunk, strict=True)
    return model.to(device).eval()


class AisfxEmbedder(Embedder):
    name = "aisfx"
    version = "1"
    sample_rate = SAMPLE_RATE
    dim = EMBEDDING_DIM
    min_seconds = BLOCK_FRAMES * HOP / SAMPLE_RATE   # one block; shorter clips are zero-padded in it

    def __init__(self, device: str | torch.device = "auto", batch_size: int = 32) -> None:
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self._model: torch.nn.Module | None = None
        self._filterbank: torch.Tensor | None = None
        self._window: torch.Tensor | None = None

    def _load(self) -> torch.nn.Module:
        if self._model is None:
            self._model = load_trunk(self.device)
            fb = essentia_mel_filterbank()
            self._filterbank = torch.from_numpy(fb.T.copy()).to(self.device)            # (1025, 96)
            self._window = torch.hann_window(N_FFT, periodic=False, dtype=torch.float64, device=self.device)
        return self._model

    def spectrogram(self, audio: torch.Tensor) -> torch.Tensor:
        """(n, samples) at 44.1 kHz → normalised log-mel (n, frames, 96), float64, as aisfx feeds its model."""
        self._load()
        x = audio.to(self.device, torch.float64).clamp(-1.0, 1.0)
        n_samples = x.shape[-1]
        n_frames = frame_count(n_samples)
        right = (n_frames - 1) * HOP + N_FFT - N_FFT // 2 - n_samples
        x = torch.nn.functional.pad(x, (N_FFT // 2, right))
        stft = torch.stft(x, N_FFT, HOP, window=self._window, center=False, return_complex=True)
        power = stft.abs().square().transpose(1, 2)                                     # (n, frames, 1025)
        return torch.log10(1e4 * (power @ self._filterbank) + 1.0) / SPEC_MAX

    def blocks(self, spec: torch.Tensor) -> torch.Tensor:
        """(n, frames, 96) → (n, blocks, 100, 96), zero-padded / cut as aisfx's blocking does."""
        starts = block_starts(spec.shape[1])
        need = starts[-1] + BLOCK_FRAMES
        if spec.shape[1] < need:
            spec = torch.nn.functional.pad(spec, (0, 0, 0, need - spec.shape[1]))
        return torch.stack([spec[:, s:s + BLOCK_FRAMES] for s in starts], dim=1)

    def embed(self, audio: np.ndarray) -> Embedding:
        audio = check_clips(audio, self.name)
        model = self._load()
        n, n_samples = audio.shape
        notes = self._notes(audio)
        out = []
        clips_per_batch = max(1, self.batch_size // len(block_starts(frame_count(n_samples))))
        with torch.inference_mode(), bar(total=n, desc="aisfx", unit="clip") as progress:
            for i in range(0, n, clips_per_batch):
                chunk = torch.from_numpy(audio[i:i + clips_per_batch])
                blocks = self.blocks(self.spectrogram(chunk))                           # (b, k, 100, 96)
                b, k = blocks.shape[:2]
                emb = model(blocks.reshape(b * k, BLOCK_FRAMES, N_MELS).float())        # (b·k, 512)
                out.append(emb.reshape(b, k, -1).double().mean(dim=1).cpu())
                progress.update(b)
        return Embedding(vectors=torch.cat(out).numpy(), notes=notes)

    def _notes(self, audio: np.ndarray) -> list[str]:
        n, n_samples = audio.shape
        seconds = n_samples / SAMPLE_RATE
        n_frames = frame_count(n_samples)
        starts = block_starts(n_frames)
        block_s = BLOCK_FRAMES * HOP / SAMPLE_RATE
        notes = []
        if n_frames < BLOCK_FRAMES:
            notes.append(f"clips of {seconds:.2f} s fill {100 * n_frames / BLOCK_FRAMES:.0f}% of aisfx's "
                         f"{block_s:.2f} s block ({n_frames} of {BLOCK_FRAMES} frames); the rest is "
                         f"zero-padded, as aisfx pads")
        else:
            dropped = n_frames - (starts[-1] + BLOCK_FRAMES)
            text = (f"clips of {seconds:.2f} s span {len(starts)} aisfx block(s) of {block_s:.2f} s "
                    f"(hop {BLOCK_HOP} frames), averaged")
            if dropped:
                text += f"; their last {dropped} frames are dropped, as aisfx drops a partial block"
            notes.append(text)
        clipped = int((np.abs(audio) > 1.0).any(axis=1).sum())
        if clipped:
            notes.append(f"clipped {clipped} of {n} clips to [-1, 1], as aisfx's audio loader does")
        return notes
