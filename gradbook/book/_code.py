"""Code cells highlighted at build time with Pygments (CSS classes, no script)."""
from __future__ import annotations

from functools import lru_cache

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=1)
def _lexer() -> PythonLexer:
    return PythonLexer()


@lru_cache(maxsize=None)
def highlight_python(code: str) -> str:
    """The code as HTML spans, without the surrounding <pre> (cached: exercises repeat cells)."""
    return highlight(code, _lexer(), _FORMATTER)


def highlight_css() -> str:
    """The colours for the highlighted code, scoped to code cells."""
    return HtmlFormatter(style="default").get_style_defs(".source")
