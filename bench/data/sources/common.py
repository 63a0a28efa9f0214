"""What every source shares: config parsing, checking one file, and the rules applied after a scan.

A source only lists candidate files with their labels (:meth:`ScanningSource.collect`); the
same post-scan rules then run for all of them (:func:`finish_scan`):

1. byte-identical files are kept once (the first path in sorted order): a duplicate could land
   in train and test and inflate every memorisation and fidelity score;
2. ``dataset.classes`` keeps only the named classes (others are counted in the description);
3. classes with fewer than ``dataset.min_clips_per_class`` clips are quarantined (a class that
   cannot be split into train/valid/test is useless to a benchmark);
4. a scan with no usable clip raises ``ValueError`` naming the root and the first reasons.

Entries come back sorted by path, quarantine records by (path, reason): scans are deterministic.
"""
from __future__ import annotations

import abc
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from bench.api.dataset import DataSource, ManifestEntry, Quarantined, SourceScan
from bench.data.audio_check import AUDIO_EXTENSIONS, AudioLimits, BadAudio, inspect_audio
from bench.registry import did_you_mean  # the one "did you mean" of the project (re-exported)


def cfg_get(cfg: Any, key: str, default: Any = None) -> Any:
    """Read ``cfg.key`` from a dataclass, an OmegaConf node or a plain mapping."""
    if isinstance(cfg, Mapping):
        value = cfg.get(key, default)
    else:
        value = getattr(cfg, key, default)
    return default if value is None else value


def limits_from_config(cfg: Any) -> AudioLimits:
    base = AudioLimits()
    return AudioLimits(int(cfg_get(cfg, "max_channels", base.max_channels)),
                       int(cfg_get(cfg, "max_sample_rate", base.max_sample_rate)),
                       int(cfg_get(cfg, "min_sample_rate", base.min_sample_rate)),
                       float(cfg_get(cfg, "max_seconds", base.max_seconds)),
                       str(cfg_get(cfg, "long_files", base.long_files)))


def require_dir(root: Path, what: str = "dataset.root") -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise ValueError(f"{what}={root}: folder does not exist")
    if not root.is_dir():
        raise ValueError(f"{what}={root}: not a folder")
    return root


def walk_files(root: Path) -> list[Path]:
    """Every regular file under ``root`` (recursively, symlinks followed), sorted, skipping hidden
    folders (``.git``, ``.cache``) — hidden *files* stay: a ``._x.wav`` is reported, not hidden."""
    found: list[Path] = []
    visited: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:                      # a symlink loop: do not walk it twice
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder) / f for f in files)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def is_audio_name(path: Path | str) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def rel_posix(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def check_file(root: Path, rel: str, limits: AudioLimits, *, label: str, source: str,
               licence: str | None = None, extra: dict[str, Any] | None = None,
               notes: Iterable[str] = ()) -> ManifestEntry | Quarantined:
    """Inspect ``root/rel``: a manifest entry, or a quarantine record with the reason."""
    try:
        info = inspect_audio(root / rel, limits)
    except BadAudio as err:
        return Quarantined(path=rel, reason=str(err))
    return ManifestEntry(path=rel, sha256=info.sha256, label=label, source=source,
                         duration=info.duration, sample_rate=info.sample_rate,
                         channels=info.channels, licence=licence, extra=dict(extra or {}),
                         notes=[*notes, *info.notes])


def add_result(result: ManifestEntry | Quarantined, entries: list[ManifestEntry],
               quarantined: list[Quarantined]) -> None:
    (entries if isinstance(result, ManifestEntry) else quarantined).append(result)


def finish_scan(scan: SourceScan, *, min_clips_per_class: int = 2,
                classes: Iterable[str] | None = None) -> SourceScan:
    """Apply the shared post-scan rules (module docstring) and sort the result."""
    entries = sorted(scan.entries, key=lambda e: e.path)
    quarantined = list(scan.quarantined)
    description = dict(scan.description)

    first_by_hash: dict[str, str] = {}
    unique: list[ManifestEntry] = []
    for e in entries:
        if e.sha256 in first_by_hash:
            quarantined.append(Quarantined(e.path, f"same bytes as {first_by_hash[e.sha256]} "
                                                   f"(duplicate file, kept once)"))
        else:
            first_by_hash[e.sha256] = e.path
            unique.append(e)
    entries = unique

    if classes is not None:
        wanted = list(classes)
        found = {e.label for e in entries}
        missing = [c for c in wanted if c not in found]
        if missing:
            raise ValueError(
                f"dataset.classes names {', '.join(repr(c) for c in missing)} but no usable clip "
                f"of {'that class' if len(missing) == 1 else 'those classes'} was found in "
                f"{scan.root}: {did_you_mean(missing[0], found, 'class')}")
        excluded = Counter(e.label for e in entries if e.label not in wanted)
        if excluded:
            description["excluded_by_dataset_classes"] = dict(sorted(excluded.items()))
        entries = [e for e in entries if e.label in wanted]

    counts = Counter(e.label for e in entries)
    small = {lab: n for lab, n in counts.items() if n < min_clips_per_class}
    for e in entries:
        if e.label in small:
            quarantined.append(Quarantined(
                e.path, f"class '{e.label}' has only {small[e.label]} clip(s); "
                        f"dataset.min_clips_per_class={min_clips_per_class}"))
    entries = [e for e in entries if e.label not in small]

    quarantined.sort(key=lambda q: (q.path, q.reason))
    if not entries:
        raise ValueError(f"no usable audio in {scan.root}: {_why_empty(quarantined)}")
    description["class_counts"] = dict(sorted(Counter(e.label for e in entries).items()))
    description["n_quarantined"] = len(quarantined)
    return SourceScan(root=scan.root, entries=entries, quarantined=quarantined,
                      description=description)


def _why_empty(quarantined: list[Quarantined], show: int = 5) -> str:
    if not quarantined:
        return "empty folder (no audio files found)"
    shown = "; ".join(f"{q.path} ({q.reason})" for q in quarantined[:show])
    more = f"; ... and {len(quarantined) - show} more" if len(quarantined) > show else ""
    return f"{len(quarantined)} files quarantined: {shown}{more}"


class ScanningSource(DataSource):
    """Base of drumbench's sources: holds the common settings and runs :func:`finish_scan`.

    Subclasses set ``name``, ``default_root`` / ``needs_root`` / ``root_hint``, implement
    :meth:`collect`, and add their own config fields in :meth:`config_kwargs`.
    """

    name: ClassVar[str]
    needs_root: ClassVar[bool] = True
    default_root: ClassVar[str | None] = None
    root_hint: ClassVar[str] = "the folder holding the dataset"

    def __init__(self, root: str | Path | None = None, *, limits: AudioLimits = AudioLimits(),
                 classes: Iterable[str] | None = None, min_clips_per_class: int = 2) -> None:
        root = root if root is not None else self.default_root
        if root is None and self.needs_root:
            raise ValueError(f"dataset.source={self.name} reads files from disk: "
                             f"dataset.root=<path> is required ({self.root_hint})")
        self.root = Path(root).expanduser() if root is not None else None
        self.limits = limits
        self.classes = list(classes) if classes is not None else None
        self.min_clips_per_class = int(min_clips_per_class)

    @classmethod
    def config_kwargs(cls, cfg: Any) -> dict[str, Any]:
        """Source-specific constructor arguments read from the ``dataset`` config."""
        return {}

    @classmethod
    def from_config(cls, cfg: Any) -> "ScanningSource":
        classes = cfg_get(cfg, "classes")
        return cls(cfg_get(cfg, "root"), limits=limits_from_config(cfg),
                   classes=list(classes) if classes is not None else None,
                   min_clips_per_class=int(cfg_get(cfg, "min_clips_per_class", 2)),
                   **cls.config_kwargs(cfg))

    def scan(self, work_dir: Path) -> SourceScan:
        raw = self.collect(Path(work_dir))
        return finish_scan(raw, min_clips_per_class=self.min_clips_per_class,
                           classes=self.class_filter())

    def class_filter(self) -> list[str] | None:
        """Classes :func:`finish_scan` keeps (None: all); fsd50k selects by label itself."""
        return self.classes

    @abc.abstractmethod
    def collect(self, work_dir: Path) -> SourceScan:
        """List candidates and check each file; no post-scan rules here."""
