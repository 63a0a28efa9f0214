"""Dataset preparation: source → manifest → split → preprocessed-clip cache → DataModule.

Each step is stored on disk under ``<data_dir>/<dataset>-<config hash>/`` and reused:
a second run neither rescans nor decodes audio.
"""
from __future__ import annotations

import hashlib
import io
import logging
import math
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from omegaconf import DictConfig, OmegaConf

from bench.data.datamodule import ClipSet, DataModule
from bench.data.manifest import META, Manifest
from bench.data.preprocess import preprocess_clip
from bench.data.splits import load_or_make_splits
from bench.hashing import short_hash
from bench.io_atomic import atomic_write_jsonl, atomic_write_with
from bench.protocol import PreprocessConfig, ProtocolConfig

log = logging.getLogger(__name__)


def _plain(cfg: Any) -> dict[str, Any]:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    if is_dataclass(cfg):
        return asdict(cfg)
    return dict(cfg)


def dataset_folder(dataset_cfg: Any, data_dir: Path) -> Path:
    plain = _plain(dataset_cfg)
    if plain.get("root"):
        plain["root"] = str(Path(plain["root"]).expanduser().resolve())
    return Path(data_dir) / f"{plain['name']}-{short_hash(plain)}"


def prepare_manifest(dataset_cfg: Any, data_dir: Path, *, rescan: bool = False) -> Manifest:
    """Scan the source once; later calls read the stored manifest (unless files vanished)."""
    from bench.data.sources import build_source

    folder = dataset_folder(dataset_cfg, data_dir)
    if (folder / META).exists() and not rescan:
        manifest = Manifest.read(folder)
        missing = manifest.missing_files()
        if not missing:
            return manifest
        log.warning("%d files of %s vanished (e.g. %s): rescanning", len(missing), folder, missing[0])
    source = build_source(dataset_cfg)
    scan = source.scan(folder / "audio")
    manifest = Manifest.write(folder, scan, {"dataset": _plain(dataset_cfg),
                                             "source": type(source).__name__})
    log.info("dataset %s: %s", dataset_cfg.name, manifest.summary())
    for q in manifest.quarantined:
        log.warning("quarantined %s: %s", q.path, q.reason)
    return manifest


def clip_samples(protocol: ProtocolConfig) -> int:
    return int(round(protocol.sample_rate * protocol.clip_seconds))


def _prep_key(manifest: Manifest, protocol: ProtocolConfig) -> str:
    prep = _plain(protocol.preprocess) if not isinstance(protocol.preprocess, dict) else protocol.preprocess
    return short_hash({"manifest": manifest.hash, "sr": protocol.sample_rate,
                       "n": clip_samples(protocol), "prep": prep}, 16)


def _decode_checked(manifest: Manifest, path: str, sha256: str, max_seconds: float) -> tuple[np.ndarray, int]:
    file = manifest.root / path
    data = file.read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise ValueError(f"{file}: content changed since the manifest was built (sha256 {found[:12]} "
                         f"≠ {sha256[:12]}); rebuild it with `drumbench data --rescan`")
    with sf.SoundFile(io.BytesIO(data)) as fh:
        frames = min(fh.frames, int(max_seconds * fh.samplerate))
        audio = fh.read(frames, dtype="float32", always_2d=True).T
        return audio, fh.samplerate


def preprocessed_clips(manifest: Manifest, protocol: ProtocolConfig) -> tuple[list[str], np.ndarray]:
    """All manifest clips preprocessed under ``protocol``, cached as one ``.npy`` per key."""
    key = _prep_key(manifest, protocol)
    path = manifest.folder / "clips" / f"{key}.npy"
    ids = [e.path for e in manifest.entries]
    if path.exists():
        audio = np.load(path, mmap_mode="r")
        if audio.shape == (len(ids), clip_samples(protocol)):
            return ids, np.asarray(audio)
    n = clip_samples(protocol)
    prep_cfg = protocol.preprocess
    if isinstance(prep_cfg, (dict, DictConfig)):
        prep_cfg = PreprocessConfig(**_plain(prep_cfg))
    # read a little more than we keep: onset alignment may drop leading silence
    max_seconds = protocol.clip_seconds + 2.0
    out = np.zeros((len(ids), n), dtype=np.float32)
    for i, entry in enumerate(manifest.entries):
        audio, sr = _decode_checked(manifest, entry.path, entry.sha256, max_seconds)
        out[i] = preprocess_clip(audio, sr, sample_rate=protocol.sample_rate, clip_samples=n, cfg=prep_cfg)
    atomic_write_with(path, lambda tmp: np.save(tmp, out))
    return ids, out


def _numeric_extras(entries: list) -> dict[str, np.ndarray]:
    """Per-clip numeric descriptors present for every clip (synthkit factors, timbral features)."""
    if not entries:
        return {}
    keys = set.intersection(*(set(e.extra) for e in entries))
    out = {}
    for k in sorted(keys):
        vals = [e.extra[k] for e in entries]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals):
            out[k] = np.asarray(vals, dtype=np.float32)
    return out


def timbral_table(manifest: Manifest, protocol: ProtocolConfig, audio: np.ndarray) -> dict[str, np.ndarray]:
    """The timbral descriptors (:mod:`bench.data.timbral`) of every preprocessed clip, cached
    beside the clip cache: they describe the audio the models see and generate (same rate, crop
    and normalisation), and leave the manifest, hence its hash, untouched."""
    from bench.data import timbral

    path = manifest.folder / "clips" / f"{_prep_key(manifest, protocol)}.timbral-v{timbral.VERSION}.npy"
    table = np.load(path) if path.exists() else None
    if table is None or table.shape != (len(audio), len(timbral.NAMES)):
        table = timbral.timbral_matrix(torch.from_numpy(np.asarray(audio)), protocol.sample_rate).numpy()
        atomic_write_with(path, lambda tmp: np.save(tmp, table))
    return {name: table[:, i] for i, name in enumerate(timbral.NAMES)}


def load_datamodule(dataset_cfg: Any, protocol: ProtocolConfig, data_dir: Path) -> DataModule:
    manifest = prepare_manifest(dataset_cfg, data_dir)
    splits = load_or_make_splits(manifest, protocol.split)
    ids, audio = preprocessed_clips(manifest, protocol)
    classes = manifest.classes
    index = {cid: i for i, cid in enumerate(ids)}
    labels = np.asarray([classes.index(e.label) for e in manifest.entries], dtype=np.int64)
    extras = _numeric_extras(manifest.entries)
    for name, values in timbral_table(manifest, protocol, audio).items():
        if name in extras:
            raise ValueError(f"{manifest.folder / 'manifest.jsonl'}: the source's extra field "
                             f"{name!r} collides with the harness's timbral descriptor of that name")
        extras[name] = values

    def clipset(name: str) -> ClipSet:
        rows = np.asarray([index[c] for c in splits[name]], dtype=np.int64)
        return ClipSet(torch.from_numpy(audio[rows]).unsqueeze(1), torch.from_numpy(labels[rows]),
                       list(splits[name]), {k: torch.from_numpy(v[rows]) for k, v in extras.items()})

    return DataModule(classes=classes, sample_rate=protocol.sample_rate,
                      clip_samples=clip_samples(protocol), train=clipset("train"),
                      valid=clipset("valid"), test=clipset("test"),
                      dataset_name=str(dataset_cfg.name), manifest_hash=manifest.hash)


def listening_clips(data: DataModule, folder: Path, per_class: int = 4) -> Path:
    """A few preprocessed real test clips per class as WAVs, for the report's players."""
    out = folder / f"listen-{data.manifest_hash[:10]}-{data.sample_rate}"
    if (out / "done").exists():
        return out
    rows = []
    for c, name in enumerate(data.classes):
        subset = data.test.of_class(c)
        for i in range(min(per_class, len(subset))):
            rel = f"{class_folder(c, name)}/real_{i:02d}.wav"
            wav = subset.audio[i, 0].numpy()
            atomic_write_with(out / rel, lambda tmp, w=wav: sf.write(tmp, w, data.sample_rate,
                                                                      subtype="PCM_16"))
            rows.append({"path": rel, "label": name, "label_id": c, "source_id": subset.ids[i]})
    atomic_write_jsonl(out / "manifest.jsonl", rows)
    (out / "done").write_text("ok\n")
    return out


def class_folder(label_id: int, name: str) -> str:
    """A file-system-safe, collision-free folder name for a class (``03-closed_hihat``)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return f"{label_id:02d}-{safe}"
