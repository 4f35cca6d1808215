"""LaTeX to MathML at build time, with math-core: no JavaScript renderer, nothing fetched.

math-core writes MathML Core, the part of MathML that browsers lay out themselves (Chromium,
Firefox, Safari): alignment in `aligned` and `cases` is carried as CSS on the table cells, where
MathML 3 converters write `columnalign`, which browsers ignore.
"""
from __future__ import annotations

from functools import lru_cache

import math_core

# amsmath defines \substack as a centred subarray; math-core has subarray but not the shorthand.
MACROS = {"substack": r"\begin{subarray}{c}#1\end{subarray}"}


class MathError(ValueError):
    """A formula the converter cannot render; the message says which and why."""


@lru_cache(maxsize=None)
def _converter() -> math_core.LatexToMathML:
    return math_core.LatexToMathML(pretty_print="never", fancy_error=False, macros=MACROS)


@lru_cache(maxsize=None)
def to_mathml(tex: str, display: bool) -> str:
    """The MathML of one formula (display: a block; otherwise inline); MathError if it fails."""
    try:
        return _converter().convert_with_local_state(tex, displaystyle=display)
    except math_core.LatexError as error:
        raise MathError(_reason(str(error))) from None


def _reason(message: str) -> str:
    """math-core's message without its character offset ("12: Unknown command" -> the rest)."""
    head, sep, rest = message.strip().partition(": ")
    return rest if sep and head.replace(":", "").isdigit() else message.strip()
