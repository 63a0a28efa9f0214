"""Shared by the launcher, resume and failure-isolation tests: real `drumbench` processes."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_CONF = Path(__file__).resolve().parent / "plugin_conf"
FAST_METRICS = "protocol.metrics=[fad:mfcc,params]"   # the sweep machinery, not the metrics, is tested


def sweep_overrides(runs: Path, workspace: Path, *extra: str) -> list[str]:
    """Smoke protocol on the tiny synthkit; data and caches shared with the other integration tests."""
    return ["protocol=smoke", "dataset=synthkit_smoke", f"runs_dir={runs}",
            f"data_dir={workspace / 'data'}", f"cache_dir={workspace / 'cache'}", "device=cpu",
            FAST_METRICS, *extra]


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", *args]


def cli_env() -> dict[str, str]:
    return {**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1"}


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cli_command(*args), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=cli_env())


def wait_for(condition: Callable[[], object], timeout: float, what: str, proc=None) -> object:
    """Poll ``condition`` until it is truthy; fail naming ``what`` (and the process's exit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process exited ({proc.returncode}) before {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
