"""The runner has no import cycle: stages build baselines without importing the experiment."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ["bench.runner.experiment", "bench.runner.stages", "bench.runner.build_baseline"]


def _runtime_imports(path: Path) -> set[str]:
    """Modules ``path`` imports when it runs (anywhere but under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_stages_never_import_the_experiment() -> None:
    assert "bench.runner.experiment" not in _runtime_imports(ROOT / "bench/runner/stages.py")
    assert "bench.runner.experiment" not in _runtime_imports(ROOT / "bench/runner/build_baseline.py")


def test_runner_modules_import_in_each_order() -> None:
    """Each runner module imported first, in a fresh interpreter, then the others (the three
    interpreters run side by side: most of their time is importing torch)."""
    codes = ["; ".join(f"import {m}" for m in [first, *(m for m in RUNNER if m != first)])
             for first in RUNNER]
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for code in codes]
    for code, proc in zip(codes, procs):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{code} failed:\n{err[-2000:]}"
