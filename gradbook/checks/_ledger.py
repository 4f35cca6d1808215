"""The ledger: every check run, under the claim id it verifies, and each claim's status."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

from ._catalog import KINDS, Catalog, Claim, load_catalog

VERIFIED, FAILED, EXPECTED_FAILURE = "verified", "failed", "expected-failure"
# The MIME type under which a notebook's ledger (and, on failure, the failed claim) travels
# from the kernel to the build, as structured output.
LEDGER_MIME = "application/vnd.gradbook.ledger+json"


def holds(status: str) -> bool:
    """Whether a claim with this status is as the catalog says (verified, or a shown erratum)."""
    return status in (VERIFIED, EXPECTED_FAILURE)


class ClaimFailed(AssertionError):
    """A check found that a claim does not hold; the message says what differed."""

    def __init__(self, claim: str, kind: str, message: str):
        super().__init__(f"claim {claim} [{kind}] failed: {message}")
        self.claim, self.kind, self.message = claim, kind, message


@dataclass(frozen=True)
class Check:
    """One check of one claim: its kind, whether it passed, and a one-line account."""

    claim: str
    kind: str
    passed: bool
    detail: str
    expected_failure: bool = False

    def to_json(self) -> dict:
        out = {"kind": self.kind, "passed": self.passed, "detail": self.detail}
        if self.expected_failure:
            out["expected_failure"] = True
        return out


class Ledger:
    """Collects checks in the order they run and reports one status per claim."""

    def __init__(self, catalog: Catalog | None = None):
        self.catalog = catalog or load_catalog()
        self.checks: list[Check] = []
        self.declared: list[str] = []
        self.defined: list[Claim] = []  # claims a derivation declared itself

    def define(self, claim: Claim) -> None:
        """Add a derivation's own claim, which is then treated like a catalog claim."""
        self.catalog = self.catalog.extended([claim])
        if claim not in self.defined:
            self.defined.append(claim)

    def defined_json(self, claim_ids=None) -> list[dict]:
        """The derivation's own claims (those among `claim_ids`, if given), as catalog entries."""
        return [c.to_json() for c in self.defined if claim_ids is None or c.id in claim_ids]

    def declare(self, claim_ids) -> None:
        """Note the claims a notebook promises to verify (so a forgotten one shows up)."""
        for claim_id in claim_ids:
            self.catalog[claim_id]  # unknown ids fail here, with a suggestion
            if claim_id not in self.declared:
                self.declared.append(claim_id)

    def record(self, claim: str, kind: str, passed: bool, detail: str,
               expected_failure: bool = False) -> Check:
        """Add one check and return it when it gave the expected result; otherwise fail()."""
        entry = self.catalog[claim]
        if kind not in KINDS:
            raise ValueError(f"unknown check kind {kind!r}; kinds are {', '.join(KINDS)}")
        if expected_failure and not entry.expected_failure:
            raise ValueError(
                f"claim {claim} is not marked as an erratum in the catalog; "
                "only a documented erratum may be recorded as an expected failure"
            )
        check = Check(claim, kind, bool(passed), detail, expected_failure)
        self.checks.append(check)
        if expected_failure and passed:
            self._raise(claim, kind, f"expected to fail (a documented erratum) but passed: {detail}")
        if not expected_failure and not passed:
            self._raise(claim, kind, detail)
        return check

    def fail(self, claim: str, kind: str, detail: str) -> NoReturn:
        """Record a failed check of `claim` and stop: raises ClaimFailed."""
        self.record(claim, kind, False, detail)
        raise AssertionError("unreachable: record() raises for a failed check")

    def _raise(self, claim: str, kind: str, detail: str) -> NoReturn:
        if self is _notebook_ledger:  # not a scratch ledger, whose failures rejects() expects
            announce_failure(self, claim, kind)
        raise ClaimFailed(claim, kind, detail)

    def load(self, claim: str, checks: list[dict]) -> None:
        """Add checks already run elsewhere (a notebook's ledger output), without judging them."""
        self.catalog[claim]
        for c in checks:
            self.checks.append(Check(claim, c["kind"], c["passed"], c["detail"],
                                     c.get("expected_failure", False)))

    def claim_ids(self) -> list[str]:
        """Declared claims first, then any others checked, each once."""
        seen = list(self.declared)
        seen += [c.claim for c in self.checks if c.claim not in seen]
        return list(dict.fromkeys(seen))

    def entry(self, claim_id: str) -> dict:
        """The ledger record of one claim: id, source, status, checks (and why, if failed)."""
        claim = self.catalog[claim_id]
        checks = [c for c in self.checks if c.claim == claim_id]
        missing = [k for k in claim.kinds if k not in {c.kind for c in checks}]
        wrong = [c for c in checks if c.passed == c.expected_failure]
        status, reason = VERIFIED, None
        if not checks:
            status, reason = FAILED, "no check was run"
        elif wrong:
            status, reason = FAILED, f"{len(wrong)} check(s) did not give the expected result"
        elif missing:
            status, reason = FAILED, f"kinds not checked: {', '.join(missing)}"
        elif claim.expected_failure:
            if any(c.expected_failure for c in checks):
                status = EXPECTED_FAILURE
            else:
                status, reason = FAILED, "the erratum was never shown to be rejected"
        out = {"id": claim_id, "source": self.catalog.cite(claim_id), "status": status}
        if reason:
            out["reason"] = reason
        out["checks"] = [c.to_json() for c in checks]
        return out

    def to_json(self) -> dict:
        """The whole ledger as the JSON document the build writes."""
        out = {"claims": [self.entry(cid) for cid in self.claim_ids()]}
        if self.defined:
            out["defined"] = self.defined_json()
        return out


_active: Ledger | None = None
_notebook_ledger: Ledger | None = None  # the one a notebook's own checks record into


def active_ledger() -> Ledger:
    """The ledger that checks record into (one per notebook or script run)."""
    global _active, _notebook_ledger
    if _active is None:
        _active = _notebook_ledger = Ledger()
    return _active


@contextmanager
def use_ledger(ledger: Ledger):
    """Record into `ledger` for the duration of the block (tests use a fresh one)."""
    global _active
    previous, _active = _active, ledger
    try:
        yield ledger
    finally:
        _active = previous


def record(claim: str, kind: str, passed: bool, detail: str, expected_failure: bool = False) -> Check:
    """Record a check in the active ledger; it raises ClaimFailed unless the result is as expected."""
    return active_ledger().record(claim, kind, passed, detail, expected_failure)


def fail(claim: str, kind: str, detail: str) -> NoReturn:
    """Record a failed check of `claim` in the active ledger and raise ClaimFailed."""
    active_ledger().fail(claim, kind, detail)


def announce_failure(ledger: Ledger, claim: str, kind: str) -> None:
    """In a notebook, tell the build which claim failed, as structured output (not a message)."""
    from .._display import in_notebook

    if in_notebook():
        from IPython.display import display

        data = {"declared": list(ledger.declared), "failed": [claim], "failed_kind": kind}
        if ledger.defined:
            data["defined"] = ledger.defined_json()
        display({LEDGER_MIME: data, "text/plain": ""}, raw=True)
