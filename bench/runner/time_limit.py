"""``run_timeout_s``: a run still going after its limit is stopped by an exception in the job.

Why inside the job and not the launcher's timeout (submitit's ``timeout_min``, SLURM's kill): the
exception reaches the run's stage handler, which writes ``failed`` and the reason to ``run.json``
and lets the sweep go on to the next run; a killed process records nothing, and with the basic
launcher the job *is* the suite's process. Every launcher runs jobs in a main thread (basic, joblib's
loky workers, submitit), where a ``SIGALRM`` timer raises the exception; that also interrupts
``time.sleep`` and other waits (a long C call, such as one big matrix product, finishes first).
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RunTimeout(Exception):
    """The run went past ``run_timeout_s``."""


@contextmanager
def time_limit(seconds: float, what: str = "run") -> Iterator[None]:
    """Raise :class:`RunTimeout` in this thread once ``seconds`` pass (0 or less: no limit)."""
    if seconds is None or seconds <= 0:
        yield
        return
    message = f"{what} exceeded run_timeout_s={seconds:g} s and was stopped"
    if threading.current_thread() is threading.main_thread():
        def on_alarm(signum, frame):
            raise RunTimeout(message)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    raise RuntimeError(f"run_timeout_s={seconds:g} needs the run in the main thread (a SIGALRM "
                       f"timer); this job runs in thread {threading.current_thread().name!r}. "
                       "Use a process-based launcher (basic, joblib, submitit) or run_timeout_s=0")
