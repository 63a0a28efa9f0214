"""The data-source contract: a source scans raw files into manifest entries.

A source never decodes audio for training; it lists clips, checks each one with
:func:`bench.data.audio_check.inspect_audio`, and either returns a :class:`ManifestEntry` or a
:class:`Quarantined` record naming the file and the reason. Nothing is dropped silently.
"""
from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ManifestEntry:
    path: str                 # relative to the source's audio root (posix separators)
    sha256: str               # of the file's bytes
    label: str                # class name (the label vocabulary is the sorted set of these)
    source: str               # source name, e.g. "synthkit", "hydrogen:GMRockKit"
    duration: float           # seconds, as stored (before preprocessing)
    sample_rate: int          # original sample rate
    channels: int
    licence: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)   # descriptors / ground-truth factors
    notes: list[str] = field(default_factory=list)        # warnings, e.g. "cropped 60.0 s to 30 s"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> "ManifestEntry":
        return cls(**row)


@dataclass
class Quarantined:
    path: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SourceScan:
    root: Path                           # the audio root entries' paths are relative to
    entries: list[ManifestEntry]
    quarantined: list[Quarantined]
    description: dict[str, Any] = field(default_factory=dict)  # e.g. kits found, licence text


class DataSource(abc.ABC):
    """A place clips come from. Constructed from the ``dataset`` config's fields."""

    name: str

    @abc.abstractmethod
    def scan(self, work_dir: Path) -> SourceScan:
        """List and check every clip. ``work_dir`` is a writable folder for sources that
        generate or extract audio (synthkit writes its WAVs there)."""
