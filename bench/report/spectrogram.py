"""Log-mel spectrogram PNGs of WAV files, cached by the file's content hash.

Images are written straight from an array through a colour map (no matplotlib figure), which is
what keeps a report with hundreds of clips fast; a clip already drawn (same bytes) is never drawn
again, so real clips shared by every baseline page cost once.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann

N_FFT = 512
N_MELS = 80
TOP_DB = 80.0
CMAP = "magma"


def file_hash(path: Path) -> str:
    """Content hash of a file (sha1, hex): the key of every media cache in the report."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (as librosa/torchaudio)."""
    hz = np.asarray(hz, dtype=np.float64)
    lin = hz / (200.0 / 3.0)
    log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, lin)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)),
                    mel * (200.0 / 3.0))


@functools.lru_cache(maxsize=16)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """``(freqs, mels)`` triangular, area-normalised filters. Written here rather than taken
    from torchaudio because importing torch would cost the report seconds for one small matrix."""
    freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2.0), n_mels + 2))
    lower = (freqs[:, None] - edges[None, :-2]) / np.diff(edges)[None, :-1]
    upper = (edges[None, 2:] - freqs[:, None]) / np.diff(edges)[None, 1:]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[None, :]


@functools.lru_cache(maxsize=16)
def _stft(sample_rate: int, n_fft: int) -> ShortTimeFFT:
    return ShortTimeFFT(hann(n_fft, sym=False), hop=n_fft // 4, fs=sample_rate, mfft=n_fft)


def log_mel(audio: np.ndarray, sample_rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """``(n_mels, frames)`` log-mel power in dB, clipped to ``TOP_DB`` below the peak."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    spec = np.abs(_stft(sample_rate, n_fft).stft(x)) ** 2           # (freqs, frames)
    mel = _mel_filters(sample_rate, n_fft, n_mels).T @ spec
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    return np.maximum(db, db.max() - TOP_DB)


def spectrogram_image(db: np.ndarray) -> np.ndarray:
    """RGBA uint8 image of a dB spectrogram, low frequencies at the bottom."""
    import matplotlib

    lo, hi = float(db.min()), float(db.max())
    norm = (db - lo) / (hi - lo) if hi > lo else np.zeros_like(db)
    return matplotlib.colormaps[CMAP](norm[::-1], bytes=True)


def _write_png(rgba: np.ndarray, png: Path) -> None:
    from PIL import Image

    from bench.io_atomic import atomic_write_with

    image = Image.fromarray(np.ascontiguousarray(rgba[..., :3]))
    atomic_write_with(png, lambda tmp: image.save(tmp, format="PNG"))


def spectrogram_png(wav: Path, out_dir: Path, *, digest: str | None = None) -> Path:
    """PNG of ``wav`` under ``out_dir`` named by its content hash; reuses an existing one."""
    digest = digest or file_hash(wav)
    png = Path(out_dir) / f"{digest[:20]}.png"
    if png.exists():
        return png
    try:
        audio, sr = sf.read(str(wav), dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ValueError(f"{wav}: cannot read audio for the spectrogram ({exc})") from exc
    _write_png(spectrogram_image(log_mel(audio, int(sr))), png)
    return png

