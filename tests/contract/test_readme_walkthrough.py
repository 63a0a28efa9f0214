"""README "Adding a baseline from your own package", run as written: scaffold → pip install -e →
validate → run (smoke) → report, then the suite with that one baseline; no search-path override."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.contract.plugin_env import plugin_env, sh

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    m = re.search(r"<!-- walkthrough:begin -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->",
                  text, re.S)
    assert m, "README.md has no walkthrough block between its markers"
    return m.group(1)


def test_walkthrough_is_five_commands_without_a_search_path_override():
    commands = [line for line in walkthrough().splitlines() if line.strip()]
    assert [c.split()[0] for c in commands] == ["drumbench", "pip", "drumbench", "drumbench",
                                                "drumbench"]
    assert "searchpath" not in walkthrough()


@pytest.mark.slow
def test_readme_walkthrough_runs_verbatim(tmp_path):
    env = plugin_env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    done = sh(walkthrough(), work, env)
    assert done.returncode == 0, done.stdout[-4000:]
    assert re.search(r"conformance mydrum: \d+ checks passed, 0 checks failed", done.stdout), \
        done.stdout[-3000:]
    assert (tmp_path / "site" / "mydrum-0.1.0.dist-info" / "entry_points.txt").exists()
    runs = list((work / "runs").glob("smoke@*/synthkit_smoke/mydrum@*/*/seed0/run.json"))
    assert len(runs) == 1, done.stdout[-3000:]
    index = (work / "reports" / "mine" / "index.html").read_text()
    assert "mydrum" in index
    # the suite with that one baseline reuses the complete run and reports it
    suite = sh("drumbench suite --baselines mydrum protocol=smoke dataset=synthkit_smoke "
               "--report reports/suite", work, env)
    assert suite.returncode == 0, suite.stdout[-4000:]
    assert "mydrum" in (work / "reports" / "suite" / "index.html").read_text()
    assert len(list((work / "runs").glob("smoke@*/synthkit_smoke/mydrum@*/*/seed0/run.json"))) == 1
