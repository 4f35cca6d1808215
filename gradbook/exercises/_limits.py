"""A block of the grader's own work cut short after so many seconds, of CPU (a proof) or wall time."""
from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def time_limit(seconds: float | None, error: type[BaseException], *, cpu: bool):
    """Raise `error` in the block after `seconds` (CPU time when `cpu`, so that a loaded machine
    does not change a verdict's wording; wall time otherwise); in the main thread only."""
    if seconds is None or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    timer, signum = (signal.ITIMER_VIRTUAL, signal.SIGVTALRM) if cpu else (signal.ITIMER_REAL, signal.SIGALRM)

    def expire(signum, frame):
        raise error()

    previous = signal.signal(signum, expire)
    signal.setitimer(timer, seconds)
    try:
        yield
    finally:
        signal.setitimer(timer, 0)
        signal.signal(signum, previous)
