"""Freesound One-Shot Percussive Sounds (Ramires et al., ICASSP 2020; Zenodo 3665275).

Layout (checked against mirdata's ``freesound_one_shot_percussive_sounds`` loader and its test
fixture, which mirror the Zenodo archives)::

    root/one_shot_percussive_sounds/<subdir>/<id>.wav     10,254 clips, 1 s, 16 kHz
    root/analysis/<subdir>/<id>_analysis.json             file facts + AudioCommons descriptors
    root/licenses.txt        JSON {"<id>": {"name", "username", "license": "<CC URL>"}}
    root/sound_info_analysis.json   (Zenodo 4687854) JSON list [{"id", "name", "tags", ...}]

The base release has no class labels: the class comes from the Freesound tags in
``sound_info_analysis.json`` through the same keyword table the Hydrogen source uses
(:mod:`bench.data.sources.drum_classes`). A clip whose tags name no class, or several, is
quarantined with its tags in the reason. ``extra`` holds the timbral descriptors of the analysis
file (the DrumGAN-style conditioning: hardness, depth, brightness, roughness, warmth, sharpness,
boominess, plus loudness, temporal centroid, log attack time, reverb, single_event); a clip
without its analysis file is quarantined, so every entry carries the same descriptors.

Uncertain, handled both ways: ``licenses.txt`` values are read as ``{"license": url}`` (as in
mirdata's fixture) or as a bare string; ``sound_info_analysis.json`` as a list of records with
``id`` (mirdata) or a mapping id → record. The subdir names are not relied on: analysis files
are found by clip id.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.api.dataset import ManifestEntry, Quarantined, SourceScan
from bench.data.sources.common import (ScanningSource, add_result, check_file, did_you_mean,
                                       rel_posix, require_dir, walk_files)
from bench.data.sources.drum_classes import CLASSES, class_from_tags

AUDIO_DIR = "one_shot_percussive_sounds"
ANALYSIS_DIR = "analysis"
LICENCES = "licenses.txt"
SOUND_INFO = "sound_info_analysis.json"
DATASET_LICENCE = "CC BY-NC-SA 4.0 (dataset); per-clip Creative Commons licences"

DESCRIPTORS = ("loudness", "dynamic_range", "temporal_centroid", "log_attack_time", "hardness",
               "depth", "brightness", "roughness", "warmth", "sharpness", "boominess", "reverb",
               "single_event")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read {what} ({err})") from err


def _sound_info(path: Path) -> dict[str, dict[str, Any]]:
    data = _read_json(path, "the Freesound tags")
    if isinstance(data, list):
        return {str(rec["id"]): rec for rec in data if isinstance(rec, dict) and "id" in rec}
    if isinstance(data, dict):
        return {str(k): v for k, v in data.items() if isinstance(v, dict)}
    raise ValueError(f"{path}: expected a list of sound records or a mapping id → record")


def _licences(path: Path) -> dict[str, dict[str, Any]]:
    """``{id: {"license": ..., "username": ...}}``; a bare string value is the licence."""
    if not path.is_file():
        return {}
    data = _read_json(path, "the per-clip licences")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object mapping sound id to its licence")
    return {str(k): (v if isinstance(v, dict) else {"license": v}) for k, v in data.items()}


class FreesoundOneShotSource(ScanningSource):
    name = "freesound_oneshot"
    root_hint = (f"the folder holding {AUDIO_DIR}/, {ANALYSIS_DIR}/, {LICENCES} and {SOUND_INFO} "
                 f"(Zenodo 3665275 + 4687854; see bench.data.sources.download)")

    def __init__(self, root: str | Path | None = None, **common: Any) -> None:
        super().__init__(root, **common)
        for c in self.classes or []:
            if c not in CLASSES:
                raise ValueError(f"dataset.classes: {did_you_mean(c, CLASSES, 'drum class')}")

    def collect(self, work_dir: Path) -> SourceScan:
        root = require_dir(self.root)
        audio_dir = root / AUDIO_DIR
        if not audio_dir.is_dir():
            raise ValueError(f"dataset.root={root}: no {AUDIO_DIR}/ folder (unzip "
                             f"one_shot_percussive_sounds.zip from Zenodo 3665275 here)")
        if not (root / SOUND_INFO).is_file():
            raise ValueError(f"dataset.root={root}: {SOUND_INFO} is missing; its Freesound tags "
                             f"give the classes (download it from Zenodo record 4687854)")
        info = _sound_info(root / SOUND_INFO)
        licences = _licences(root / LICENCES)
        analyses = {p.name[: -len("_analysis.json")]: p
                    for p in walk_files(root / ANALYSIS_DIR) if p.name.endswith("_analysis.json")} \
            if (root / ANALYSIS_DIR).is_dir() else {}
        entries: list[ManifestEntry] = []
        quarantined: list[Quarantined] = []
        ignored = 0
        for path in walk_files(audio_dir):
            if path.suffix.lower() != ".wav":
                ignored += 1
                continue
            rel = rel_posix(path, root)
            clip_id = path.stem
            record = info.get(clip_id)
            if record is None:
                quarantined.append(Quarantined(rel, f"no record for sound {clip_id} in {SOUND_INFO} "
                                                    f"(its tags give the class)"))
                continue
            tags = [str(t) for t in record.get("tags") or []]
            label, why = class_from_tags(tags)
            if label is None:
                quarantined.append(Quarantined(rel, f"cannot tell the class: {why}"))
                continue
            analysis_path = analyses.get(clip_id)
            if analysis_path is None:
                quarantined.append(Quarantined(rel, f"no analysis file {ANALYSIS_DIR}/<subdir>/"
                                                    f"{clip_id}_analysis.json (timbral descriptors)"))
                continue
            try:
                analysis = _read_json(analysis_path, "the analysis")
            except ValueError as err:
                quarantined.append(Quarantined(rel, str(err)))
                continue
            extra: dict[str, Any] = {k: analysis[k] for k in DESCRIPTORS if k in analysis}
            lic = licences.get(clip_id, {})
            extra.update(freesound_id=clip_id, tags=tags,
                         username=lic.get("username") or record.get("username"))
            result = check_file(root, rel, self.limits, label=label, source=self.name,
                                licence=lic.get("license"), extra=extra)
            add_result(result, entries, quarantined)
        return SourceScan(root=root, entries=entries, quarantined=quarantined,
                          description={"licence": DATASET_LICENCE, "ignored_non_wav": ignored,
                                       "clips_with_licence": sum(1 for e in entries if e.licence)})
