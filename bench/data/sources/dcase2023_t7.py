"""DCASE 2023 task 7 (Foley sound synthesis) development set: ``<root>/<ClassName>/*.wav``.

A folder source with the task's fixed class list. Two published layouts are accepted:

* the original development set (``DCASEFoleySoundSynthesisDevSet/DogBark/0001.wav``: CamelCase
  class folders, as the task's baseline code reads them);
* the later Zenodo 8091972 archive ``DCASE_2023_Challenge_Task_7_Dataset/{dev,eval}/...``,
  whose class folders third-party scripts rename from snake_case (``dog_bark``). When root holds
  a ``dev/`` folder and no class folder, ``dev/`` is used. Folder names are matched ignoring case
  and underscores; labels are always the task's CamelCase names.

Sub-folders that are not a task class are quarantined. The task's format is 4 s, mono, 22,050 Hz,
16-bit; a file that differs is kept with a note (the protocol's preprocessing resamples anyway).
The audio's licences vary per clip and are not recorded here (see the dataset's metadata CSV).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.api.dataset import ManifestEntry
from bench.data.sources.common import did_you_mean, require_dir
from bench.data.sources.folder import NO_LABEL, FolderSource

CLASSES = ("DogBark", "Footstep", "GunShot", "Keyboard", "MovingMotorVehicle", "Rain",
           "Sneeze_Cough")
SAMPLE_RATE = 22_050
SECONDS = 4.0


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_KEY = {_key(c): c for c in CLASSES}


class Dcase2023T7Source(FolderSource):
    name = "dcase2023_t7"
    root_hint = ("the development set folder holding DogBark/, Footstep/, ... "
                 "(or DCASE_2023_Challenge_Task_7_Dataset/ with dev/)")

    def __init__(self, root: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        for c in self.classes or []:
            if c not in CLASSES:
                raise ValueError(f"dataset.classes: {did_you_mean(c, CLASSES, 'DCASE 2023 task 7 class')}")

    @classmethod
    def config_kwargs(cls, cfg: Any) -> dict[str, Any]:
        return {}          # fixed layout: no labels_csv

    def audio_root(self) -> Path:
        root = require_dir(self.root)
        subdirs = {_key(p.name) for p in root.iterdir() if p.is_dir()}
        if not subdirs & set(_BY_KEY) and (root / "dev").is_dir():
            return root / "dev"
        return root

    def label_for(self, rel: str) -> tuple[str | None, str]:
        parts = rel.split("/")
        if len(parts) < 2:
            return None, NO_LABEL.split(":")[0] + ": DCASE 2023 task 7 files live in <ClassName>/"
        label = _BY_KEY.get(_key(parts[0]))
        if label is None:
            return None, (f"sub-folder '{parts[0]}' is not a DCASE 2023 task 7 class "
                          f"({', '.join(CLASSES)})")
        return label, ""

    def entry_notes(self, entry: ManifestEntry) -> list[str]:
        found = (entry.sample_rate, entry.channels, round(entry.duration, 3))
        if found != (SAMPLE_RATE, 1, SECONDS):
            return [f"not in the task's format (22050 Hz, mono, 4 s): {entry.sample_rate} Hz, "
                    f"{entry.channels} channel(s), {entry.duration:.3f} s"]
        return []
