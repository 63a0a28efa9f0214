"""Hydrogen drum kits: ``<root>/<kit>/drumkit.xml`` plus the samples it names.

Every velocity layer of every instrument is one clip. Two drumkit.xml generations exist and
both are read (learned from the kits Debian ships in ``hydrogen-data`` / ``hydrogen-drumkits``):

* Hydrogen ≥ 0.9.7: a default XML namespace (``http://www.hydrogen-music.org/drumkit``),
  ``<instrument>`` → ``<instrumentComponent>`` → ``<layer>`` (``filename``, ``min``, ``max``,
  ``gain``, ``pitch``), ``<midiOutNote>``, ``<license>``;
* older kits: no namespace, ``<layer>`` directly in ``<instrument>``, or a single
  ``<filename>`` in ``<instrument>``; often no ``<midiOutNote>``; ``<license>`` or ``<licence>``.

The class comes from the instrument name, else the GM note (see
:mod:`bench.data.sources.drum_classes`). Notes are ignored for a kit whose instruments all share
one note (old kits left every note at 60). An instrument neither tells is quarantined, as are
missing samples, layers naming a file another layer already named (listed once), and kits whose
drumkit.xml cannot be parsed. Instruments without any sample (empty slots) are counted in
``description["empty_instruments"]``.
"""
from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from bench.api.dataset import ManifestEntry, Quarantined, SourceScan
from bench.data.sources.common import (ScanningSource, add_result, cfg_get, check_file,
                                       did_you_mean, is_audio_name, require_dir)
from bench.data.sources.drum_classes import classify_instrument

DEFAULT_ROOT = "/usr/share/hydrogen/data/drumkits"
KIT_FILE = "drumkit.xml"


def _strip_namespaces(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None and text.strip() else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    value = _float(text)
    return int(value) if value is not None else None


class HydrogenSource(ScanningSource):
    name = "hydrogen"
    default_root = DEFAULT_ROOT
    root_hint = ("the drumkits folder, e.g. /usr/share/hydrogen/data/drumkits "
                 "(Debian package hydrogen-data)")

    def __init__(self, root: str | Path | None = None, *, kits: list[str] | None = None,
                 **common: Any) -> None:
        super().__init__(root, **common)
        self.kits = list(kits) if kits is not None else None

    @classmethod
    def config_kwargs(cls, cfg: Any) -> dict[str, Any]:
        kits = cfg_get(cfg, "kits")
        return {"kits": list(kits) if kits is not None else None}

    def kit_folders(self, root: Path) -> list[Path]:
        found = sorted(p.parent for p in root.glob(f"*/{KIT_FILE}"))
        if self.kits is None:
            return found
        by_name = {p.name: p for p in found}
        for kit in self.kits:
            if kit not in by_name:
                raise ValueError(f"dataset.kits: no kit folder '{kit}' with a {KIT_FILE} under "
                                 f"{root}: {did_you_mean(kit, by_name, 'kit')}")
        return [by_name[k] for k in sorted(set(self.kits))]

    def collect(self, work_dir: Path) -> SourceScan:
        root = require_dir(self.root)
        entries: list[ManifestEntry] = []
        quarantined: list[Quarantined] = []
        kits: dict[str, Any] = {}
        empty = 0
        for kit_dir in self.kit_folders(root):
            info = _KitScan(root, kit_dir, self).run(entries, quarantined)
            kits[kit_dir.name] = info
            empty += info.pop("empty_instruments")
        return SourceScan(root=root, entries=entries, quarantined=quarantined,
                          description={"kits": kits, "empty_instruments": empty})


class _KitScan:
    """One kit folder: parse drumkit.xml, classify instruments, check each layer's file."""

    def __init__(self, root: Path, kit_dir: Path, source: HydrogenSource) -> None:
        self.root, self.kit_dir, self.source = root, kit_dir, source
        self.folder = kit_dir.name
        self.xml_rel = f"{self.folder}/{KIT_FILE}"

    def run(self, entries: list[ManifestEntry], quarantined: list[Quarantined]) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.folder, "licence": None, "clips": 0,
                                "empty_instruments": 0}
        try:
            doc = ET.parse(self.kit_dir / KIT_FILE).getroot()
        except (ET.ParseError, OSError) as err:
            quarantined.append(Quarantined(self.xml_rel, f"kit '{self.folder}': {KIT_FILE} cannot "
                                                         f"be parsed ({err})"))
            return info
        _strip_namespaces(doc)
        if doc.tag != "drumkit_info":
            quarantined.append(Quarantined(self.xml_rel, f"kit '{self.folder}': {KIT_FILE} is not a "
                                                         f"Hydrogen drum kit (root element "
                                                         f"<{doc.tag}>, expected <drumkit_info>)"))
            return info
        kit_name = (doc.findtext("name") or "").strip() or self.folder
        licence = (doc.findtext("license") or doc.findtext("licence") or "").strip() or None
        info.update(name=kit_name, licence=licence)
        instruments = doc.findall("./instrumentList/instrument")
        layered = [(inst, self._layers(inst)) for inst in instruments]
        info["empty_instruments"] = sum(1 for _, layers in layered if not layers)
        layered = [(inst, layers) for inst, layers in layered if layers]
        notes = [_int(inst.findtext("midiOutNote")) for inst, _ in layered]
        shared = Counter(n for n in notes if n is not None)
        trust_notes = not (len(layered) > 1 and len(shared) == 1
                           and next(iter(shared.values())) == len(layered))
        info["midi_notes_used"] = trust_notes
        seen: dict[str, str] = {}
        n_before = len(entries)
        for (inst, layers), note in zip(layered, notes):
            self._instrument(inst, layers, note if trust_notes else None, note, kit_name, licence,
                             seen, entries, quarantined)
        info["clips"] = len(entries) - n_before
        return info

    @staticmethod
    def _layers(inst: ET.Element) -> list[dict[str, Any]]:
        layer_els = inst.findall("./instrumentComponent/layer") + inst.findall("./layer")
        layers = []
        for el in layer_els:
            filename = (el.findtext("filename") or "").strip()
            if filename:
                layers.append({"filename": filename, "min": _float(el.findtext("min")),
                               "max": _float(el.findtext("max")),
                               "gain": _float(el.findtext("gain"))})
        if not layers and (inst.findtext("filename") or "").strip():   # pre-0.9.7 kits
            layers.append({"filename": inst.findtext("filename").strip(), "min": None,
                           "max": None, "gain": None})
        return layers

    def _rel(self, filename: str) -> str | None:
        """Posix path of a sample relative to the drumkits root, or None if it leaves it."""
        name = PurePosixPath(filename.replace("\\", "/"))
        if name.is_absolute():
            name = PurePosixPath(name.name)
        rel = PurePosixPath(posixpath.normpath(f"{self.folder}/{name.as_posix()}"))
        return None if rel.parts[0] == ".." else rel.as_posix()

    def _instrument(self, inst: ET.Element, layers: list[dict[str, Any]], trusted_note: int | None,
                    note: int | None, kit_name: str, licence: str | None, seen: dict[str, str],
                    entries: list[ManifestEntry], quarantined: list[Quarantined]) -> None:
        name = (inst.findtext("name") or "").strip()
        guess = classify_instrument(name, trusted_note)
        where = f"kit '{kit_name}', instrument '{name}'"
        for index, layer in enumerate(layers):
            rel = self._rel(layer["filename"])
            if rel is None:
                quarantined.append(Quarantined(f"{self.folder}/{layer['filename']}",
                                               f"{where}: sample path leaves the drumkits folder"))
                continue
            if rel in seen:
                quarantined.append(Quarantined(rel, f"{where} layer {index}: same sample file as "
                                                    f"{seen[rel]} (listed once)"))
                continue
            seen[rel] = f"instrument '{name}' layer {index}"
            if not (self.root / rel).is_file():
                quarantined.append(Quarantined(rel, f"{where}: {KIT_FILE} names sample "
                                                    f"'{layer['filename']}' but the file is missing"))
                continue
            if not is_audio_name(rel):
                quarantined.append(Quarantined(rel, f"{where}: sample '{layer['filename']}' has no "
                                                    f"audio file extension"))
                continue
            if guess.label is None:
                shown = ("no MIDI note" if note is None else
                         f"MIDI note {note}" + ("" if trusted_note is not None
                                                else ", shared by every instrument of the kit"))
                quarantined.append(Quarantined(rel, f"cannot tell the class of instrument "
                                                    f"'{name}' ({shown}) in kit '{kit_name}'"))
                continue
            extra = {"kit": kit_name, "kit_folder": self.folder, "instrument": name,
                     "midi_note": note, "layer": index, "velocity_min": layer["min"],
                     "velocity_max": layer["max"], "gain": layer["gain"],
                     "class_from": guess.basis}
            result = check_file(self.root, rel, self.source.limits, label=guess.label,
                                source=f"hydrogen:{kit_name}", licence=licence, extra=extra,
                                notes=[guess.note] if guess.note else [])
            add_result(result, entries, quarantined)
