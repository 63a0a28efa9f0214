"""Checks one audio file before it enters a manifest, and reads clips for preprocessing.

Every source calls :func:`inspect_audio` on every file; a file that fails becomes a quarantine
entry with the reason, so one bad file never aborts a dataset and none is dropped silently.

Two kinds of file decode fine but hold no drum hit, and are quarantined rather than kept with a
manifest note (a note would still let them into training and scoring):

* a constant (DC) signal: no sample differs from the first by more than one 16-bit step. It is
  silent to the ear; peak normalisation would blow it up to a full-scale offset, and onset
  alignment finds no onset in it. It is digital silence with an offset, and is treated like it.
* a file shorter than :data:`MIN_SECONDS` (10 ms): a drum hit's attack and decay need more, and
  at the protocols' 0.5-1 s clip lengths such a file becomes a click followed by 98% zero
  padding: a clip unlike every other one, which would train and score as a class member.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

#: Extensions sources treat as audio (what libsndfile reads).
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"})
#: Files shorter than this hold no drum hit (module docstring): quarantined.
MIN_SECONDS = 0.010
#: A signal whose peak-to-peak range is below one 16-bit step is constant (DC): quarantined.
DC_TOLERANCE = 2.0 / 65536


class BadAudio(ValueError):
    """A file that cannot enter a dataset; ``str(err)`` is the reason recorded in quarantine."""


@dataclass(frozen=True)
class AudioLimits:
    """What a dataset accepts. Configurable per dataset (``dataset.max_*``)."""

    max_channels: int = 2
    max_sample_rate: int = 96_000
    min_sample_rate: int = 8_000
    max_seconds: float = 30.0
    long_files: str = "crop"        # crop (keep the first max_seconds, with a note) | reject

    def __post_init__(self) -> None:
        if self.long_files not in ("crop", "reject"):
            raise ValueError(f"long_files must be 'crop' or 'reject', got {self.long_files!r}")


@dataclass
class AudioInfo:
    sha256: str
    sample_rate: int
    channels: int
    frames: int
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_audio(path: Path, limits: AudioLimits = AudioLimits()) -> AudioInfo:
    """Open, decode and check a file; raise :class:`BadAudio` with the reason if unusable."""
    path = Path(path)
    if not path.is_file():
        raise BadAudio("file does not exist")
    if path.stat().st_size == 0:
        raise BadAudio("zero-length file")
    try:
        info = sf.info(str(path))
    except Exception as err:  # libsndfile's errors are RuntimeError/LibsndfileError
        raise BadAudio(f"not readable as audio ({_short(err)})") from err
    if info.frames <= 0:
        raise BadAudio("contains no audio frames")
    if info.channels > limits.max_channels:
        raise BadAudio(f"{info.channels} channels; at most {limits.max_channels} accepted "
                       f"(dataset.max_channels)")
    if info.samplerate > limits.max_sample_rate:
        raise BadAudio(f"sample rate {info.samplerate} Hz above dataset.max_sample_rate="
                       f"{limits.max_sample_rate}")
    if info.samplerate < limits.min_sample_rate:
        raise BadAudio(f"sample rate {info.samplerate} Hz below dataset.min_sample_rate="
                       f"{limits.min_sample_rate}")
    notes: list[str] = []
    seconds = info.frames / info.samplerate
    if seconds < MIN_SECONDS:
        raise BadAudio(f"{seconds * 1000:.1f} ms long ({info.frames} frames): shorter than "
                       f"{MIN_SECONDS * 1000:g} ms, too short to hold a drum hit")
    if seconds > limits.max_seconds:
        if limits.long_files == "reject":
            raise BadAudio(f"{seconds:.1f} s long; dataset.max_seconds={limits.max_seconds:g} "
                           f"and dataset.long_files=reject")
        notes.append(f"cropped {seconds:.1f} s to the first {limits.max_seconds:g} s "
                     f"(dataset.max_seconds)")
    try:
        audio = read_audio(path, max_seconds=limits.max_seconds)
    except Exception as err:
        raise BadAudio(f"decoding failed ({_short(err)})") from err
    if not np.isfinite(audio).all():
        bad = int((~np.isfinite(audio)).sum())
        raise BadAudio(f"contains {bad} NaN/inf sample values")
    if not np.any(audio):
        raise BadAudio("digital silence: every sample is zero")
    if float(np.ptp(audio, axis=1).max()) < DC_TOLERANCE:
        levels = ", ".join(f"{v:.4g}" for v in audio[:, 0])
        raise BadAudio(f"constant DC signal (every sample = {levels}{' per channel' if audio.shape[0] > 1 else ''}): "
                       "no sound to learn from")
    frames = min(info.frames, int(limits.max_seconds * info.samplerate))
    return AudioInfo(sha256_file(path), int(info.samplerate), int(info.channels), frames, notes)


def read_audio(path: Path, max_seconds: float | None = None) -> np.ndarray:
    """Read ``(channels, frames)`` float32, at most ``max_seconds`` from the start."""
    with sf.SoundFile(str(path)) as fh:
        frames = fh.frames if max_seconds is None else min(fh.frames, int(max_seconds * fh.samplerate))
        data = fh.read(frames, dtype="float32", always_2d=True)
    return data.T.copy()


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]
