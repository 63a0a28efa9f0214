"""End to end: data → fit → generate → score → files on disk, resume, failure, re-run a stage."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.api.results import MetricRecord
from bench.data.build import load_datamodule
from bench.io_atomic import read_jsonl
from bench.runner.app import compose
from bench.runner.experiment import RunFailed, run_experiment
from bench.runner.stages import read_samples
from tests.integration.conftest import smoke_overrides

ROOT = Path(__file__).resolve().parents[2]


def test_reference_runs_write_the_documented_files(reference_runs):
    for name, record in reference_runs.items():
        run_dir = Path(record["run_dir"])
        assert record["status"] == "ok"
        smoke = f"smoke@{record['protocol']['version']}"
        assert run_dir.parts[-5:] == (smoke, "synthkit_smoke", f"{name}@1", record["signature"], "seed0")
        run = json.loads((run_dir / "run.json").read_text())
        assert {s: run["stages"][s]["status"] for s in ("fit", "generate", "score")} == \
            {"fit": "ok", "generate": "ok", "score": "ok"}
        assert run["baseline"]["reference"] is True
        assert run["provenance"]["packages"]["torch"].startswith("2.9")
        rows = read_jsonl(run_dir / "samples" / "manifest.jsonl")
        classes = run["dataset"]["classes"]
        assert len(rows) == 6 * len(classes)  # clips_per_class in the smoke protocol
        audio, sr = sf.read(run_dir / "samples" / rows[0]["path"])
        assert sr == 8000 and audio.shape == (4000,)
        for metric in ("fad_mfcc", "kad_mel", "latency_ms", "params"):
            rec = MetricRecord.from_json(json.loads((run_dir / "metrics" / f"{metric}.json").read_text()))
            assert rec.status == "ok", (metric, rec.reason)


def test_samples_are_stored_exactly_as_generated(smoke_workspace, reference_runs):
    """`real` returns training clips; read back from disk they are those clips, bit for bit
    (float WAV), so scoring sees what the baseline produced and memorisation finds the copies."""
    cfg = compose(smoke_overrides(smoke_workspace, "baseline=real"))
    train = load_datamodule(cfg.dataset, cfg.protocol, Path(cfg.data_dir)).train.audio[:, 0].numpy()
    run_dir = Path(reference_runs["real"]["run_dir"])
    samples, _ = read_samples(run_dir)
    assert sf.info(str(next((run_dir / "samples").rglob("*.wav")))).subtype == "FLOAT"
    matches = [np.any(np.all(train == clip, axis=1)) for clip in samples]
    assert all(matches), \
        f"{matches.count(False)} of {len(matches)} real samples differ from every training clip"


def test_real_scores_better_than_noise_on_fad(reference_runs):
    def fad(name):
        path = Path(reference_runs[name]["run_dir"]) / "metrics" / "fad_mfcc.json"
        return json.loads(path.read_text())["value"]
    assert fad("real") < fad("noise")


def test_second_run_is_skipped_as_complete(smoke_workspace, reference_runs, caplog):
    run_json = Path(reference_runs["noise"]["run_dir"]) / "run.json"
    before = run_json.stat().st_mtime_ns
    with caplog.at_level("INFO", logger="drumbench"):
        run_experiment(compose(smoke_overrides(smoke_workspace, "baseline=noise")))
    assert "complete, skipping" in caplog.text
    assert run_json.stat().st_mtime_ns == before


def test_score_stage_reruns_from_samples_alone(smoke_workspace, reference_runs):
    run_dir = Path(reference_runs["real"]["run_dir"])
    metric_file = run_dir / "metrics" / "kad_mel.json"
    metric_file.unlink()
    record = run_experiment(compose(smoke_overrides(smoke_workspace, "baseline=real", "stage=score")))
    assert record["status"] == "ok"
    assert json.loads(metric_file.read_text())["status"] == "ok"


def test_failing_stage_writes_failed_status_and_traceback(tmp_path):
    with pytest.raises(RunFailed):
        run_experiment(compose(smoke_overrides(tmp_path, "baseline=noise", "debug=fail_fit")))
    run = json.loads(next((tmp_path / "runs").rglob("run.json")).read_text())
    assert run["status"] == "failed"
    assert run["error"]["stage"] == "fit"
    assert "injected failure" in run["error"]["traceback"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_cli_wrong_baseline_names_the_choices(tmp_path):
    out = _cli("run", "baseline=vea", *smoke_overrides(tmp_path), cwd=ROOT)
    assert out.returncode != 0
    assert "vae" in out.stderr and "noise" in out.stderr


def test_cli_typo_in_protocol_key_names_the_key(tmp_path):
    out = _cli("run", "protocol.sample_rat=8000", *smoke_overrides(tmp_path), cwd=ROOT)
    assert out.returncode != 0
    assert "sample_rat" in out.stderr


def test_cli_failed_run_exits_non_zero(tmp_path):
    out = _cli("run", "baseline=noise", "debug=fail_fit", *smoke_overrides(tmp_path), cwd=ROOT)
    assert out.returncode != 0


def test_cli_multirun_sweeps_baselines_and_seeds(smoke_workspace, reference_runs):
    out = _cli("run", "-m", "baseline=real,noise", "seed=0,1", *smoke_overrides(smoke_workspace),
               cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    found = {(p.parents[2].name, p.parent.name)
             for p in (smoke_workspace / "runs").glob("smoke@*/**/run.json")}
    assert {("real@1", "seed0"), ("real@1", "seed1"), ("noise@1", "seed0"), ("noise@1", "seed1")} <= found
