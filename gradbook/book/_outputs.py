"""A code cell's outputs as the notebook has them: check lines, figures, tables, text."""
from __future__ import annotations

import base64
import hashlib
import html
import re

from ..checks._ledger import LEDGER_MIME
from ._markdown import Found, Markdown, formula_error
from ._math import MathError, to_mathml

# The first of these an output carries is what the page shows (SVG before a PNG of the same).
SHOWN = ("image/svg+xml", "image/png", "image/jpeg", "text/markdown", "text/latex", "text/plain")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SVG_TEXT = re.compile(r"<text\b[^>]*>([^<]*)</text>")


class Figures:
    """The image files a build writes, named by a hash of their bytes (so identical twice)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def add(self, data: bytes, suffix: str) -> str:
        name = f"figures/{hashlib.sha256(data).hexdigest()[:20]}.{suffix}"
        self.files[name] = data
        return name


def render_outputs(outputs: list, markdown: Markdown, figures: Figures, where: str,
                   found: Found) -> str:
    """HTML for every output of a cell, in order."""
    return "".join(_output(o, markdown, figures, where, found) for o in outputs)


def _output(output: dict, markdown, figures, where, found) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        name = "stderr" if output.get("name") == "stderr" else "stdout"
        return f'<pre class="output stream {name}">{html.escape(_text(output.get("text")))}</pre>'
    if kind == "error":
        trace = _ANSI.sub("", "\n".join(output.get("traceback") or []))
        return f'<pre class="output error">{html.escape(trace)}</pre>'
    data = output.get("data") or {}
    mime = next((m for m in SHOWN if m in data), None)
    if mime is None:
        return ""
    value = _text(data[mime])
    if mime == "image/svg+xml":
        labels = (html.unescape(t).strip() for t in _SVG_TEXT.findall(value))
        alt = " ".join(label for label in labels if label)[:400] or "figure"  # a graph's labels
        src = figures.add(value.encode("utf-8"), "svg")
        return _figure(src, alt)
    if mime in ("image/png", "image/jpeg"):
        src = figures.add(base64.b64decode(value), "png" if mime == "image/png" else "jpg")
        return _figure(src, "figure")
    if mime == "text/markdown":
        classes = "output markdown" + (" claims-table" if LEDGER_MIME in data else "")
        return f'<div class="{classes}">{markdown.render(value, where, found)}</div>'
    if mime == "text/latex":
        tex = value.strip().strip("$").strip()
        tex = tex.removeprefix(r"\displaystyle").strip()
        found.formulas.append(tex)
        try:
            return f'<div class="output math block">{to_mathml(tex, True)}</div>'
        except MathError as error:
            raise formula_error(where, tex, error) from None
    text = _ANSI.sub("", value)
    return f'<pre class="output text">{html.escape(text)}</pre>' if text.strip() else ""


def _figure(src: str, alt: str) -> str:
    return f'<figure class="output"><img src="{src}" alt="{html.escape(alt)}"></figure>'


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")
