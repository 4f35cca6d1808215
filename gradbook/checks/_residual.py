"""Residuals on the page: the one way gradbook writes a float64 rounding figure, and its mask.

A residual (how far two float64 computations of one number differ, and the bound it is held
to) is rounding noise: its digits change with the instructions XLA picks for the processor
(`XLA_FLAGS=--xla_cpu_max_isa=SSE4_2` moves them). Every such figure is written by
`residual()`, in one fixed form, so that the freshness check (gradbook/build/_fresh.py) can
recognise exactly these spans and compare them by what they assert (the figure is within its
bound, or above its threshold) instead of digit by digit. Everything else on the page is
compared byte for byte.
"""
from __future__ import annotations

import re

_NUMBER = r"[0-9]\.[0-9]e[+-][0-9]{2,3}"
# "largest |Δ| 4.4e-16, allowed 2.3e-10" or "largest relative error 4.1e-02, above 1.0e-04"
RESIDUAL = re.compile(rf"(?P<extreme>largest|smallest) (?P<measure>[^,;\n]{{1,80}}?) (?P<value>{_NUMBER}), "
                      rf"(?P<relation>allowed|above) (?P<limit>{_NUMBER})")


def residual(value: float, limit: float, measure: str = "|Δ|", *, above: bool = False,
             extreme: str = "largest") -> str:
    """'largest {measure} {value}, allowed {limit}' (or 'above {limit}' for a figure that
    must exceed a threshold): the printed form of a rounding figure and what it is held to."""
    text = f"{extreme} {measure} {float(value):.1e}, {'above' if above else 'allowed'} {float(limit):.1e}"
    if RESIDUAL.fullmatch(text) is None:  # a measure with a comma, say: it could not be masked
        raise ValueError(f"cannot write a residual for measure {measure!r}")
    return text


def mask_residuals(text: str) -> str:
    """`text` with every residual that holds what it asserts replaced by its measure alone.

    A residual that does not hold (a figure over its bound) is left as written, so that it
    still differs from a build in which it held.
    """
    def mask(match: re.Match) -> str:
        value, limit = float(match["value"]), float(match["limit"])
        holds = value <= limit if match["relation"] == "allowed" else value > limit
        return f"{match['extreme']} {match['measure']} ~, {match['relation']} ~" if holds else match.group(0)

    return RESIDUAL.sub(mask, text)
