"""A block of the grader's own work cut short after so many seconds, of CPU (a proof) or wall time.

The error is not raised from the signal handler itself: a handler runs wherever the main thread
happens to be, and an exception raised there can land in a garbage-collector callback (where
Python prints "Exception ignored" and drops it, so the proof ran on for minutes) or between a
lock's acquire and its release inside JAX. Instead the handler arms a profile hook that raises
at the next call of a plain function (not a generator) of our own code, SymPy's or mpmath's: a
clean point between two calls. The timer is re-armed every few milliseconds until the block ends, so an error that is
lost anyway is raised again; a block that makes no such call for a second (a bare loop) gets the
error from the handler itself, as the last resort.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import signal
import sys
import threading

_RETRY = 0.05  # seconds between two attempts to raise, should one be swallowed
_GRACE = 20  # attempts (1 s) after which the handler raises itself: the block makes no calls
_PACKAGES = ("gradbook", "sympy", "mpmath")
# A generator's frame is entered again when it is closed, and Python drops (and prints) an
# error raised there: not a place to raise.
_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _roots() -> tuple[str, ...]:
    """The folders whose functions are safe places to raise the error: ours, SymPy's, mpmath's."""
    roots = []
    for name in _PACKAGES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            roots.append(os.path.dirname(module.__file__) + os.sep)
    return tuple(roots)


@contextlib.contextmanager
def time_limit(seconds: float | None, error: type[BaseException], *, cpu: bool):
    """Raise `error` in the block after `seconds` (CPU time when `cpu`, so that a loaded machine
    does not change a verdict's wording; wall time otherwise); in the main thread only."""
    if seconds is None or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    timer, signum = (signal.ITIMER_VIRTUAL, signal.SIGVTALRM) if cpu else (signal.ITIMER_REAL, signal.SIGALRM)
    roots = _roots()
    profile = sys.getprofile()

    def raise_at_next_call(frame, event, arg):
        where = frame.f_code.co_filename
        if event == "call" and where.startswith(roots) and where != __file__ and \
                not frame.f_code.co_flags & _RESUMABLE:
            sys.setprofile(profile)
            raise error()

    attempts = 0

    def expire(signum, frame):
        nonlocal attempts
        attempts += 1
        if attempts > _GRACE:  # a loop that calls nothing of ours: only the handler can stop it
            raise error()
        sys.setprofile(raise_at_next_call)
        signal.setitimer(timer, _RETRY)

    previous = signal.signal(signum, expire)
    signal.setitimer(timer, seconds)
    try:
        yield
    finally:
        signal.setitimer(timer, 0)
        signal.signal(signum, previous)
        sys.setprofile(profile)
