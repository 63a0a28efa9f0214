"""mel: log-mel statistics, a weight-free embedding that is always available and fast.

Why: the validation loop and the quick protocol need a space that costs nothing to load and is
the same on every machine. 16 kHz, 64 mel bands (n_fft 1024, hop 256, torchaudio's HTK mel
filterbank), log(1e-5 + mel power); per band the mean and standard deviation over time, then the
mean and standard deviation of the first difference over time (delta): 4 × 64 = 256 dimensions.
"""
from __future__ import annotations

import numpy as np
import torch
import torchaudio

from bench.api.embedder import Embedder, Embedding
from bench.device import resolve_device
from bench.metrics.embedders.common import check_clips, pad_to

SAMPLE_RATE = 16000
N_FFT = 1024
HOP = 256
N_MELS = 64
LOG_FLOOR = 1e-5


class MelStatsEmbedder(Embedder):
    name = "mel"
    version = "1"
    sample_rate = SAMPLE_RATE
    dim = 4 * N_MELS
    min_seconds = N_FFT / SAMPLE_RATE    # five centred frames: enough for a std of the delta

    def __init__(self, device: str | torch.device = "auto", batch_size: int = 256) -> None:
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self._mel: torchaudio.transforms.MelSpectrogram | None = None

    def _load(self) -> torchaudio.transforms.MelSpectrogram:
        if self._mel is None:
            mel = torchaudio.transforms.MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP,
                                                       n_mels=N_MELS, power=2.0)
            self._mel = mel.to(self.device, torch.float64)
        return self._mel

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """(n, samples) → (n, 64, frames) log-mel, float64."""
        return torch.log(LOG_FLOOR + self._load()(audio.to(self.device, torch.float64)))

    def embed(self, audio: np.ndarray) -> Embedding:
        audio = check_clips(audio, self.name)
        audio, notes = pad_to(audio, round(self.min_seconds * SAMPLE_RATE), SAMPLE_RATE, self.name)
        out = []
        with torch.inference_mode():
            for i in range(0, len(audio), self.batch_size):
                logmel = self.log_mel(torch.from_numpy(audio[i:i + self.batch_size]))
                delta = logmel.diff(dim=-1)
                stats = [logmel.mean(-1), logmel.std(-1, correction=0), delta.mean(-1), delta.std(-1, correction=0)]
                out.append(torch.cat(stats, dim=-1).cpu())
        return Embedding(vectors=torch.cat(out).numpy(), notes=notes)
