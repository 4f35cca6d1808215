"""A notebook's opening list of claims and its closing ledger table."""
from __future__ import annotations

from .._display import in_notebook, show
from ._catalog import Claim
from ._ledger import EXPECTED_FAILURE, LEDGER_MIME, VERIFIED, active_ledger, holds

_MARK = {VERIFIED: "✓ verified", EXPECTED_FAILURE: "✓ rejected as printed (erratum)"}


class LedgerIncomplete(AssertionError):
    """A notebook ended with a claim that is not verified (never checked, or a kind missing)."""


class _Table:
    def __init__(self, markdown: str, text: str, data: dict | None = None):
        self.markdown, self.text, self.data = markdown, text, data

    def _repr_markdown_(self):
        return self.markdown

    def __repr__(self):
        return self.text

    def _ipython_display_(self):
        from IPython.display import display

        bundle = {"text/markdown": self.markdown, "text/plain": self.text}
        if self.data is not None:
            bundle[LEDGER_MIME] = self.data
        display(bundle, raw=True)


def declare_claim(claim_id: str, *, source: str, states: str,
                  kinds=("sym", "jax", "fd"), erratum: bool = False, because: str = "") -> None:
    """Declare a claim of the derivation's own (no catalog edit): id, source, what it states.

    source: where the result comes from, as it should be cited ("My textbook, §3.2").
    kinds: the kinds of check that must all pass for it to count as verified.
    erratum: the source states it wrongly; its checks must fail, and `because` says why.
    """
    if erratum and not because:
        raise ValueError(f"claim {claim_id}: an erratum needs because='why the source is wrong'")
    active_ledger().define(Claim.from_json(
        {"id": claim_id, "doc": "", "section": "", "claim": states, "kinds": list(kinds),
         "expected_failure": erratum, "note": because, "source": source}))


def verifies(*claim_ids: str) -> None:
    """Open a notebook: list the catalog claims it verifies, with their sources."""
    ledger = active_ledger()
    ledger.declare(claim_ids)
    rows = ["| claim | source | what it states | checked by |", "|---|---|---|---|"]
    for cid in claim_ids:
        c = ledger.catalog[cid]
        rows.append(f"| `{cid}` | {ledger.catalog.cite(cid)} | {_cell(c.claim)} | "
                    f"{', '.join(c.kinds)} |")
    data = {"declared": list(claim_ids)}
    own = ledger.defined_json(claim_ids)
    if own:
        data["defined"] = own
    show(_Table("\n".join(rows), f"verifies: {', '.join(claim_ids)}", data))


def summary() -> None:
    """Close a notebook: the table of its claims and checks; fails if any claim is unverified."""
    ledger = active_ledger()
    data = ledger.to_json()
    rows = ["| claim | status | checks |", "|---|---|---|"]
    text = []
    for entry in data["claims"]:
        status = _MARK.get(entry["status"], f"✗ {entry['status']}: {entry.get('reason', '')}")
        kinds = _tally(entry["checks"])
        rows.append(f"| `{entry['id']}` | {status} | {kinds} |")
        text.append(f"{entry['id']:<24} {status:<34} {kinds}")
    if in_notebook():
        show(_Table("\n".join(rows), "\n".join(text), data))
    else:
        print("\n".join(text))
    bad = [e for e in data["claims"] if not holds(e["status"])]
    if bad:
        raise LedgerIncomplete("; ".join(f"{e['id']}: {e.get('reason', e['status'])}" for e in bad))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _tally(checks) -> str:
    """'sym ✓×6, jax ✓, fd ✓': each kind once, with how many checks of it gave their result."""
    counts: dict[str, list[int]] = {}
    for c in checks:
        good = c["passed"] != c.get("expected_failure", False)
        counts.setdefault(c["kind"], [0, 0])[0 if good else 1] += 1
    parts = []
    for kind, (good, bad) in counts.items():
        marks = [f"✓×{good}" if good > 1 else "✓"] if good else []
        marks += [f"✗×{bad}" if bad > 1 else "✗"] if bad else []
        parts.append(f"{kind} {' '.join(marks)}")
    return ", ".join(parts)
