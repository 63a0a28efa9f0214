"""A suite with baselines that raise, return NaN, return the wrong shape and sleep past the time
limit: each is `failed` with its reason (run.json, summary, report), the rest still run, and the
command exits non-zero."""
from __future__ import annotations

import json

import pytest

from tests.integration.sweep_helpers import PLUGIN_CONF, cli, sweep_overrides

BROKEN = {  # config name → (the stage that fails, words of the reason)
    "broken_raise": ("fit", "broken on purpose: fit raised"),
    "broken_nan": ("generate", "NaN/inf"),
    "broken_shape": ("generate", "expected shape"),
    "broken_sleep": ("fit", "exceeded run_timeout_s=6"),
}


@pytest.mark.slow
def test_broken_baselines_fail_alone_with_their_reasons(tmp_path, smoke_workspace):
    runs, site = tmp_path / "runs", tmp_path / "site"
    out = cli("suite", "--baselines", ",".join([*BROKEN, "noise"]), "--report", str(site),
              *sweep_overrides(runs, smoke_workspace, "run_timeout_s=6",
                               f"hydra.searchpath=[file://{PLUGIN_CONF}]"))
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    table = out.stdout[out.stdout.index("baseline  "):]
    assert "1 of 5 runs complete, 4 failed" in table
    for name, (stage, words) in BROKEN.items():
        row = next(line for line in table.splitlines() if line.startswith(name + " "))
        assert " failed " in row and f"{stage}: " in row and words in row, row
        record = json.loads(next(runs.glob(f"smoke@*/*/{name}@*/*/seed0/run.json")).read_text())
        assert record["status"] == "failed" and record["error"]["stage"] == stage
        assert words in record["error"]["message"]
        pages = [p.read_text() for p in (site / "baselines").glob("*.html")]
        assert any(words in page for page in pages), f"no baseline page gives {words!r}"  # the report
        run_dir = next(runs.glob(f"smoke@*/*/{name}@*/*/seed0"))
        assert words in (run_dir / "log.txt").read_text()  # and so does the run's own log
    noise = json.loads(next(runs.glob("smoke@*/*/noise@*/*/seed0/run.json")).read_text())
    assert noise["status"] == "ok"
    assert (site / "index.html").exists()
