"""Preprocessing, manifest hashing, splits and the clip cache, on files written here."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from bench.api.dataset import ManifestEntry, SourceScan
from bench.data import build
from bench.data.audio_check import sha256_file
from bench.data.manifest import Manifest
from bench.data.preprocess import fit_length, onset_index, preprocess_clip
from bench.data.splits import load_or_make_splits, make_splits
from bench.protocol import PreprocessConfig, ProtocolConfig, SplitConfig


def test_preprocess_aligns_onset_resamples_pads_and_normalises():
    sr_in = 44100
    x = np.zeros((2, sr_in // 2), dtype=np.float32)
    start = 4410  # 100 ms of leading silence
    t = np.arange(sr_in // 4) / sr_in
    x[:, start:start + t.size] = 0.3 * np.sin(2 * np.pi * 200 * t) * np.exp(-t / 0.05)
    cfg = PreprocessConfig(pre_onset_ms=0.0, fade_out_ms=5.0)
    y = preprocess_clip(x, sr_in, sample_rate=16000, clip_samples=16000, cfg=cfg)
    assert y.shape == (16000,) and y.dtype == np.float32
    assert onset_index(y, -40) < 16  # onset now at the start (was 1600 samples in)
    assert np.isclose(np.abs(y).max(), 10 ** (-1 / 20), atol=1e-3)  # peak at -1 dBFS
    assert np.all(y[9000:] == 0)  # 0.5 s file padded with zeros to 1 s


def test_crop_fades_out_and_rms_normalisation_never_clips():
    x = np.ones(1000, dtype=np.float32)
    y = fit_length(x, 500, fade=100)
    assert y.shape == (500,) and y[-1] == pytest.approx(0.0, abs=1e-6) and y[0] == 1.0
    spike = np.zeros((1, 8000), dtype=np.float32)
    spike[0, 10] = 1.0
    out = preprocess_clip(spike, 8000, sample_rate=8000, clip_samples=8000,
                          cfg=PreprocessConfig(normalize="rms", rms_dbfs=-3.0, align_onset=False))
    assert np.abs(out).max() <= 10 ** (-1 / 20) + 1e-6


def test_splits_are_stratified_deterministic_and_cover_each_class():
    ids = [f"c{c}/{i}" for c in range(3) for i in range(20)]
    labels = [i.split("/")[0] for i in ids]
    a = make_splits(ids, labels, SplitConfig(valid=0.1, test=0.2, seed=0))
    b = make_splits(list(reversed(ids)), list(reversed(labels)), SplitConfig(valid=0.1, test=0.2, seed=0))
    assert a == b
    assert sorted(a["train"] + a["valid"] + a["test"]) == sorted(ids)
    for split, per_class in (("test", 4), ("valid", 2)):
        for c in range(3):
            assert sum(x.startswith(f"c{c}/") for x in a[split]) == per_class
    c = make_splits(ids, labels, SplitConfig(valid=0.1, test=0.2, seed=1))
    assert c["test"] != a["test"]
    with pytest.raises(ValueError, match="sum below 1"):
        make_splits(ids, labels, SplitConfig(valid=0.5, test=0.5))


def _scan(tmp_path, n_per_class=4, label_of=lambda c: f"class{c}"):
    root = tmp_path / "audio"
    entries = []
    rng = np.random.default_rng(0)
    for c in range(2):
        for i in range(n_per_class):
            rel = f"{c}/{i}.wav"
            (root / str(c)).mkdir(parents=True, exist_ok=True)
            sf.write(root / rel, (0.5 * rng.standard_normal(4000)).astype(np.float32), 16000, subtype="FLOAT")
            entries.append(ManifestEntry(rel, sha256_file(root / rel), label_of(c), "test", 0.25, 16000, 1,
                                         extra={"gain": float(i), "kit": "x"}))
    return SourceScan(root, entries, [])


def test_manifest_hash_tracks_content_and_detects_edits(tmp_path):
    m1 = Manifest.write(tmp_path / "m1", _scan(tmp_path / "a"), {})
    m2 = Manifest.write(tmp_path / "m2", _scan(tmp_path / "b", label_of=lambda c: f"other{c}"), {})
    assert m1.hash != m2.hash
    again = Manifest.read(tmp_path / "m1")
    assert again.hash == m1.hash and again.classes == ["class0", "class1"]
    path = tmp_path / "m1" / "manifest.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[0]["label"] = "class1"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match="was edited"):
        Manifest.read(tmp_path / "m1")


def test_clip_cache_is_reused_and_changed_files_are_refused(tmp_path, monkeypatch):
    manifest = Manifest.write(tmp_path / "m", _scan(tmp_path), {})
    protocol = ProtocolConfig(name="t", version="1", sample_rate=8000, clip_seconds=0.25)
    ids, audio = build.preprocessed_clips(manifest, protocol)
    assert audio.shape == (8, 2000) and ids == sorted(ids)

    def no_decoding(*a, **k):
        raise AssertionError("decoded audio although the cache exists")
    monkeypatch.setattr(build, "_decode_checked", no_decoding)
    _, again = build.preprocessed_clips(manifest, protocol)
    np.testing.assert_array_equal(audio, again)
    monkeypatch.undo()
    sf.write(manifest.root / "0/0.wav", np.zeros(4000, dtype=np.float32) + 0.1, 16000)
    other = ProtocolConfig(name="t", version="1", sample_rate=8000, clip_seconds=0.2)
    with pytest.raises(ValueError, match=r"0/0\.wav: content changed"):
        build.preprocessed_clips(manifest, other)


def test_split_file_is_persisted_and_numeric_extras_become_tensors(tmp_path):
    manifest = Manifest.write(tmp_path / "m", _scan(tmp_path, n_per_class=10), {})
    splits = load_or_make_splits(manifest, SplitConfig())
    files = list((tmp_path / "m" / "splits").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["splits"] == splits
    extras = build._numeric_extras(manifest.entries)
    assert list(extras) == ["gain"]  # "kit" is a string: not a numeric condition
