"""Real smoke runs shared by the integration tests (built once per session)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.runner.app import compose
from bench.runner.experiment import run_experiment


def smoke_overrides(tmp: Path, *extra: str) -> list[str]:
    return ["protocol=smoke", "dataset=synthkit_smoke", f"runs_dir={tmp / 'runs'}",
            f"data_dir={tmp / 'data'}", f"cache_dir={tmp / 'cache'}", "device=cpu", *extra]


@pytest.fixture(scope="session")
def smoke_workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("smoke")


@pytest.fixture(scope="session")
def reference_runs(smoke_workspace) -> dict[str, dict]:
    """`real` and `noise` through fit → generate → score under the smoke protocol."""
    records = {}
    for name in ("real", "noise"):
        records[name] = run_experiment(compose(smoke_overrides(smoke_workspace, f"baseline={name}")))
    return records
