"""The `hydrogen` source end to end on the kits of Debian's hydrogen-data (installed by CI)."""
from __future__ import annotations

import json
from pathlib import Path

from bench.data.build import prepare_manifest
from bench.runner.app import compose
from bench.runner.experiment import run_experiment
from tests.integration.conftest import smoke_overrides

KITS = "dataset.kits=[GMRockKit,TR808EmulationKit]"


def test_hydrogen_manifest_and_reference_runs_score(tmp_path):
    cfg = compose(smoke_overrides(tmp_path, "dataset=hydrogen", KITS))
    manifest = prepare_manifest(cfg.dataset, Path(cfg.data_dir))
    assert len(manifest.entries) >= 100
    assert {"kick", "snare", "closed_hihat", "tom", "cymbal"} <= set(manifest.classes)
    values = {}
    for name in ("real", "noise"):
        record = run_experiment(compose(smoke_overrides(
            tmp_path, "dataset=hydrogen", KITS, f"baseline={name}",
            "protocol.metrics=[kad:mel,kad:mfcc,latency]")))
        assert record["status"] == "ok"
        metrics = Path(record["run_dir"]) / "metrics"
        values[name] = {m: json.loads((metrics / f"{m}.json").read_text()) for m in ("kad_mel", "kad_mfcc")}
        assert all(v["status"] == "ok" for v in values[name].values()), values[name]
    for m in ("kad_mel", "kad_mfcc"):
        assert values["real"][m]["value"] < values["noise"][m]["value"], m
