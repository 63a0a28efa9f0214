"""Each data source on a small dataset built in its real layout (tests/data/fixtures.py)."""
from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from omegaconf import OmegaConf

from bench.api.dataset import ManifestEntry
from bench.data import drum_synth
from bench.data.audio_check import AudioLimits
from bench import registry
from bench.data.sources import build_source
from bench.data.sources.common import finish_scan
from bench.data.sources.dcase2023_t7 import Dcase2023T7Source
from bench.data.sources.drum_classes import (CLASSES, GM_NOTES, class_from_tags,
                                             classify_instrument)
from bench.data.sources.folder import FolderSource
from bench.data.sources.freesound_oneshot import FreesoundOneShotSource
from bench.data.sources.fsd50k import FSD50KSource
from bench.data.sources.hydrogen import DEFAULT_ROOT, HydrogenSource
from bench.data.sources.synthkit import LICENCE, SynthKitSource
from bench.protocol import DatasetConfig
from tests.data import fixtures


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_path(scan) -> dict[str, ManifestEntry]:
    return {e.path: e for e in scan.entries}


def reasons(scan) -> dict[str, str]:
    return {q.path: q.reason for q in scan.quarantined}


def assert_well_formed(scan) -> None:
    paths = [e.path for e in scan.entries]
    assert paths == sorted(paths), "entries must be sorted by path"
    assert len(set(paths)) == len(paths)
    for e in scan.entries:
        assert not Path(e.path).is_absolute() and "\\" not in e.path
        assert e.sha256 == sha256(scan.root / e.path)
        assert e.duration > 0 and e.sample_rate > 0 and e.channels >= 1


# -- build_source ----------------------------------------------------------------------------------
def test_build_source_knows_every_source_and_rejects_unknown_ones():
    assert set(registry.available("sources")) >= {"synthkit", "hydrogen", "folder", "freesound_oneshot",
                                                  "fsd50k", "dcase2023_t7"}
    for name in registry.available("sources"):
        assert registry.resolve("sources", name).name == name
    with pytest.raises(ValueError, match=r"dataset.source: unknown dataset source 'folderz'.*Did you mean 'folder'"):
        build_source(DatasetConfig(name="x", source="folderz"))


@pytest.mark.parametrize("source", ["folder", "freesound_oneshot", "fsd50k", "dcase2023_t7"])
def test_sources_that_read_files_require_a_root(source):
    with pytest.raises(ValueError, match=r"dataset.root=<path> is required"):
        build_source(DatasetConfig(name="x", source=source))


def test_build_source_reads_an_omegaconf_node(tmp_path):
    fixtures.make_folder_dataset(tmp_path / "data")
    cfg = OmegaConf.structured(DatasetConfig(name="d", source="folder", root=str(tmp_path / "data"),
                                             max_channels=1, min_clips_per_class=1))
    src = build_source(cfg)
    assert isinstance(src, FolderSource) and src.limits.max_channels == 1
    scan = src.scan(tmp_path / "work")
    assert "channels; at most 1 accepted" in reasons(scan)["snare/s2.wav"]


def test_hydrogen_defaults_to_the_debian_folder():
    assert build_source(DatasetConfig(name="h", source="hydrogen")).root == Path(DEFAULT_ROOT)


# -- synthkit ---------------------------------------------------------------------------------------
def synthkit(seed=0, **kw):
    """The real drum machine (bench.data.drum_synth), small and short."""
    return SynthKitSource(seed=seed, clips_per_class=2, sample_rate=16_000, seconds=0.25, **kw)


def test_synthkit_writes_labelled_clips_with_their_factors(tmp_path):
    scan = synthkit().scan(tmp_path / "w")
    assert scan.root == tmp_path / "w"
    assert_well_formed(scan)
    assert [e.path for e in scan.entries] == sorted(f"{c}/{c}_{i:04d}.wav"
                                                   for c in drum_synth.CLASSES for i in range(2))
    assert scan.description["class_counts"] == {c: 2 for c in drum_synth.CLASSES}
    e = by_path(scan)["snare/snare_0001.wav"]
    assert (e.label, e.source, e.licence) == ("snare", "synthkit", LICENCE)
    assert (e.sample_rate, e.channels, e.duration) == (16_000, 1, 0.25)
    _, factors = drum_synth.render("snare", drum_synth.clip_rng(0, drum_synth.CLASSES.index("snare"), 1),
                                   16_000, 0.25)
    assert e.extra == pytest.approx(factors)          # the ground-truth synthesis parameters
    assert sf.info(str(scan.root / e.path)).subtype == "PCM_16"


def test_synthkit_same_seed_gives_byte_identical_files(tmp_path):
    a = synthkit(seed=7).scan(tmp_path / "a")
    b = synthkit(seed=7).scan(tmp_path / "b")
    c = synthkit(seed=8).scan(tmp_path / "c")
    assert [e.to_json() for e in a.entries] == [e.to_json() for e in b.entries]
    for e in a.entries:
        assert (tmp_path / "a" / e.path).read_bytes() == (tmp_path / "b" / e.path).read_bytes()
    assert [e.sha256 for e in a.entries] != [e.sha256 for e in c.entries]
    again = synthkit(seed=7).scan(tmp_path / "a")          # a rescan rewrites the same bytes
    assert [e.sha256 for e in again.entries] == [e.sha256 for e in a.entries]


def test_synthkit_reads_its_config(tmp_path):
    src = build_source(DatasetConfig(name="s", source="synthkit", seed=3, clips_per_class=1,
                                     synth_sample_rate=8_000, synth_seconds=0.1,
                                     min_clips_per_class=1))
    scan = src.scan(tmp_path)
    assert len(scan.entries) == len(drum_synth.CLASSES)
    assert {(e.sample_rate, e.duration) for e in scan.entries} == {(8_000, 0.1)}


def test_synth_classes_share_the_drum_vocabulary():
    assert set(drum_synth.CLASSES) <= set(CLASSES)


def fake_drum_synth(seed, clips_per_class, sample_rate=44_100, seconds=1.0):
    """Same API as bench.data.drum_synth.generate, to inject clips the real one never makes."""
    n = int(sample_rate * seconds)
    for i in range(clips_per_class):
        rng = np.random.default_rng([seed, i])
        t = np.arange(n) / sample_rate
        audio = (np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.05)
                 + 0.1 * rng.standard_normal(n) * np.exp(-t / 0.01)).astype(np.float32)
        yield f"kick/kick_{i:04d}", "kick", audio, {"decay": np.float32(0.05)}


def test_synthkit_quarantines_non_finite_clips_and_notes_clipping(tmp_path):
    def gen(seed, n, sample_rate, seconds):
        yield from fake_drum_synth(seed, n, sample_rate, seconds)
        bad = np.zeros(int(sample_rate * seconds), np.float32)
        bad[3] = np.nan
        yield "kick/kick_bad", "kick", bad, {}
        loud = 3 * next(fake_drum_synth(seed + 1, 1, sample_rate, seconds))[2]
        yield "kick/kick_loud", "kick", loud, {}

    scan = SynthKitSource(clips_per_class=2, sample_rate=16_000, seconds=0.1, generator=gen
                          ).scan(tmp_path)
    assert "1 NaN/inf samples" in reasons(scan)["kick/kick_bad.wav"]
    assert not (tmp_path / "kick/kick_bad.wav").exists()
    assert "clipped when writing 16-bit PCM" in by_path(scan)["kick/kick_loud.wav"].notes[0]


# -- hydrogen --------------------------------------------------------------------------------------
def test_hydrogen_reads_both_drumkit_xml_generations(tmp_path):
    expect = fixtures.make_hydrogen_kits(tmp_path)
    scan = HydrogenSource(tmp_path, min_clips_per_class=1).scan(tmp_path / "w")
    assert_well_formed(scan)
    assert {e.path: e.label for e in scan.entries} == expect["entries"]
    kick = by_path(scan)["NewKit/Kick-Hard.flac"]
    assert (kick.source, kick.licence) == ("hydrogen:New Kit", "CC0")
    assert kick.extra == {"kit": "New Kit", "kit_folder": "NewKit", "instrument": "Kick",
                          "midi_note": 36, "layer": 1, "velocity_min": 0.5, "velocity_max": 1.0,
                          "gain": 0.9, "class_from": "name"}
    snare = by_path(scan)["NewKit/Snare-Soft.wav"]
    assert snare.notes == ["instrument name says snare; GM note 47 says tom"]
    old = by_path(scan)["OldKit/tom2.flac"]
    assert (old.source, old.licence, old.extra["midi_note"], old.extra["velocity_min"]) == \
        ("hydrogen:OldKit", "GPL", None, None)
    assert reasons(scan)[expect["unclassified"]] == \
        "cannot tell the class of instrument 'Mystery' (MIDI note 81) in kit 'New Kit'"
    assert scan.description["empty_instruments"] == 1
    assert scan.description["kits"]["NewKit"]["clips"] == 6


def test_hydrogen_applies_min_clips_and_kit_selection(tmp_path):
    expect = fixtures.make_hydrogen_kits(tmp_path)
    scan = HydrogenSource(tmp_path).scan(tmp_path / "w")       # min_clips_per_class=2
    (path, label), = expect["too_small"].items()
    assert reasons(scan)[path] == f"class '{label}' has only 1 clip(s); dataset.min_clips_per_class=2"
    only_old = HydrogenSource(tmp_path, kits=["OldKit"], min_clips_per_class=1).scan(tmp_path / "w")
    assert {e.path.split("/")[0] for e in only_old.entries} == {"OldKit"}
    with pytest.raises(ValueError, match=r"no kit folder 'OldKti'.*Did you mean 'OldKit'"):
        HydrogenSource(tmp_path, kits=["OldKti"]).scan(tmp_path / "w")


def test_hydrogen_notes_shared_by_every_instrument_are_ignored(tmp_path):
    kit = tmp_path / "Flat"
    xml = ""
    for i, name in enumerate(["Kick", "Bell", "Snare"]):
        fixtures.write_clip(kit / f"{i}.wav")
        xml += (f"<instrument><id>{i}</id><name>{name}</name><midiOutNote>60</midiOutNote>"
                f"<layer><filename>{i}.wav</filename></layer></instrument>")
    fixtures.write_clip(kit / "3.wav")
    xml += ("<instrument><id>3</id><name>Kick 2</name><midiOutNote>60</midiOutNote>"
            "<layer><filename>3.wav</filename></layer></instrument>")
    (kit / "drumkit.xml").write_text(f"<drumkit_info><name>Flat</name><instrumentList>{xml}"
                                     f"</instrumentList></drumkit_info>")
    scan = HydrogenSource(tmp_path, min_clips_per_class=1).scan(tmp_path / "w")
    assert reasons(scan)["Flat/1.wav"] == ("cannot tell the class of instrument 'Bell' (MIDI note "
                                           "60, shared by every instrument of the kit) in kit 'Flat'")
    assert by_path(scan)["Flat/0.wav"].notes == []         # no "note 60 says hand_drum" noise


def test_real_hydrogen_kits_from_hydrogen_data():
    """The kits of Debian's hydrogen-data (installed by `make system-deps` in CI)."""
    root = Path(DEFAULT_ROOT)
    kits = ["GMRockKit", "TR808EmulationKit"]
    missing = [k for k in kits if not (root / k / "drumkit.xml").is_file()]
    if missing:
        pytest.fail(f"Hydrogen kits {missing} not found under {root}: install the Debian package "
                    f"hydrogen-data (`make system-deps` or `apt-get install hydrogen-data`)")
    t0 = time.perf_counter()
    scan = HydrogenSource(root, kits=kits).scan(Path("/nonexistent-work-dir"))
    seconds = time.perf_counter() - t0
    assert_well_formed(scan)
    counts = Counter(e.label for e in scan.entries)
    assert len(scan.entries) >= 100, counts
    assert {"kick", "snare", "closed_hihat", "open_hihat", "tom", "cymbal"} <= set(counts), counts
    assert all(e.source in ("hydrogen:GMRockKit", "hydrogen:TR808EmulationKit") for e in scan.entries)
    assert all(e.licence == "GPL" for e in scan.entries)
    assert seconds < 30


# -- folder ----------------------------------------------------------------------------------------
def test_folder_labels_from_first_subfolder(tmp_path):
    expect = fixtures.make_folder_dataset(tmp_path)
    scan = FolderSource(tmp_path).scan(tmp_path / "w")
    assert_well_formed(scan)
    assert {e.path: e.label for e in scan.entries} == expect["labels"]
    assert scan.description["ignored_non_audio"] == expect["non_audio"]
    assert by_path(scan)["snare/s2.wav"].channels == 2
    assert {e.source for e in scan.entries} == {"folder"}
    assert scan.quarantined == []


def test_folder_labels_from_csv(tmp_path):
    data = tmp_path / "data"
    for rel in ("a.wav", "b.wav", "x/c.wav", "x/d.wav", "unlisted.wav"):
        fixtures.write_clip(data / rel)
    (tmp_path / "labels.csv").write_text(
        "path,label\na.wav,kick\n./b.wav,kick\nx/c.wav,snare\nx/d.wav,snare\n"
        "gone.wav,snare\nx/c.wav,tom\n")
    scan = FolderSource(data, labels_csv=tmp_path / "labels.csv",
                        min_clips_per_class=1).scan(tmp_path / "w")
    assert {e.path: e.label for e in scan.entries} == {"a.wav": "kick", "b.wav": "kick",
                                                       "x/d.wav": "snare"}
    r = reasons(scan)
    assert r["gone.wav"] == "listed in labels_csv but the file does not exist"
    assert r["unlisted.wav"] == "not listed in labels_csv"
    assert r["x/c.wav"] == "listed in labels_csv with different labels: snare, tom"
    (tmp_path / "bad.csv").write_text("file,class\na.wav,kick\n")
    with pytest.raises(ValueError, match=r"needs columns 'path' and 'label'"):
        FolderSource(data, labels_csv=tmp_path / "bad.csv").scan(tmp_path / "w")


def test_scans_are_deterministic(tmp_path):
    fixtures.make_folder_dataset(tmp_path)
    a = FolderSource(tmp_path).scan(tmp_path / "w")
    b = FolderSource(tmp_path).scan(tmp_path / "w")
    assert [e.to_json() for e in a.entries] == [e.to_json() for e in b.entries]


def test_duplicate_bytes_are_kept_once(tmp_path):
    fixtures.make_folder_dataset(tmp_path)
    (tmp_path / "snare" / "copy.wav").write_bytes((tmp_path / "kick" / "k1.wav").read_bytes())
    scan = FolderSource(tmp_path).scan(tmp_path / "w")
    assert reasons(scan)["snare/copy.wav"] == "same bytes as kick/k1.wav (duplicate file, kept once)"
    assert "snare/copy.wav" not in by_path(scan)


def test_dataset_classes_keeps_only_named_classes(tmp_path):
    fixtures.make_folder_dataset(tmp_path)
    scan = FolderSource(tmp_path, classes=["snare"]).scan(tmp_path / "w")
    assert {e.label for e in scan.entries} == {"snare"}
    assert scan.description["excluded_by_dataset_classes"] == {"kick": 3}
    with pytest.raises(ValueError, match=r"dataset.classes names 'snar'.*Did you mean 'snare'"):
        FolderSource(tmp_path, classes=["snar"]).scan(tmp_path / "w")


def test_finish_scan_explains_an_empty_result(tmp_path):
    from bench.api.dataset import Quarantined, SourceScan
    scan = SourceScan(tmp_path, [], [Quarantined("a.wav", "zero-length file")])
    with pytest.raises(ValueError, match=r"no usable audio in .*: 1 files quarantined: a.wav "
                                         r"\(zero-length file\)"):
        finish_scan(scan)


# -- DCASE 2023 task 7 ------------------------------------------------------------------------------
def test_dcase_camelcase_folders(tmp_path):
    expect = fixtures.make_dcase(tmp_path / "DevSet")
    fixtures.write_clip(tmp_path / "DevSet" / "Thunder" / "000.wav")
    scan = Dcase2023T7Source(tmp_path / "DevSet").scan(tmp_path / "w")
    assert_well_formed(scan)
    assert {e.path: e.label for e in scan.entries} == expect
    assert reasons(scan)["Thunder/000.wav"].startswith("sub-folder 'Thunder' is not a DCASE 2023 "
                                                      "task 7 class")
    note = by_path(scan)["Rain/000.wav"].notes[0]
    assert "not in the task's format" in note and "16000 Hz" in note


def test_dcase_zenodo_archive_layout_with_snake_case_folders(tmp_path):
    snake = {"DogBark": "dog_bark", "GunShot": "gunshot", "MovingMotorVehicle":
             "moving_motor_vehicle", "Sneeze_Cough": "sneeze_cough", "Footstep": "footstep",
             "Keyboard": "keyboard", "Rain": "rain"}
    root = tmp_path / "DCASE_2023_Challenge_Task_7_Dataset"
    fixtures.make_dcase(root / "dev", folder_names=snake, seconds=4.0, sr=22_050)
    scan = Dcase2023T7Source(root, classes=["GunShot", "Rain"]).scan(tmp_path / "w")
    assert scan.root == root / "dev"
    assert Counter(e.label for e in scan.entries) == {"GunShot": 2, "Rain": 2}
    assert all(e.notes == [] for e in scan.entries)          # 4 s mono 22.05 kHz: the task format
    with pytest.raises(ValueError, match=r"unknown DCASE 2023 task 7 class 'Gunshot'. Did you mean 'GunShot'"):
        Dcase2023T7Source(root, classes=["Gunshot"])


# -- Freesound one-shot ----------------------------------------------------------------------------
def test_freesound_oneshot_classes_from_tags_and_descriptors(tmp_path):
    expect = fixtures.make_freesound_oneshot(tmp_path)
    scan = FreesoundOneShotSource(tmp_path).scan(tmp_path / "w")
    assert_well_formed(scan)
    assert {e.path: e.label for e in scan.entries} == expect["entries"]
    e = by_path(scan)["one_shot_percussive_sounds/1/200.wav"]
    assert e.licence == "http://creativecommons.org/licenses/by/3.0/"
    assert e.extra["hardness"] == 61.0 and e.extra["boominess"] == pytest.approx(24.6)
    assert e.extra["freesound_id"] == "200" and e.extra["tags"] == ["kick", "bass-drum", "808"]
    assert e.extra["username"] == "user1"
    for key in ("brightness", "depth", "roughness", "warmth", "sharpness", "loudness",
                "temporal_centroid", "log_attack_time", "reverb", "single_event"):
        assert key in e.extra
    r = reasons(scan)
    assert r[expect["no_class"]].startswith("cannot tell the class: its tags name no drum class")
    assert "several drum classes (kick, snare" in r[expect["ambiguous"]]
    assert "no analysis file analysis/<subdir>/502_analysis.json" in r[expect["no_analysis"]]


def test_freesound_oneshot_needs_the_tag_file(tmp_path):
    fixtures.make_freesound_oneshot(tmp_path)
    (tmp_path / "sound_info_analysis.json").unlink()
    with pytest.raises(ValueError, match=r"sound_info_analysis.json is missing.*4687854"):
        FreesoundOneShotSource(tmp_path).scan(tmp_path / "w")


# -- FSD50K -----------------------------------------------------------------------------------------
def test_fsd50k_percussion_subset(tmp_path):
    expect = fixtures.make_fsd50k(tmp_path)
    scan = FSD50KSource(tmp_path).scan(tmp_path / "w")
    assert_well_formed(scan)
    assert {e.path: e.label for e in scan.entries} == expect["entries"]
    assert reasons(scan)[expect["missing"]] == ("listed in FSD50K.ground_truth/eval.csv but the "
                                                "audio file is missing")
    assert scan.description["clips_without_selected_label"] == expect["not_percussion"]
    e = by_path(scan)["FSD50K.dev_audio/1002.wav"]
    assert e.licence == "http://creativecommons.org/publicdomain/zero/1.0/"
    assert e.extra["fsd50k_split"] == "val" and "Drum" in e.extra["fsd50k_labels"]
    assert by_path(scan)["FSD50K.eval_audio/2001.wav"].licence is None      # no eval metadata


def test_fsd50k_custom_label_preference(tmp_path):
    fixtures.make_fsd50k(tmp_path, with_metadata=False)
    scan = FSD50KSource(tmp_path, classes=["Drum", "Cymbal"]).scan(tmp_path / "w")
    assert Counter(e.label for e in scan.entries) == {"Drum": 4, "Cymbal": 4}
    with pytest.raises(ValueError, match=r"unknown FSD50K label 'Snare drum'. Did you mean 'Snare_drum'"):
        FSD50KSource(tmp_path, classes=["Snare drum"]).scan(tmp_path / "w")


# -- the class vocabulary ---------------------------------------------------------------------------
@pytest.mark.parametrize("name,note,label", [
    ("Kick (Tama Superstar 22\")", 35, "kick"), ("BassDrum", None, "kick"),
    ("c3 - bass drum 1", None, "kick"), ("Snare Rimshot", 40, "snare"),
    ("Pearl Side Stick", None, "rim"), ("Clave", None, "rim"), ("Hi-Hat Semiopen", 81, "open_hihat"),
    ("Hat Op Dirty", None, "open_hihat"), ("Sabian Hat Choke", None, "closed_hihat"),
    ("Pedal HH", None, "closed_hihat"), ("Hat", 46, "open_hihat"), ("tomhi2", None, "tom"),
    ("Crash/Ride Bell", 56, "cymbal"), ("Paiste Bell", None, "cymbal"), ("Cowbell", None, "cowbell"),
    ("Tambourine Pedal", 80, "tambourine"), ("Maraca", None, "shaker"), ("Bongo Lo", None, "hand_drum"),
    ("Bell", 53, "cymbal"), ("Bell", None, None), ("Whistle", 71, None), ("Finger Snaps", None, "snap"),
])
def test_instrument_names_and_notes(name, note, label):
    assert classify_instrument(name, note).label == label


def test_class_vocabulary_is_consistent():
    assert set(GM_NOTES.values()) <= set(CLASSES)
    assert class_from_tags(["HiHat", "open"]) == ("open_hihat", "")
    assert class_from_tags(["hh"]) == ("closed_hihat", "")
    label, why = class_from_tags(["kick", "snare"])
    assert label is None and "several" in why


def test_limits_reach_the_sources(tmp_path):
    fixtures.write_clip(tmp_path / "a" / "long.wav", seconds=3.0)
    fixtures.write_clip(tmp_path / "a" / "long2.wav", seconds=3.0)
    scan = FolderSource(tmp_path, limits=AudioLimits(max_seconds=1.0)).scan(tmp_path / "w")
    e = by_path(scan)["a/long.wav"]
    assert e.duration == 1.0 and e.notes == ["cropped 3.0 s to the first 1 s (dataset.max_seconds)"]
