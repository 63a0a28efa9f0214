"""mfcc: 20 MFCCs, mean and standard deviation over time (40 dimensions), no weights.

Why: Fréchet distances need more clips than dimensions. Small datasets (a few Hydrogen kits,
per-class FAD, the smoke protocol) have tens of test clips per class, too few for the 256-d
``mel`` or 512-d ``aisfx`` spaces; the classic 40-d MFCC summary keeps FAD defined there.
16 kHz, n_fft 1024, hop 256, 64 mel bands → DCT-II (ortho), log-mel with torchaudio's ``MFCC``.
"""
from __future__ import annotations

import numpy as np
import torch
import torchaudio

from bench.api.embedder import Embedder, Embedding
from bench.device import resolve_device
from bench.metrics.embedders.common import check_clips, pad_to

SAMPLE_RATE, N_MFCC = 16000, 20


class MfccStatsEmbedder(Embedder):
    name = "mfcc"
    version = "1"
    sample_rate = SAMPLE_RATE
    dim = 2 * N_MFCC
    min_seconds = 1024 / SAMPLE_RATE

    def __init__(self, device: str | torch.device = "auto", batch_size: int = 256) -> None:
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self._mfcc = torchaudio.transforms.MFCC(
            sample_rate=SAMPLE_RATE, n_mfcc=N_MFCC, log_mels=True,
            melkwargs={"n_fft": 1024, "hop_length": 256, "n_mels": 64}).to(self.device, torch.float64)

    def embed(self, audio: np.ndarray) -> Embedding:
        audio = check_clips(audio, self.name)
        audio, notes = pad_to(audio, round(self.min_seconds * SAMPLE_RATE), SAMPLE_RATE, self.name)
        out = []
        with torch.inference_mode():
            for i in range(0, len(audio), self.batch_size):
                coeffs = self._mfcc(torch.from_numpy(audio[i:i + self.batch_size]).to(self.device, torch.float64))
                out.append(torch.cat([coeffs.mean(-1), coeffs.std(-1, correction=0)], dim=-1).cpu())
        return Embedding(vectors=torch.cat(out).numpy(), notes=notes)
