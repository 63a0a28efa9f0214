"""Same seed → byte-identical synthkit audio, the same manifest hash and identical split files."""
from __future__ import annotations

from pathlib import Path

from bench.data.build import prepare_manifest
from bench.data.splits import load_or_make_splits, split_file
from bench.runner.app import compose


def _build(tmp: Path, *extra: str):
    cfg = compose(["protocol=smoke", "dataset=synthkit_smoke", f"data_dir={tmp}", *extra])
    manifest = prepare_manifest(cfg.dataset, Path(cfg.data_dir))
    load_or_make_splits(manifest, cfg.protocol.split)
    return manifest, split_file(manifest, cfg.protocol.split)


def test_same_seed_same_bytes_same_splits(tmp_path):
    a, split_a = _build(tmp_path / "a")
    b, split_b = _build(tmp_path / "b")
    assert a.hash == b.hash
    first = a.entries[0].path
    assert (a.root / first).read_bytes() == (b.root / first).read_bytes()
    assert split_a.read_bytes() == split_b.read_bytes()
    c, _ = _build(tmp_path / "c", "dataset.seed=1")
    assert c.hash != a.hash
