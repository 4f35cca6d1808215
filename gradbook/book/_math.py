"""LaTeX to MathML at build time, with math-core: no JavaScript renderer, nothing fetched.

math-core writes MathML Core, the part of MathML that browsers lay out themselves (Chromium,
Firefox, Safari): alignment in `aligned` and `cases` is carried as CSS on the table cells, where
MathML 3 converters write `columnalign`, which browsers ignore.
"""
from __future__ import annotations

from functools import lru_cache

import math_core

# What math-core lacks of the TeX that MathJax and KaTeX both read (gradbook/_mathcheck.py):
# \substack as amsmath defines it (a centred subarray), \mbox as text, and \widetilde as a
# tilde accent (not stretched over the whole argument).
MACROS = {"substack": r"\begin{subarray}{c}#1\end{subarray}", "mbox": r"\text{#1}",
          "widetilde": r"\tilde{#1}"}


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
