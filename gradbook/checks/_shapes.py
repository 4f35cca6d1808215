"""Shape checks: the shapes a document states, held against the shapes actually computed."""
from __future__ import annotations

from .._display import Result
from ._ledger import record


def check_shape(claim: str, label: str, value, expected, *, erratum: bool = False) -> Result:
    """Check that a computed value has the shape a document states.

    claim: the claim id the check is recorded under.
    label: what the value is, for the report.
    value: the computed value (an array or a SymPy matrix), or its shape as a tuple.
    expected: the shape the text states.
    erratum: the stated shape is a documented misprint; the check is then recorded as an
        expected failure, and it is an error if the shape does hold.
    """
    got = tuple(value.shape) if hasattr(value, "shape") else tuple(value)
    expected = tuple(expected)
    passed = got == expected
    if passed:
        detail = f"{label} has shape {_fmt(got)}, as stated"
    else:
        detail = f"{label} has shape {_fmt(got)}, but the text states {_fmt(expected)}"
    return Result([record(claim, "shape", passed, detail, expected_failure=erratum)])


def _fmt(shape) -> str:
    return "(" + " × ".join(str(d) for d in shape) + ")" if shape else "() (a scalar)"
