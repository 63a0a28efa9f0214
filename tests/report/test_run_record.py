"""run.json has one writer and reader (RunRecord): the runner's, the fake runs' and the report's
copies of its schema cannot drift apart, and a file that does not fit names the file and key."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from bench.api.results import RunBaseline, RunDataset, RunFileError, RunRecord
from bench.io_atomic import read_jsonl
from bench.testing.fake_runs import FakeBaseline, fabricate_runs


def _record() -> RunRecord:
    return RunRecord(status="ok", signature="abc123", seed=1,
                     baseline=RunBaseline("vae", "2", ["sample"], variant_of=None),
                     protocol={"name": "quick", "version": 3},
                     dataset=RunDataset("synthkit", "ff00", ["kick"], {"train": 3}))


def test_a_record_survives_write_and_read(tmp_path: Path) -> None:
    rec = _record()
    path = rec.write(tmp_path)
    assert path == tmp_path / "run.json" and not list(tmp_path.glob(".*"))   # no temp file left
    back = RunRecord.read(path)
    assert back == rec and isinstance(back.baseline, RunBaseline) and back.dataset.classes == ["kick"]


@pytest.mark.parametrize("change,message", [
    (lambda r: r.pop("signature"), "missing key 'signature'"),
    (lambda r: r.update(seed="1"), "'seed' should be int, got str"),
    (lambda r: r.update(seed=True), "'seed' should be int, got bool"),
    (lambda r: r.update(colour="red"), "unknown key colour"),
    (lambda r: r["baseline"].update(refrence=True), "unknown key baseline.refrence"),
    (lambda r: r["baseline"].pop("version"), "missing key 'baseline.version'"),
    (lambda r: r["dataset"].update(classes="kick"), "'dataset.classes' should be list"),
    (lambda r: r.update(status="great"), "'status' is 'great'"),
    (lambda r: r["protocol"].pop("version"), "missing key protocol.version"),
    (lambda r: r.update(schema=7), "schema 7 is not supported"),
])
def test_a_bad_record_names_the_file_and_the_key(tmp_path: Path, change, message) -> None:
    row = _record().to_json()
    change(row)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(row))
    with pytest.raises(RunFileError, match=f"{path}: .*{message}" if "schema" not in message
                       else message):
        RunRecord.read(path)


def test_fake_runs_write_what_the_runner_writes(tmp_path: Path) -> None:
    """Same record class, same sample folders (``<id>-<class>/``), 32-bit float WAV, and real
    listening clips in the runner's own folder with its manifest."""
    fabricate_runs(tmp_path / "runs", baselines=[FakeBaseline("m", 0.3, 1.0)], seeds=(0,),
                   datasets={"ds": ["kick", "snare"]}, listen_root=tmp_path / "listen",
                   clips_per_class=1, clip_seconds=0.05, interp_paths=1, interp_steps=2)
    (run_json,) = (tmp_path / "runs").rglob("run.json")
    record = RunRecord.read(run_json)
    rows = read_jsonl(run_json.parent / "samples" / "manifest.jsonl")
    assert [r["path"] for r in rows] == ["00-kick/0000.wav", "01-snare/0000.wav"]
    assert {sf.info(str(run_json.parent / "samples" / r["path"])).subtype for r in rows} == {"FLOAT"}
    real = Path(record.real_samples)
    assert real.name.startswith(f"listen-{record.dataset.manifest_hash[:10]}-")
    assert read_jsonl(real / "manifest.jsonl")[0]["path"] == "00-kick/real_00.wav"
