"""Audio and images inside the site folder, named by content hash.

A report must survive being zipped and mailed, so every clip it plays is copied under
``out_dir/media/audio`` (never linked to the runs folder) and every spectrogram is drawn into
``out_dir/media/spec``. Content-hash names make both idempotent: the same real clip on fourteen
baseline pages is one file, and a rebuild into the same folder redraws nothing it already has.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.io_atomic import atomic_write_with
from bench.report.spectrogram import file_hash, spectrogram_png

AUDIO_DIR = "media/audio"
SPEC_DIR = "media/spec"


@dataclass(frozen=True)
class Clip:
    """A playable clip as the pages see it: paths relative to the site root."""

    name: str          # what the page prints (the file's path in its run, or its listen name)
    audio: str
    spec: str


class MediaStore:
    def __init__(self, site_dir: Path) -> None:
        self.site_dir = Path(site_dir)
        self.audio_dir = self.site_dir / AUDIO_DIR
        self.spec_dir = self.site_dir / SPEC_DIR
        self.audio_dir.mkdir(parents=True, exist_ok=True)
        self.spec_dir.mkdir(parents=True, exist_ok=True)
        self.written: set[Path] = set()
        self._by_source: dict[Path, tuple[str, str]] = {}

    def clip(self, wav: Path, name: str) -> Clip:
        """Copy ``wav`` into the site (once per content) and draw its spectrogram (once)."""
        wav = Path(wav)
        if wav not in self._by_source:
            if not wav.is_file():
                raise FileNotFoundError(f"audio file {wav} does not exist")
            digest = file_hash(wav)
            suffix = wav.suffix.lower() if wav.suffix.lower() in (".wav", ".flac", ".ogg", ".mp3") else ".wav"
            dst = self.audio_dir / f"{digest[:20]}{suffix}"
            if not dst.exists():
                atomic_write_with(dst, lambda tmp: shutil.copyfile(wav, tmp))
            png = spectrogram_png(wav, self.spec_dir, digest=digest)
            self.written.update((dst, png))
            self._by_source[wav] = (self.rel(dst), self.rel(png))
        audio, spec = self._by_source[wav]
        return Clip(name=name, audio=audio, spec=spec)

    def rel(self, path: Path) -> str:
        return Path(path).relative_to(self.site_dir).as_posix()

    def prune(self) -> int:
        """Delete media left from an earlier build that no page uses now."""
        removed = 0
        for folder in (self.audio_dir, self.spec_dir):
            for p in folder.iterdir():
                if p.is_file() and p not in self.written:
                    p.unlink()
                    removed += 1
        return removed
