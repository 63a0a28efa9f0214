"""FSD50K (Fonseca et al., TASLP 2022; Zenodo 4060432), percussion subset.

Layout of the extracted Zenodo archives::

    root/FSD50K.ground_truth/dev.csv         fname,labels,mids,split   (split: train | val)
    root/FSD50K.ground_truth/eval.csv        fname,labels,mids
    root/FSD50K.ground_truth/vocabulary.csv  index,label,mid           (no header)
    root/FSD50K.dev_audio/<fname>.wav        root/FSD50K.eval_audio/<fname>.wav
    root/FSD50K.metadata/{dev,eval}_clips_info_FSD50K.json   optional: {fname: {"license", ...}}

``labels`` is a comma-separated list of AudioSet class names *with their ancestors* (a snare
clip also carries ``Drum``, ``Percussion``, ``Musical_instrument``, ``Music``). A clip is kept
when one of its labels is in ``dataset.classes`` (default: :data:`PERCUSSION`), and its class is
the first of its labels in that list's order: the default list is ordered leaves first, so the
class is the most specific percussion label. With your own ``dataset.classes``, list the most
specific labels first. All of the clip's labels stay in ``extra["fsd50k_labels"]``.
Clips listed in a CSV whose audio file is missing are quarantined.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from bench.api.dataset import ManifestEntry, Quarantined, SourceScan
from bench.data.sources.common import (ScanningSource, add_result, check_file, did_you_mean,
                                       require_dir)

GROUND_TRUTH = "FSD50K.ground_truth"
METADATA = "FSD50K.metadata"
AUDIO = {"dev": "FSD50K.dev_audio", "eval": "FSD50K.eval_audio"}
DATASET_LICENCE = "CC BY 4.0 (dataset); per-clip Creative Commons licences"

#: Percussion labels, most specific first (leaves, then Cymbal/Drum/Mallet_percussion/Drum_kit,
#: then Percussion): the first label of a clip found in this order is its class.
PERCUSSION = ("Bass_drum", "Snare_drum", "Hi-hat", "Crash_cymbal", "Tabla", "Tambourine",
              "Cowbell", "Gong", "Glockenspiel", "Marimba_and_xylophone", "Rattle_(instrument)",
              "Cymbal", "Drum", "Mallet_percussion", "Drum_kit", "Percussion")


def _read_rows(path: Path, header: bool = True) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        if header:
            reader = csv.DictReader(fh)
            missing = {"fname", "labels"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                                 f"found {reader.fieldnames}")
            return list(reader)
        return [{"index": r[0], "label": r[1], "mid": r[2] if len(r) > 2 else ""}
                for r in csv.reader(fh) if len(r) >= 2]


def _clip_info(root: Path, split: str) -> dict[str, Any]:
    path = root / METADATA / f"{split}_clips_info_FSD50K.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read the per-clip metadata ({err})") from err


class FSD50KSource(ScanningSource):
    name = "fsd50k"
    root_hint = (f"the folder holding {GROUND_TRUTH}/, {AUDIO['dev']}/ and {AUDIO['eval']}/ "
                 f"(Zenodo 4060432; see bench.data.sources.download)")

    def preference(self) -> list[str]:
        return list(self.classes) if self.classes is not None else list(PERCUSSION)

    def class_filter(self) -> list[str] | None:
        return None            # selection by label happens in collect()

    def collect(self, work_dir: Path) -> SourceScan:
        root = require_dir(self.root)
        gt = root / GROUND_TRUTH
        csvs = {"dev": gt / "dev.csv", "eval": gt / "eval.csv"}
        present = {split: p for split, p in csvs.items() if p.is_file()}
        if not present:
            raise ValueError(f"dataset.root={root}: no {GROUND_TRUTH}/dev.csv or eval.csv "
                             f"(unzip FSD50K.ground_truth.zip from Zenodo 4060432 here)")
        rows = {split: _read_rows(p) for split, p in present.items()}
        vocab_path = gt / "vocabulary.csv"
        vocabulary = ({r["label"] for r in _read_rows(vocab_path, header=False)}
                      if vocab_path.is_file() else
                      {lab for rs in rows.values() for r in rs for lab in r["labels"].split(",")})
        preference = self.preference()
        for label in self.classes or []:      # the default list is checked against the real one
            if label not in vocabulary:
                raise ValueError(f"dataset.classes: {did_you_mean(label, vocabulary, 'FSD50K label')}")
        rank = {label: i for i, label in enumerate(preference)}
        entries: list[ManifestEntry] = []
        quarantined: list[Quarantined] = []
        skipped = 0
        for split, split_rows in rows.items():
            info = _clip_info(root, split)
            for row in split_rows:
                labels = [lab.strip() for lab in row["labels"].split(",") if lab.strip()]
                chosen = sorted((lab for lab in labels if lab in rank), key=rank.__getitem__)
                if not chosen:
                    skipped += 1
                    continue
                fname = row["fname"].strip()
                rel = f"{AUDIO[split]}/{fname}.wav"
                if not (root / rel).is_file():
                    quarantined.append(Quarantined(rel, f"listed in {GROUND_TRUTH}/{split}.csv but "
                                                        f"the audio file is missing"))
                    continue
                clip = info.get(fname) or {}
                extra = {"fsd50k_labels": labels, "fsd50k_split": row.get("split") or split,
                         "freesound_id": fname}
                result = check_file(root, rel, self.limits, label=chosen[0], source=self.name,
                                    licence=clip.get("license"), extra=extra)
                add_result(result, entries, quarantined)
        return SourceScan(root=root, entries=entries, quarantined=quarantined,
                          description={"licence": DATASET_LICENCE, "label_preference": preference,
                                       "clips_without_selected_label": skipped,
                                       "splits_read": sorted(present)})
