"""Any folder of audio: labels from sub-folder names (``<root>/<class>/**/x.wav``) or a CSV.

Only files with an audio extension are candidates; other files are ignored and counted in
``description["ignored_non_audio"]``. Labels:

* default: the first sub-folder under root names the class; files directly under root have
  none and are quarantined;
* ``dataset.labels_csv``: a CSV with columns ``path,label`` (paths relative to root). A row naming
  a missing file, a file listed twice with different labels, or an empty label is quarantined,
  and so is every audio file the CSV does not list.
"""
from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath
from typing import Any

from bench.api.dataset import ManifestEntry, Quarantined, SourceScan
from bench.data.audio_check import AUDIO_EXTENSIONS
from bench.data.sources.common import (ScanningSource, add_result, cfg_get, check_file,
                                       is_audio_name, rel_posix, require_dir, walk_files)

NO_LABEL = "no label: put files in <class>/ sub-folders or pass dataset.labels_csv"


class FolderSource(ScanningSource):
    name = "folder"
    root_hint = "a folder with one sub-folder per class, or with dataset.labels_csv"
    licence: str | None = None

    def __init__(self, root: str | Path | None = None, *, labels_csv: str | Path | None = None,
                 **common: Any) -> None:
        super().__init__(root, **common)
        self.labels_csv = Path(labels_csv).expanduser() if labels_csv else None

    @classmethod
    def config_kwargs(cls, cfg: Any) -> dict[str, Any]:
        return {"labels_csv": cfg_get(cfg, "labels_csv")}

    # -- what subclasses change ------------------------------------------------------------
    def audio_root(self) -> Path:
        return require_dir(self.root)

    def label_for(self, rel: str) -> tuple[str | None, str]:
        """``(label, "")`` or ``(None, reason)`` for a file with no CSV."""
        parts = rel.split("/")
        if len(parts) < 2:
            return None, NO_LABEL
        return parts[0], ""

    def entry_notes(self, entry: ManifestEntry) -> list[str]:
        return []

    # -- the scan --------------------------------------------------------------------------
    def collect(self, work_dir: Path) -> SourceScan:
        root = self.audio_root()
        files = walk_files(root)
        audio = [rel_posix(p, root) for p in files if is_audio_name(p)]
        description: dict[str, Any] = {"ignored_non_audio": len(files) - len(audio)}
        entries: list[ManifestEntry] = []
        quarantined: list[Quarantined] = []
        if self.labels_csv is not None:
            csv_path = self._csv_path(root)
            labels, csv_problems = read_labels_csv(csv_path, root)
            description["labels_csv"] = str(csv_path)
            quarantined += csv_problems
            on_disk = set(audio)
            for rel in sorted(set(labels) - on_disk):
                reason = ("listed in labels_csv but the file does not exist"
                          if not (root / rel).is_file() else
                          "listed in labels_csv but is not an audio file "
                          f"(extensions: {', '.join(sorted(AUDIO_EXTENSIONS))})")
                quarantined.append(Quarantined(rel, reason))
            reported = {q.path for q in csv_problems}
            pairs = [(rel, labels.get(rel)) for rel in audio if rel not in reported]
            pairs = [(rel, (lab, "") if lab is not None else (None, "not listed in labels_csv"))
                     for rel, lab in pairs]
        else:
            pairs = [(rel, self.label_for(rel)) for rel in audio]
        for rel, (label, why) in pairs:
            if label is None:
                quarantined.append(Quarantined(rel, why))
                continue
            result = check_file(root, rel, self.limits, label=label, source=self.name,
                                licence=self.licence)
            if isinstance(result, ManifestEntry):
                result.notes.extend(self.entry_notes(result))
            add_result(result, entries, quarantined)
        return SourceScan(root=root, entries=entries, quarantined=quarantined,
                          description=description)

    def _csv_path(self, root: Path) -> Path:
        assert self.labels_csv is not None
        for candidate in (self.labels_csv, root / self.labels_csv):
            if candidate.is_file():
                return candidate
        raise ValueError(f"dataset.labels_csv={self.labels_csv}: file not found "
                         f"(looked as given and under dataset.root={root})")


def read_labels_csv(path: Path, root: Path) -> tuple[dict[str, str], list[Quarantined]]:
    """``{path relative to root (posix): label}`` and quarantine records for bad rows."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if "path" not in columns or "label" not in columns:
            raise ValueError(f"dataset.labels_csv={path}: needs columns 'path' and 'label'; "
                             f"found {columns or 'no header'}")
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    labels: dict[str, str] = {}
    seen: dict[str, set[str]] = {}
    problems: list[Quarantined] = []
    for line, row in enumerate(rows, start=2):
        if not row["path"]:
            problems.append(Quarantined(f"{path.name}:{line}", "labels_csv row with an empty path"))
            continue
        given = PurePosixPath(row["path"].replace("\\", "/"))
        if given.is_absolute():
            try:
                given = PurePosixPath(Path(given).resolve().relative_to(root.resolve()).as_posix())
            except ValueError:
                problems.append(Quarantined(row["path"], f"labels_csv names a file outside "
                                                         f"dataset.root={root}"))
                continue
        rel = given.as_posix()
        if not row["label"]:
            problems.append(Quarantined(rel, f"empty label in labels_csv (line {line})"))
            seen.setdefault(rel, set()).add("")
            continue
        seen.setdefault(rel, set()).add(row["label"])
        labels.setdefault(rel, row["label"])
    for rel, labs in seen.items():
        if len(labs) > 1:
            labels.pop(rel, None)
            if "" not in labs:
                problems.append(Quarantined(rel, "listed in labels_csv with different labels: "
                                                 + ", ".join(sorted(labs))))
        elif "" in labs:
            labels.pop(rel, None)
    return labels, problems
