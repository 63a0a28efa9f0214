"""The checksummed downloader, against local files and fake openers (no network)."""
from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

from bench.data.sources import download as dl
from bench.data.sources.download import (DATASETS, DownloadError, RemoteFile, download,
                                         is_verified)

PAYLOAD = bytes(range(256)) * 4000          # ~1 MB


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def served(tmp_path: Path, name: str, data: bytes) -> str:
    src = tmp_path / "server" / name
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(data)
    return src.as_uri()


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, status: int = 200, fail_after: int | None = None):
        super().__init__(data)
        self.status = status
        self.fail_after = fail_after

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection lost")
        if self.fail_after is not None:
            n = min(n if n >= 0 else len(self.getvalue()), self.fail_after - self.tell())
        return super().read(n)


def test_good_checksum_is_accepted(tmp_path, capsys):
    remote = RemoteFile("data.bin", served(tmp_path, "data.bin", PAYLOAD), md5(PAYLOAD), len(PAYLOAD),
                        unpack=False)
    root = download("freesound_oneshot", tmp_path / "dest", files=[remote])
    assert root == tmp_path / "dest"
    assert (root / "data.bin").read_bytes() == PAYLOAD
    assert not (root / "data.bin.part").exists()
    assert is_verified(root, remote)
    assert "md5 verified" in capsys.readouterr().out
    # a second call does not download again (the opener would fail)
    download("freesound_oneshot", tmp_path / "dest", files=[remote],
             opener=lambda *a, **k: pytest.fail("downloaded twice"))


def test_bad_checksum_is_rejected_and_the_partial_file_removed(tmp_path):
    wrong = "0" * 32
    remote = RemoteFile("data.bin", served(tmp_path, "data.bin", PAYLOAD), wrong, unpack=False)
    with pytest.raises(DownloadError) as err:
        download("fsd50k", tmp_path / "dest", files=[remote])
    text = str(err.value)
    assert "data.bin" in text and wrong in text and md5(PAYLOAD) in text
    assert not (tmp_path / "dest" / "data.bin").exists()
    assert not (tmp_path / "dest" / "data.bin.part").exists()


def test_interrupted_download_leaves_no_final_file_and_resumes(tmp_path):
    remote = RemoteFile("big.bin", "https://example.invalid/big.bin", md5(PAYLOAD), unpack=False)
    dest = tmp_path / "dest"
    with pytest.raises(ConnectionResetError):
        download("fsd50k", dest, files=[remote],
                 opener=lambda req: FakeResponse(PAYLOAD, fail_after=300_000))
    assert not (dest / "big.bin").exists()
    assert (dest / "big.bin.part").stat().st_size == 300_000
    seen = []

    def resuming(req: urllib.request.Request):
        seen.append(req.get_header("Range"))
        start = int(req.get_header("Range").split("=")[1].rstrip("-"))
        return FakeResponse(PAYLOAD[start:], status=206)

    download("fsd50k", dest, files=[remote], opener=resuming)
    assert seen == ["bytes=300000-"]
    assert (dest / "big.bin").read_bytes() == PAYLOAD and is_verified(dest, remote)


def test_server_ignoring_range_restarts_the_file(tmp_path):
    remote = RemoteFile("f.bin", "https://example.invalid/f.bin", md5(PAYLOAD), unpack=False)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "f.bin.part").write_bytes(b"garbage from an older attempt")
    download("fsd50k", dest, files=[remote], opener=lambda req: FakeResponse(PAYLOAD, status=200))
    assert (dest / "f.bin").read_bytes() == PAYLOAD


def test_unknown_checksum_is_never_reported_verified(tmp_path, capsys):
    remote = RemoteFile("x.bin", served(tmp_path, "x.bin", PAYLOAD), None, unpack=False)
    download("dcase2023_t7", tmp_path / "dest", files=[remote])
    assert (tmp_path / "dest" / "x.bin").read_bytes() == PAYLOAD
    assert not is_verified(tmp_path / "dest", remote)
    out = capsys.readouterr().out
    assert "UNVERIFIED" in out and md5(PAYLOAD) in out


def test_archives_are_unpacked(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("FSD50K.ground_truth/dev.csv", "fname,labels,mids,split\n")
    zdata = buf.getvalue()
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as tf:
        info = tarfile.TarInfo("DCASE_2023_Challenge_Task_7_Dataset/dev/Rain/000.wav")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"RIFF"))
    tdata = tbuf.getvalue()
    dest = tmp_path / "dest"
    download("fsd50k", dest, files=[RemoteFile("gt.zip", served(tmp_path, "gt.zip", zdata),
                                               md5(zdata))])
    assert (dest / "FSD50K.ground_truth" / "dev.csv").read_text().startswith("fname,labels")
    root = download("dcase2023_t7", dest, files=[RemoteFile(
        "d.tar.gz", served(tmp_path, "d.tar.gz", tdata), md5(tdata))])
    assert root == dest / "DCASE_2023_Challenge_Task_7_Dataset"
    assert (root / "dev" / "Rain" / "000.wav").read_bytes() == b"RIFF"


def test_split_zip_needs_info_zip(tmp_path, monkeypatch):
    dest = tmp_path / "dest"
    dest.mkdir()
    for name in ("a.z01", "a.zip"):
        (dest / name).write_bytes(b"x")
    remote = RemoteFile("a.zip", "https://example.invalid/a.zip", None, split_parts=("a.z01",))
    monkeypatch.setattr(dl.shutil, "which", lambda cmd: None)
    with pytest.raises(DownloadError, match=r"split zip.*zip -s 0 a.zip --out a.unsplit.zip"):
        dl.extract(remote, dest)
    (dest / "a.z01").unlink()
    with pytest.raises(DownloadError, match=r"missing parts: a.z01"):
        dl.extract(remote, dest)


def test_split_zip_is_joined_with_zip_then_unpacked(tmp_path, monkeypatch):
    dest = tmp_path / "dest"
    dest.mkdir()
    for name in ("a.z01", "a.zip"):
        (dest / name).write_bytes(b"part")
    calls = []

    def fake_zip(cmd, **kw):            # stands in for Info-ZIP: writes the joined archive
        calls.append(cmd)
        with zipfile.ZipFile(cmd[-1], "w") as zf:
            zf.writestr("FSD50K.dev_audio/1.wav", b"RIFF")
        return type("R", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(dl.shutil, "which", lambda cmd: "/usr/bin/zip")
    remote = RemoteFile("a.zip", "https://example.invalid/a.zip", None, split_parts=("a.z01",))
    dl.extract(remote, dest, runner=fake_zip)
    assert calls == [["/usr/bin/zip", "-s", "0", str(dest / "a.zip"), "--out",
                      str(dest / "a.unsplit.zip")]]
    assert (dest / "FSD50K.dev_audio" / "1.wav").read_bytes() == b"RIFF"
    assert not (dest / "a.unsplit.zip").exists()


def test_download_tables():
    assert set(DATASETS) == {"freesound_oneshot", "fsd50k", "dcase2023_t7"}
    for spec in DATASETS.values():
        for f in spec.files:
            assert f.url == f"https://zenodo.org/records/{f.url.split('/')[4]}/files/{f.name}?download=1"
            assert f.md5 is None or len(f.md5) == 32
    fsd = {f.name: f for f in DATASETS["fsd50k"].files}
    assert fsd["FSD50K.dev_audio.zip"].split_parts == tuple(f"FSD50K.dev_audio.z0{i}" for i in range(1, 6))
    with pytest.raises(ValueError, match="known: dcase2023_t7, freesound_oneshot, fsd50k"):
        download("nsynth", Path("/tmp/x"))
    with pytest.raises(ValueError, match="no file 'nope.zip'"):
        download("fsd50k", Path("/tmp/x"), files=["nope.zip"])
