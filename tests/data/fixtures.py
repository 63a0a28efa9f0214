"""Builders of small datasets in the real published layouts, made in code in a tmp folder.

Each clip is 0.2 s of 16 kHz audio whose content depends on its path (a seeded decaying noise
burst), so no two files share bytes: the sources' duplicate rule never fires by accident.
"""
from __future__ import annotations

import csv
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SR = 16_000
SECONDS = 0.2


def clip(seed: int, seconds: float = SECONDS, sr: int = SR, channels: int = 1) -> np.ndarray:
    """A short decaying noise burst, ``(frames,)`` or ``(frames, channels)``, peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    env = np.exp(-np.arange(n) / (0.05 * sr))
    x = rng.standard_normal((n, channels)) * env[:, None]
    x = 0.5 * x / np.abs(x).max()
    return (x[:, 0] if channels == 1 else x).astype(np.float32)


def write_clip(path: Path, *, seconds: float = SECONDS, sr: int = SR, channels: int = 1,
               subtype: str | None = None, seed: int | None = None) -> Path:
    """Write a clip whose content is derived from its path (or ``seed``); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = zlib.crc32(path.as_posix().encode()) if seed is None else seed
    sf.write(path, clip(seed, seconds, sr, channels), sr, subtype=subtype)
    return path


# -- folder / DCASE ------------------------------------------------------------------------------
def make_folder_dataset(root: Path) -> dict[str, Any]:
    """``root/<class>/...`` with a nested folder, a FLAC, a stereo file and a non-audio file."""
    files = {"kick/k1.wav": "kick", "kick/k2.wav": "kick", "kick/deeper/k3.flac": "kick",
             "snare/s1.wav": "snare", "snare/s2.wav": "snare"}
    for rel in files:
        write_clip(root / rel, channels=2 if rel == "snare/s2.wav" else 1)
    (root / "kick" / "README.txt").write_text("not audio\n")
    return {"labels": files, "non_audio": 1}


DCASE_CLASSES = ("DogBark", "Footstep", "GunShot", "Keyboard", "MovingMotorVehicle", "Rain",
                 "Sneeze_Cough")


def make_dcase(root: Path, per_class: int = 2, folder_names: dict[str, str] | None = None,
               seconds: float = SECONDS, sr: int = SR) -> dict[str, str]:
    """``root/<ClassName>/NNN.wav`` (short clips; the real ones are 4 s at 22.05 kHz)."""
    out = {}
    for cls in DCASE_CLASSES:
        folder = (folder_names or {}).get(cls, cls)
        for i in range(per_class):
            rel = f"{folder}/{i:03d}.wav"
            write_clip(root / rel, seconds=seconds, sr=sr)
            out[rel] = cls
    return out


# -- Hydrogen --------------------------------------------------------------------------------------
NS = "http://www.hydrogen-music.org/drumkit"


def make_hydrogen_kits(root: Path) -> dict[str, Any]:
    """Two kits: a Hydrogen ≥ 0.9.7 kit (namespace, instrumentComponent layers, MIDI notes,
    <license>) and an old-style kit (no namespace, <filename> in <instrument>, no notes)."""
    new = root / "NewKit"
    layers = {"Kick": (36, ["Kick-Soft.flac", "Kick-Hard.flac"]),
              "Snare": (47, ["Snare-Soft.wav", "Snare-Hard.wav"]),   # name and note disagree
              "Hat Open": (46, ["HatOpen-1.wav", "HatOpen-2.wav"]),
              "Mystery": (81, ["Mystery.wav"])}            # GM 81 triangle: no class
    instruments = []
    for i, (name, (note, files)) in enumerate(layers.items()):
        layer_xml = ""
        for j, f in enumerate(files):
            write_clip(new / f)
            lo, hi = j / len(files), (j + 1) / len(files)
            layer_xml += (f"<layer><filename>{f}</filename><min>{lo}</min><max>{hi}</max>"
                          f"<gain>0.9</gain><pitch>0</pitch></layer>")
        instruments.append(f"<instrument><id>{i}</id><name>{name}</name><gain>1</gain>"
                           f"<midiOutNote>{note}</midiOutNote><instrumentComponent>"
                           f"<component_id>0</component_id><gain>1</gain>{layer_xml}"
                           f"</instrumentComponent></instrument>")
    instruments.append("<instrument><id>9</id><name>17</name><midiOutNote>45</midiOutNote>"
                       "</instrument>")                     # empty slot
    (new / "drumkit.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<drumkit_info xmlns="{NS}" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><name>New Kit</name>'
        f"<author>test</author><license>CC0</license><instrumentList>{''.join(instruments)}"
        f"</instrumentList></drumkit_info>\n")

    old = root / "OldKit"
    old_instruments = {"Closed HH": "chh.flac", "Floor Tom": "tom1.flac", "Tom Hi": "tom2.flac",
                       "Crash": "crash.flac", "Ride Jazz": "ride.flac", "Kick": "bd.flac"}
    xml = ""
    for i, (name, f) in enumerate(old_instruments.items()):
        write_clip(old / f)
        xml += (f"<instrument><id>{i}</id><filename>{f}</filename><name>{name}</name>"
                f"<volume>1</volume></instrument>")
    (old / "drumkit.xml").write_text(f"<drumkit_info><name>OldKit</name><licence>GPL</licence>"
                                     f"<instrumentList>{xml}</instrumentList></drumkit_info>\n")
    return {
        "entries": {
            "NewKit/Kick-Soft.flac": "kick", "NewKit/Kick-Hard.flac": "kick",
            "NewKit/Snare-Soft.wav": "snare", "NewKit/Snare-Hard.wav": "snare",
            "NewKit/HatOpen-1.wav": "open_hihat", "NewKit/HatOpen-2.wav": "open_hihat",
            "OldKit/chh.flac": "closed_hihat", "OldKit/tom1.flac": "tom", "OldKit/tom2.flac": "tom",
            "OldKit/crash.flac": "cymbal", "OldKit/ride.flac": "cymbal", "OldKit/bd.flac": "kick"},
        "unclassified": "NewKit/Mystery.wav",
        # single-clip class after classification → min_clips rule: closed_hihat has 1 clip
        "too_small": {"OldKit/chh.flac": "closed_hihat"},
    }


# -- Freesound one-shot ----------------------------------------------------------------------------
def make_freesound_oneshot(root: Path) -> dict[str, Any]:
    sounds = {  # id: (subdir, tags)
        "183": ("1", ["Zil", "Cymbals", "Finger", "Percussion"]),
        "200": ("1", ["kick", "bass-drum", "808"]),
        "201": ("2", ["Kick", "electronic"]),
        "305": ("2", ["snare", "rimshot"]),
        "306": ("3", ["SnareDrum", "acoustic"]),
        "410": ("3", ["crash", "cymbal"]),
        "500": ("3", ["percussion", "hit"]),           # no class
        "501": ("4", ["kick", "snare"]),               # ambiguous
        "502": ("4", ["hihat", "open"]),               # open hat, but no analysis → quarantined
    }
    records, licences = [], {}
    for i, (sid, (sub, tags)) in enumerate(sounds.items()):
        write_clip(root / "one_shot_percussive_sounds" / sub / f"{sid}.wav", seconds=0.3)
        records.append({"id": int(sid), "name": f"{sid}.wav", "tags": tags, "duration": 0.3,
                        "previews": {}, "analysis": {}, "ac_analysis": {}})
        licences[sid] = {"name": f"{sid}.wav", "username": f"user{i}",
                         "license": "http://creativecommons.org/licenses/by/3.0/"}
        if sid != "502":
            analysis = {"duration": 0.3, "lossless": 1.0, "codec": "pcm_s16le",
                        "samplerate": 16000.0, "channels": 1.0, "loudness": -18.0 - i,
                        "dynamic_range": 0.0, "temporal_centroid": 0.4,
                        "log_attack_time": -1.4, "single_event": True, "hardness": 60.0 + i,
                        "depth": 44.0, "brightness": 70.0 + i, "roughness": 69.5,
                        "warmth": 35.0, "sharpness": 61.0, "boominess": 23.6 + i,
                        "reverb": False}
            path = root / "analysis" / sub / f"{sid}_analysis.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(analysis, indent=4))
    (root / "sound_info_analysis.json").write_text(json.dumps(records))
    (root / "licenses.txt").write_text(json.dumps(licences))
    return {"entries": {"one_shot_percussive_sounds/1/183.wav": "cymbal",
                        "one_shot_percussive_sounds/1/200.wav": "kick",
                        "one_shot_percussive_sounds/2/201.wav": "kick",
                        "one_shot_percussive_sounds/2/305.wav": "snare",
                        "one_shot_percussive_sounds/3/306.wav": "snare",
                        "one_shot_percussive_sounds/3/410.wav": "cymbal"},
            "no_class": "one_shot_percussive_sounds/3/500.wav",
            "ambiguous": "one_shot_percussive_sounds/4/501.wav",
            "no_analysis": "one_shot_percussive_sounds/4/502.wav"}


# -- FSD50K ----------------------------------------------------------------------------------------
def make_fsd50k(root: Path, *, with_metadata: bool = True) -> dict[str, Any]:
    gt = root / "FSD50K.ground_truth"
    gt.mkdir(parents=True)
    vocab = ["Bass_drum", "Snare_drum", "Drum", "Percussion", "Musical_instrument", "Music",
             "Cymbal", "Hi-hat", "Crash_cymbal", "Speech", "Human_voice", "Dog", "Animal"]
    with open(gt / "vocabulary.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([i, lab, f"/m/{i:04d}"] for i, lab in enumerate(vocab))
    dev = [("1001", "Bass_drum,Drum,Percussion,Musical_instrument,Music", "train"),
           ("1002", "Bass_drum,Drum,Percussion,Musical_instrument,Music", "val"),
           ("1003", "Snare_drum,Drum,Percussion,Musical_instrument,Music", "train"),
           ("1004", "Hi-hat,Cymbal,Percussion,Musical_instrument,Music", "train"),
           ("1005", "Speech,Human_voice", "train"),
           ("1006", "Snare_drum,Drum,Percussion,Musical_instrument,Music", "train"),
           ("1007", "Hi-hat,Cymbal,Percussion,Musical_instrument,Music", "val"),
           ("1008", "Dog,Animal", "train")]
    evals = [("2001", "Crash_cymbal,Cymbal,Percussion,Musical_instrument,Music"),
             ("2002", "Crash_cymbal,Cymbal,Percussion,Musical_instrument,Music"),
             ("2003", "Bass_drum,Drum,Percussion,Musical_instrument,Music")]   # missing on disk
    with open(gt / "dev.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["fname", "labels", "mids", "split"])
        for fname, labels, split in dev:
            w.writerow([fname, labels, ",".join("/m/x" for _ in labels.split(",")), split])
            write_clip(root / "FSD50K.dev_audio" / f"{fname}.wav", seconds=0.5)
    with open(gt / "eval.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["fname", "labels", "mids"])
        for fname, labels in evals:
            w.writerow([fname, labels, ",".join("/m/x" for _ in labels.split(","))])
            if fname != "2003":
                write_clip(root / "FSD50K.eval_audio" / f"{fname}.wav", seconds=0.5)
    if with_metadata:
        meta = root / "FSD50K.metadata"
        meta.mkdir()
        info = {f: {"title": f"t{f}", "uploader": "u", "license":
                    "http://creativecommons.org/publicdomain/zero/1.0/"} for f, _, _ in dev}
        (meta / "dev_clips_info_FSD50K.json").write_text(json.dumps(info))
    return {"entries": {"FSD50K.dev_audio/1001.wav": "Bass_drum",
                        "FSD50K.dev_audio/1002.wav": "Bass_drum",
                        "FSD50K.dev_audio/1003.wav": "Snare_drum",
                        "FSD50K.dev_audio/1004.wav": "Hi-hat",
                        "FSD50K.dev_audio/1006.wav": "Snare_drum",
                        "FSD50K.dev_audio/1007.wav": "Hi-hat",
                        "FSD50K.eval_audio/2001.wav": "Crash_cymbal",
                        "FSD50K.eval_audio/2002.wav": "Crash_cymbal"},
            "missing": "FSD50K.eval_audio/2003.wav", "not_percussion": 2}
