"""The dataset manifest: one JSONL row per clip, a quarantine list, and a content hash.

The hash covers every entry (paths, file sha256s, labels, descriptors), so two manifests with
the same hash describe the same bytes with the same labels: the leaderboard groups by it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.api.dataset import ManifestEntry, Quarantined, SourceScan
from bench.io_atomic import atomic_write_json, atomic_write_jsonl, read_jsonl

MANIFEST = "manifest.jsonl"
QUARANTINE = "quarantine.jsonl"
META = "manifest.json"


def manifest_hash(entries: list[ManifestEntry]) -> str:
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(json.dumps(entry.to_json(), sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass
class Manifest:
    folder: Path                 # where manifest.jsonl lives
    root: Path                   # audio root the entries' paths are relative to
    entries: list[ManifestEntry]
    quarantined: list[Quarantined]
    hash: str
    meta: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        return sorted({e.label for e in self.entries})

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries:
            out[e.label] = out.get(e.label, 0) + 1
        return dict(sorted(out.items()))

    def summary(self) -> str:
        per_class = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        text = (f"{len(self.entries)} clips in {len(self.classes)} classes ({per_class}); "
                f"{len(self.quarantined)} quarantined")
        return text

    @classmethod
    def write(cls, folder: Path, scan: SourceScan, meta: dict[str, Any]) -> "Manifest":
        folder.mkdir(parents=True, exist_ok=True)
        entries = sorted(scan.entries, key=lambda e: e.path)
        mhash = manifest_hash(entries)
        atomic_write_jsonl(folder / QUARANTINE, [q.to_json() for q in scan.quarantined])
        atomic_write_jsonl(folder / MANIFEST, [e.to_json() for e in entries])
        meta = {**meta, "hash": mhash, "root": str(scan.root), "n_clips": len(entries),
                "n_quarantined": len(scan.quarantined), "description": scan.description}
        atomic_write_json(folder / META, meta)  # written last: its presence marks completion
        return cls(folder, Path(scan.root), entries, list(scan.quarantined), mhash, meta)

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        meta = json.loads((folder / META).read_text())
        entries = [ManifestEntry.from_json(r) for r in read_jsonl(folder / MANIFEST)]
        quarantined = [Quarantined(**r) for r in read_jsonl(folder / QUARANTINE)]
        found = manifest_hash(entries)
        if found != meta["hash"]:
            raise ValueError(f"{folder / MANIFEST}: content hash {found[:12]} does not match "
                             f"{META} ({meta['hash'][:12]}); the manifest was edited — rebuild "
                             f"it with `drumbench data dataset=... --rescan`")
        return cls(folder, Path(meta["root"]), entries, quarantined, meta["hash"], meta)

    def missing_files(self) -> list[str]:
        """Entries whose file vanished since the scan (cheap: stat only; content changes are
        caught by the sha256 check when clips are decoded)."""
        return [e.path for e in self.entries if not (self.root / e.path).is_file()]
