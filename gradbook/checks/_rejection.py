"""Showing that a wrong formula is rejected: the checks' own ability to fail, on the page."""
from __future__ import annotations

from contextlib import contextmanager

from .._display import Result
from ._ledger import ClaimFailed, Ledger, active_ledger, fail, record, use_ledger


@contextmanager
def rejects(claim: str, wrong: str):
    """Run the checks in the block against a deliberately wrong formula; they must fail.

    The block's own checks go to a scratch ledger. When one of them fails, `claim` records a
    passing check of the same kind saying which mistake was caught and how; when none fails,
    `claim` records a failure, because a check that cannot see the mistake is no check.
    """
    scratch = Ledger(active_ledger().catalog)
    try:
        with use_ledger(scratch):
            yield
    except ClaimFailed as caught:
        reason = caught.message.splitlines()[0]
        Rejection([record(claim, caught.kind, True, f"{wrong}: rejected, {reason}")])
        return
    kind = scratch.checks[0].kind if scratch.checks else "jax"
    fail(claim, kind, f"{wrong}: the checks accepted it, so they cannot see this mistake")


class Rejection(Result):
    """A wrong formula caught: marked ✗ on the page (the mistake was rejected, as it should be),
    never with the ✓ of a claim that holds; the ledger records the check as passing."""

    def _lines(self):
        for c in self.checks:
            yield "✗ rejected as expected:", c
