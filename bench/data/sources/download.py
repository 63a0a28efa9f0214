"""Checksummed downloads of the public datasets (for machines with network access).

``download(dataset, dest)`` fetches the dataset's Zenodo files into ``dest``, verifies each against
the md5 Zenodo publishes, and unpacks the archives; it returns the folder to pass as
``dataset.root``. Each file is streamed to ``<name>.part`` and renamed only once complete and
verified, so an interrupted run never leaves a file that looks finished; a rerun resumes the
``.part`` with an HTTP Range request (or restarts it when the server ignores the range).

Checksums: the md5 values below are the ones mirdata's loaders pin for these Zenodo records
(``freesound_one_shot_percussive_sounds``, ``fsd50k``), which match Zenodo's published per-file md5.
Where drumbench has no verified value (``md5=None``: the DCASE 2023 task 7 archive) the file is
kept but reported as *unverified*, with its computed md5 printed for you to compare with the
record page — it is never reported as verified. Sizes are informational (progress, sanity).

FSD50K's audio archives are split zips (``.z01``…``.zip``). Python's ``zipfile`` cannot read a
split (multi-disk, ZIP64) archive, so they are joined with Info-ZIP first —
``zip -s 0 FSD50K.dev_audio.zip --out FSD50K.dev_audio.unsplit.zip`` — which needs the ``zip``
command (Debian package ``zip``); ``7z x FSD50K.dev_audio.zip`` also extracts them directly.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def zenodo_url(record: int, name: str) -> str:
    return f"https://zenodo.org/records/{record}/files/{name}?download=1"


@dataclass(frozen=True)
class RemoteFile:
    name: str                       # file name on Zenodo and in dest
    url: str
    md5: str | None                 # None: no verified checksum known to drumbench
    size: int | None = None         # bytes, where known
    unpack: bool = True             # extract after download (.zip, .tar.gz)
    split_parts: tuple[str, ...] = ()   # for the .zip of a split archive: its .z01, .z02, ...


@dataclass(frozen=True)
class RemoteDataset:
    record: int
    files: tuple[RemoteFile, ...]
    root_subdir: str = ""           # where dataset.root points after extraction, relative to dest


def _zenodo(record: int, name: str, md5: str | None, size: int | None = None,
            **kw: Any) -> RemoteFile:
    return RemoteFile(name, zenodo_url(record, name), md5, size, **kw)


_FSD_DEV_PARTS = tuple(f"FSD50K.dev_audio.z{i:02d}" for i in range(1, 6))
_FSD_PART_MD5 = ("faa7cf4cc076fc34a44a479a5ed862a3", "8f9b66153e68571164fb1315d00bc7bc",
                 "1196ef47d267a993d30fa98af54b7159", "d088ac4e11ba53daf9f7574c11cccac9",
                 "81356521aa159accd3c35de22da28c7f")

DATASETS: dict[str, RemoteDataset] = {
    "freesound_oneshot": RemoteDataset(3665275, (
        _zenodo(3665275, "one_shot_percussive_sounds.zip", "278994c2a7b92a24a4daad99f40c13db"),
        _zenodo(3665275, "analysis.zip", "c67ce39d5aa6c6a7f88eedf7eb7d933e"),
        _zenodo(3665275, "licenses.txt", "25f95a0e38d3ac4ae868f56c378fbccb", unpack=False),
        _zenodo(4687854, "sound_info_analysis.json", "b51913a801bd59c2583d5f0e6f3c05b9",
                unpack=False),
    )),
    "fsd50k": RemoteDataset(4060432, (
        _zenodo(4060432, "FSD50K.ground_truth.zip", "ca27382c195e37d2269c4c866dd73485", 334_701),
        _zenodo(4060432, "FSD50K.metadata.zip", "b9ea0c829a411c1d42adb9da539ed237", 6_700_838),
        *(_zenodo(4060432, part, md5, 3_221_225_472, unpack=False)
          for part, md5 in zip(_FSD_DEV_PARTS, _FSD_PART_MD5)),
        _zenodo(4060432, "FSD50K.dev_audio.zip", "c480d119b8f7a7e32fdb58f3ea4d6c5a", 2_306_663_327,
                split_parts=_FSD_DEV_PARTS),
        _zenodo(4060432, "FSD50K.eval_audio.z01", "3090670eaeecc013ca1ff84fe4442aeb",
                3_221_225_472, unpack=False),
        _zenodo(4060432, "FSD50K.eval_audio.zip", "6fa47636c3a3ad5c7dfeba99f2637982",
                3_037_675_767, split_parts=("FSD50K.eval_audio.z01",)),
    )),
    "dcase2023_t7": RemoteDataset(8091972, (
        _zenodo(8091972, "DCASE_2023_Challenge_Task_7_Dataset.tar.gz", None),
    ), root_subdir="DCASE_2023_Challenge_Task_7_Dataset"),
}


class DownloadError(RuntimeError):
    """A download that failed verification or could not complete; names the file."""


Opener = Callable[..., Any]


def download(dataset: str, dest: Path, *, files: Iterable[str | RemoteFile] | None = None,
             opener: Opener = urllib.request.urlopen, unpack: bool = True,
             log: Callable[[str], None] = print) -> Path:
    """Fetch, verify and unpack ``dataset`` into ``dest``; return the folder for ``dataset.root``.

    ``files`` picks a subset by name (or passes :class:`RemoteFile` objects directly, e.g. for
    mirrors); ``opener`` is called like ``urllib.request.urlopen(request)``.
    """
    if dataset not in DATASETS:
        raise ValueError(f"no download table for {dataset!r}; known: {', '.join(sorted(DATASETS))}")
    spec = DATASETS[dataset]
    chosen = _select(spec, files)
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    for remote in chosen:
        fetch(remote, dest, opener=opener, log=log)
    if unpack:
        for remote in chosen:
            if remote.unpack:
                extract(remote, dest, log=log)
    return dest / spec.root_subdir if spec.root_subdir else dest


def _select(spec: RemoteDataset, files: Iterable[str | RemoteFile] | None) -> list[RemoteFile]:
    if files is None:
        return list(spec.files)
    by_name = {f.name: f for f in spec.files}
    out = []
    for f in files:
        if isinstance(f, RemoteFile):
            out.append(f)
        elif f in by_name:
            out.append(by_name[f])
        else:
            raise ValueError(f"no file {f!r} in this dataset's table; files: {', '.join(by_name)}")
    return out


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(dest: Path, name: str) -> Path:
    return dest / f".{name}.md5"


def is_verified(dest: Path, remote: RemoteFile) -> bool:
    """True only when the file is complete and its md5 equals a published checksum."""
    side = _sidecar(dest, remote.name)
    return (remote.md5 is not None and (dest / remote.name).is_file() and side.is_file()
            and side.read_text().split()[0] == remote.md5)


def fetch(remote: RemoteFile, dest: Path, *, opener: Opener = urllib.request.urlopen,
          log: Callable[[str], None] = print) -> Path:
    """Download one file to ``dest/<name>`` via ``.part``; verify; rename. Resumable."""
    final = dest / remote.name
    side = _sidecar(dest, remote.name)
    if final.is_file():                                # finished earlier (or put there by hand)
        recorded = side.read_text().split()[0] if side.is_file() else None
        if recorded is None or (remote.md5 is not None and recorded != remote.md5):
            recorded = md5_file(final)
            side.write_text(f"{recorded}  {remote.name}\n")
        if remote.md5 is None or recorded == remote.md5:
            return final
        raise DownloadError(f"{final} exists but its md5 is {recorded}, not the published "
                            f"{remote.md5}; delete it to download it again")
    part = dest / f"{remote.name}.part"
    _stream(remote, part, opener, log)
    found = md5_file(part)
    size = part.stat().st_size
    if remote.md5 is not None and found != remote.md5:
        part.unlink()
        raise DownloadError(f"{remote.name}: md5 mismatch — expected {remote.md5}, got {found} "
                            f"({size} bytes from {remote.url}); the partial file was removed, "
                            f"run again to retry")
    if remote.md5 is None and remote.size is not None and size != remote.size:
        part.unlink()
        raise DownloadError(f"{remote.name}: expected {remote.size} bytes, got {size}; "
                            f"the partial file was removed")
    os.replace(part, final)
    side.write_text(f"{found}  {remote.name}\n")
    if remote.md5 is None:
        log(f"WARNING {remote.name}: UNVERIFIED — drumbench has no published checksum for this "
            f"file. Computed md5 {found} ({size} bytes): compare it with the md5 on the record "
            f"page before relying on the data.")
    else:
        log(f"{remote.name}: md5 verified ({found})")
    return final


def _stream(remote: RemoteFile, part: Path, opener: Opener, log: Callable[[str], None]) -> None:
    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have == remote.size:
        return
    request = urllib.request.Request(remote.url, headers={"User-Agent": "drumbench"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = opener(request)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:                   # the .part is already complete
            return
        raise DownloadError(f"{remote.name}: HTTP {err.code} from {remote.url}") from err
    with response:
        status = getattr(response, "status", None) or getattr(response, "code", None)
        resumed = have > 0 and status == 206
        if have and not resumed:
            log(f"{remote.name}: server did not resume at byte {have}; restarting")
        with open(part, "ab" if resumed else "wb") as out:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                out.write(chunk)


def extract(remote: RemoteFile, dest: Path, *, log: Callable[[str], None] = print,
            runner: Callable[..., Any] = subprocess.run) -> None:
    """Unpack a downloaded archive into ``dest`` (once; a marker file records completion)."""
    marker = dest / f".{remote.name}.extracted"
    if marker.exists():
        return
    archive = dest / remote.name
    if remote.split_parts:
        missing = [p for p in remote.split_parts if not (dest / p).is_file()]
        if missing:
            raise DownloadError(f"{remote.name} is the last part of a split zip; missing parts: "
                                f"{', '.join(missing)}")
        joined = dest / f"{archive.stem}.unsplit.zip"
        join_split_zip(archive, joined, runner=runner)
        _unzip(joined, dest)
        joined.unlink()
    elif remote.name.endswith(".zip"):
        _unzip(archive, dest)
    elif remote.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    else:
        raise DownloadError(f"{remote.name}: do not know how to unpack this file")
    marker.write_text("ok\n")
    log(f"{remote.name}: unpacked into {dest}")


def _unzip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)          # zipfile drops absolute paths and '..' components
    except zipfile.BadZipFile as err:
        raise DownloadError(f"{archive}: not a readable zip archive ({err})") from err


def join_split_zip(last_part: Path, out: Path, *,
                   runner: Callable[..., Any] = subprocess.run) -> Path:
    """Join a split zip (``x.z01 … x.zip``) into one archive with Info-ZIP's ``zip -s 0``."""
    zip_cmd = shutil.which("zip")
    if zip_cmd is None:
        raise DownloadError(
            f"{last_part.name} is a split zip archive, which Python's zipfile cannot read; "
            f"install Info-ZIP (apt-get install zip) and rerun, or join it yourself: "
            f"`zip -s 0 {last_part.name} --out {out.name}` in {last_part.parent} "
            f"(or extract with `7z x {last_part.name}`)")
    result = runner([zip_cmd, "-s", "0", str(last_part), "--out", str(out)],
                    capture_output=True, text=True)
    if result.returncode != 0 or not out.is_file():
        raise DownloadError(f"`zip -s 0 {last_part} --out {out}` failed "
                            f"(exit {result.returncode}): {(result.stderr or '').strip()[:500]}")
    return out


__all__ = ["DATASETS", "DownloadError", "RemoteDataset", "RemoteFile", "download", "extract",
           "fetch", "is_verified", "join_split_zip", "md5_file", "zenodo_url"]
