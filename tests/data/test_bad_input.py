"""Bad files become quarantine records naming the file and the reason; good files still pass."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.data.audio_check import AudioLimits
from bench.data.sources.folder import FolderSource
from bench.data.sources.hydrogen import HydrogenSource
from tests.data import fixtures

GOOD = ("drums/good1.wav", "drums/good2.flac")


def make_bad_folder(root: Path) -> None:
    for rel in GOOD:
        fixtures.write_clip(root / rel)
    d = root / "drums"
    (d / "corrupt.wav").write_bytes(np.random.default_rng(0).bytes(4096))
    (d / "empty.wav").write_bytes(b"")
    (d / "text.flac").write_text("this is a text file, not FLAC audio\n" * 20)
    nan = fixtures.clip(1)
    nan[100] = np.nan
    sf.write(d / "nan.wav", nan, fixtures.SR, subtype="FLOAT")
    fixtures.write_clip(d / "six.wav", channels=6)
    fixtures.write_clip(d / "hi.wav", sr=192_000, seconds=0.05)
    fixtures.write_clip(d / "long.wav", seconds=60.0, sr=8_000)


def scan_bad(tmp_path: Path, **limits) -> tuple[dict, dict]:
    make_bad_folder(tmp_path / "data")
    scan = FolderSource(tmp_path / "data", limits=AudioLimits(**limits)).scan(tmp_path / "w")
    return {e.path: e for e in scan.entries}, {q.path: q.reason for q in scan.quarantined}


def test_each_bad_file_is_quarantined_with_its_reason(tmp_path):
    entries, reasons = scan_bad(tmp_path, max_channels=2, max_sample_rate=96_000)
    assert set(GOOD) <= set(entries)                       # one bad file does not stop the rest
    assert reasons["drums/corrupt.wav"].startswith("not readable as audio")
    assert reasons["drums/empty.wav"] == "zero-length file"
    assert reasons["drums/text.flac"].startswith("not readable as audio")
    assert reasons["drums/nan.wav"] == "contains 1 NaN/inf sample values"
    assert reasons["drums/six.wav"] == ("6 channels; at most 2 accepted (dataset.max_channels)")
    assert reasons["drums/hi.wav"] == ("sample rate 192000 Hz above dataset.max_sample_rate=96000")
    # a 60 s file is cropped (kept, with a note) by default
    long = entries["drums/long.wav"]
    assert long.duration == 30.0
    assert long.notes == ["cropped 60.0 s to the first 30 s (dataset.max_seconds)"]
    assert set(reasons) == {f"drums/{n}" for n in ("corrupt.wav", "empty.wav", "text.flac",
                                                   "nan.wav", "six.wav", "hi.wav")}


def test_long_files_rejected_when_asked(tmp_path):
    entries, reasons = scan_bad(tmp_path, long_files="reject")
    assert "drums/long.wav" not in entries
    assert reasons["drums/long.wav"] == ("60.0 s long; dataset.max_seconds=30 and "
                                         "dataset.long_files=reject")


def test_empty_folder_is_an_error_naming_it(tmp_path):
    (tmp_path / "nothing" / "here").mkdir(parents=True)
    (tmp_path / "nothing" / "notes.txt").write_text("no audio\n")
    with pytest.raises(ValueError, match=r"no usable audio in .*nothing: empty folder"):
        FolderSource(tmp_path / "nothing").scan(tmp_path / "w")


def test_only_bad_files_is_an_error_listing_reasons(tmp_path):
    (tmp_path / "d" / "x").mkdir(parents=True)
    (tmp_path / "d" / "x" / "a.wav").write_bytes(b"")
    with pytest.raises(ValueError, match=r"no usable audio in .*: 1 files quarantined: "
                                         r"x/a.wav \(zero-length file\)"):
        FolderSource(tmp_path / "d").scan(tmp_path / "w")


def test_missing_root_is_an_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match=r"dataset.root=.*does-not-exist: folder does not exist"):
        FolderSource(tmp_path / "does-not-exist").scan(tmp_path / "w")


def test_files_without_a_class_folder(tmp_path):
    fixtures.make_folder_dataset(tmp_path)
    fixtures.write_clip(tmp_path / "loose.wav")
    scan = FolderSource(tmp_path).scan(tmp_path / "w")
    assert {q.path: q.reason for q in scan.quarantined} == {
        "loose.wav": "no label: put files in <class>/ sub-folders or pass dataset.labels_csv"}


def test_drumkit_naming_a_missing_sample(tmp_path):
    fixtures.make_hydrogen_kits(tmp_path)
    (tmp_path / "NewKit" / "Snare-Hard.wav").unlink()
    scan = HydrogenSource(tmp_path, min_clips_per_class=1).scan(tmp_path / "w")
    reasons = {q.path: q.reason for q in scan.quarantined}
    assert reasons["NewKit/Snare-Hard.wav"] == ("kit 'New Kit', instrument 'Snare': drumkit.xml "
                                                "names sample 'Snare-Hard.wav' but the file is missing")
    assert "NewKit/Snare-Soft.wav" in {e.path for e in scan.entries}


def test_malformed_drumkit_xml(tmp_path):
    expect = fixtures.make_hydrogen_kits(tmp_path)
    (tmp_path / "Broken").mkdir()
    (tmp_path / "Broken" / "drumkit.xml").write_text("<drumkit_info><name>Broken</name><instrumentL")
    (tmp_path / "NotAKit").mkdir()
    (tmp_path / "NotAKit" / "drumkit.xml").write_text("<song><name>x</name></song>")
    scan = HydrogenSource(tmp_path, min_clips_per_class=1).scan(tmp_path / "w")
    reasons = {q.path: q.reason for q in scan.quarantined}
    assert reasons["Broken/drumkit.xml"].startswith("kit 'Broken': drumkit.xml cannot be parsed (")
    assert reasons["NotAKit/drumkit.xml"] == ("kit 'NotAKit': drumkit.xml is not a Hydrogen drum "
                                              "kit (root element <song>, expected <drumkit_info>)")
    assert {e.path for e in scan.entries} == set(expect["entries"])   # good kits unaffected


def test_drumkit_sample_outside_the_kits_folder(tmp_path):
    kit = tmp_path / "kits" / "K"
    fixtures.write_clip(tmp_path / "secret.wav")
    fixtures.write_clip(kit / "a.wav")
    fixtures.write_clip(kit / "b.wav")
    (kit / "drumkit.xml").write_text(
        "<drumkit_info><name>K</name><instrumentList>"
        "<instrument><name>Kick</name><layer><filename>a.wav</filename></layer>"
        "<layer><filename>b.wav</filename></layer>"
        "<layer><filename>../../secret.wav</filename></layer></instrument>"
        "</instrumentList></drumkit_info>")
    scan = HydrogenSource(tmp_path / "kits").scan(tmp_path / "w")
    assert {q.path: q.reason for q in scan.quarantined} == {
        "K/../../secret.wav": "kit 'K', instrument 'Kick': sample path leaves the drumkits folder"}


def test_symlink_loop_does_not_hang_the_scan(tmp_path):
    fixtures.make_folder_dataset(tmp_path / "data")
    (tmp_path / "data" / "kick" / "loop").symlink_to(tmp_path / "data", target_is_directory=True)
    scan = FolderSource(tmp_path / "data").scan(tmp_path / "w")
    assert len(scan.entries) == 5


def test_dc_and_too_short_clips_are_quarantined_by_a_real_source(tmp_path):
    """A constant-DC clip and a < 10 ms clip, written as real files and scanned by the folder
    source, are quarantined with their reasons; a clip of exactly 10 ms and one with a DC offset
    under a drum hit still pass."""
    root = tmp_path / "data"
    for rel in GOOD:
        fixtures.write_clip(root / rel)
    d = root / "drums"
    sf.write(d / "dc.wav", np.full(fixtures.SR // 5, 0.25, dtype=np.float32), fixtures.SR,
             subtype="PCM_16")
    sf.write(d / "dc_stereo.wav", np.tile([0.1, -0.3], (800, 1)).astype(np.float32), fixtures.SR,
             subtype="FLOAT")
    fixtures.write_clip(d / "short.wav", seconds=0.005)                     # 80 frames
    fixtures.write_clip(d / "ten_ms.wav", seconds=0.010)                    # 160 frames: kept
    sf.write(d / "offset_hit.wav", 0.2 + fixtures.clip(3), fixtures.SR, subtype="FLOAT")
    scan = FolderSource(root).scan(tmp_path / "w")
    reasons = {q.path: q.reason for q in scan.quarantined}
    assert reasons == {
        "drums/dc.wav": "constant DC signal (every sample = 0.25): no sound to learn from",
        "drums/dc_stereo.wav": "constant DC signal (every sample = 0.1, -0.3 per channel): "
                               "no sound to learn from",
        "drums/short.wav": "5.0 ms long (80 frames): shorter than 10 ms, too short to hold a "
                           "drum hit",
    }
    assert {"drums/ten_ms.wav", "drums/offset_hit.wav", *GOOD} == {e.path for e in scan.entries}
