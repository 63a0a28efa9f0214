"""Fixtures of the report tests: the runs folder (one per source in ``RUNS_SOURCES``) and the
site built from it. See report_fixtures.py for how the runs are made."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.report_fixtures import RUNS_SOURCES


@pytest.fixture(scope="session", params=sorted(RUNS_SOURCES))
def report_runs_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return RUNS_SOURCES[request.param](tmp_path_factory.mktemp(f"runs-{request.param}"))


@pytest.fixture(scope="session")
def built_report(report_runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html of a report built from ``report_runs_dir``."""
    from bench.report.site import build_report

    return build_report(report_runs_dir, tmp_path_factory.mktemp("site") / "site",
                        title="drumbench test report")
