"""Printed numbers: a value a document prints holds to the precision it is printed with."""
from __future__ import annotations

from decimal import Decimal

import numpy as np

from .._display import Result
from ._ledger import record
from ._tolerance import half_unit


def check_printed(claim: str, label: str, computed, printed, *, erratum: bool = False) -> Result:
    """Check a number a document prints against the value computed here.

    claim: the claim id the check is recorded under.
    label: what the number is, for the report ("ŷ", "∂L/∂W").
    computed: the value computed here (a number or array, in float64).
    printed: the document's number as a string, or a nested list of them, so that trailing
        zeros keep their meaning; each entry passes when it is within half a unit of its last
        printed digit.
    erratum: the document prints this number wrongly (the claim must be a declared erratum);
        the check is recorded as an expected failure, and it is an error if the number holds.
    """
    printed_arr = np.asarray(printed, dtype=object)
    computed_arr = np.asarray(computed, dtype=np.float64)
    if printed_arr.shape != computed_arr.shape:
        detail = (f"{label}: printed shape {printed_arr.shape} but computed shape "
                  f"{computed_arr.shape}")
        return Result([record(claim, "num", False, detail, expected_failure=erratum)])
    worst = None
    for index in np.ndindex(printed_arr.shape):
        value, half = half_unit(printed_arr[index])
        got = float(computed_arr[index])
        off = abs(Decimal(got) - value)
        if worst is None or off / half > worst[0]:
            worst = (off / half, index, value, got, off, half)
    ratio, index, value, got, off, half = worst
    where = f"{label}{list(index) if index else ''}"
    passed = ratio <= 1
    if passed:
        detail = f"{label} = {_fmt(printed)} as printed (each within half a unit of its last digit)"
    else:
        detail = (f"{where}: printed {value} but computed {got:.10g}; off by {float(off):.3g}, "
                  f"more than half a unit in the last printed digit ({half})")
    return Result([record(claim, "num", passed, detail, expected_failure=erratum)])


def _fmt(printed) -> str:
    if isinstance(printed, (list, tuple)):
        return "[" + ", ".join(_fmt(p) for p in printed) + "]"
    return str(printed)
