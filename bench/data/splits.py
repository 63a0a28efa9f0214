"""Deterministic stratified train/valid/test splits, persisted next to the manifest.

The split depends only on the manifest (ids and labels) and the protocol's split block; it is
written once as ``splits/<key>.json`` and read back by every run, so all baselines and seeds train
and score on the same clips.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sklearn.model_selection import train_test_split

from bench.data.manifest import Manifest
from bench.io_atomic import atomic_write_json
from bench.protocol import SplitConfig

SPLITS = ("train", "valid", "test")


def split_key(manifest: Manifest, cfg: SplitConfig) -> str:
    blob = json.dumps({"manifest": manifest.hash, "valid": cfg.valid, "test": cfg.test,
                       "seed": cfg.seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def make_splits(ids: list[str], labels: list[str], cfg: SplitConfig) -> dict[str, list[str]]:
    """Stratified by label; every class with ≥ 3 clips gets at least one clip in each split."""
    if not 0 <= cfg.valid < 1 or not 0 <= cfg.test < 1 or cfg.valid + cfg.test >= 1:
        raise ValueError(f"protocol.split fractions must be in [0, 1) and sum below 1; "
                         f"got valid={cfg.valid}, test={cfg.test}")
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    by_class: dict[str, list[str]] = {}
    for i, lab in zip(ids, labels):
        by_class.setdefault(lab, []).append(i)
    for lab, members in sorted(by_class.items()):
        members = sorted(members)
        n = len(members)
        n_test = max(1, round(n * cfg.test)) if cfg.test > 0 and n >= 3 else 0
        n_valid = max(1, round(n * cfg.valid)) if cfg.valid > 0 and n >= 3 else 0
        rest, test = (train_test_split(members, test_size=n_test, random_state=cfg.seed)
                      if n_test else (members, []))
        train, valid = (train_test_split(rest, test_size=n_valid, random_state=cfg.seed + 1)
                        if n_valid else (rest, []))
        out["train"] += train
        out["valid"] += valid
        out["test"] += test
    return {s: sorted(v) for s, v in out.items()}


def load_or_make_splits(manifest: Manifest, cfg: SplitConfig) -> dict[str, list[str]]:
    path = manifest.folder / "splits" / f"{split_key(manifest, cfg)}.json"
    if path.exists():
        return json.loads(path.read_text())["splits"]
    splits = make_splits([e.path for e in manifest.entries], [e.label for e in manifest.entries], cfg)
    atomic_write_json(path, {"manifest_hash": manifest.hash, "valid": cfg.valid, "test": cfg.test,
                             "seed": cfg.seed, "splits": splits})
    return splits


def split_file(manifest: Manifest, cfg: SplitConfig) -> Path:
    return manifest.folder / "splits" / f"{split_key(manifest, cfg)}.json"
