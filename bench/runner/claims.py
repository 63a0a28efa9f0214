"""One job at a time per run directory: an exclusive lock on ``<run_dir>/claim.lock``.

Parallel jobs (joblib, submitit, two ``drumbench`` commands on one runs folder) may be handed the
same signature; the claim makes the second wait until the first lets go, then it re-reads
``run.json`` and finds the run complete (skipped) or resumable. The lock is ``flock``: the kernel
releases it when the holder dies, SIGKILL included, so a crashed job never leaves a claim that
needs a stale rule. The file stays (deleting a lock file lets two processes lock two different
files of the same name); it holds the holder's pid, host and start time for the waiting job's
message. On a shared cluster filesystem ``flock`` needs lock support (NFSv4, Lustre mounted with
``flock``), as any file lock does.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.runner.provenance import now

log = logging.getLogger("drumbench")
CLAIM_FILE = "claim.lock"


def holder(run_dir: Path) -> dict | None:
    """What the claim file says about its last holder (None if unreadable or never claimed)."""
    try:
        return json.loads((Path(run_dir) / CLAIM_FILE).read_text() or "null")
    except (OSError, ValueError):
        return None


@contextmanager
def claim(run_dir: Path, *, poll_s: float = 0.5) -> Iterator[dict]:
    """Hold the run's claim for the ``with`` body, waiting while another job holds it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / CLAIM_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.info("waiting: %s is claimed by %s", run_dir, holder(run_dir))
                    waited = True
                time.sleep(poll_s)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": now(), "waited": waited}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield me
    finally:
        os.close(fd)  # releases the lock
