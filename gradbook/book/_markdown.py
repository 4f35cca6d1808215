"""Markdown to HTML (markdown-it), with its math spans converted to MathML before anything else.

The dollarmath plugin parses `$…$` and `$$…$$` as math tokens, so Markdown never sees the
inside of a formula. Two things are added on the way: a code span that is a claim id links to
the claims page, and a paragraph that starts with ✓ or ✗ and names a claim is a check line.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from ._math import MathError, to_mathml

TICK, CROSS = "✓", "✗"  # how a check line starts
LONG_INLINE = 40  # characters of TeX above which an inline formula may be wider than a phone
_KIND = re.compile(r"·\s*([A-Za-z]+)")


class FormulaError(ValueError):
    """A formula that does not convert: the message names notebook, cell and formula."""


@dataclass
class Found:
    """What rendering one piece of Markdown found besides its HTML."""

    headings: list = field(default_factory=list)   # (level, anchor, text, HTML)
    checks: list = field(default_factory=list)     # (claim id, kind, passed)
    formulas: list = field(default_factory=list)   # TeX sources, in order
    text: list = field(default_factory=list)       # plain text, for the search index


def formula_error(where: str, tex: str, error: Exception) -> FormulaError:
    """The one-line error for a formula that does not convert: where, the formula as written, why."""
    shown = " ".join(tex.split())
    shown = shown if len(shown) <= 300 else shown[:300] + "…"
    return FormulaError(f"{where}: cannot convert the formula `{shown}`: {error}")


def claim_href(claim_id: str) -> str:
    """The claims page's anchor for one claim."""
    return f"claims.html#claim-{claim_id}"


class Markdown:
    """Renders a page's Markdown: math, claim links and check lines; heading ids unique per page."""

    def __init__(self, claim_ids, page_hrefs: dict[str, str]):
        self.claim_ids = set(claim_ids)
        self.page_hrefs = page_hrefs  # notebook file name -> page href, for links between them
        self.md = (MarkdownIt("commonmark", {"html": True}).enable("table")
                   .use(dollarmath_plugin, double_inline=True, renderer=self._math))
        for name, rule in (("code_inline", self._code_inline), ("heading_open", self._heading_open),
                           ("math_inline_double", self._math_inline_double),
                           ("math_inline", self._math_inline),
                           ("table_open", lambda *a: '<div class="table"><table>\n'),
                           ("table_close", lambda *a: "</table></div>\n")):
            # markdown-it binds a rule to its renderer; ours are bound to this object already
            self.md.add_render_rule(name, lambda _renderer, *args, rule=rule: rule(*args))
        self.anchors: set[str] = set()
        self.where = ""
        self.found = Found()

    def new_page(self) -> None:
        """Forget the heading ids of the previous page."""
        self.anchors = set()

    def render(self, text: str, where: str, found: Found) -> str:
        """HTML for `text`; `where` (notebook, cell) goes into any error; findings go to `found`."""
        self.where, self.found = where, found
        tokens = self.md.parse(text)
        self._mark_checks(tokens)
        self._collect(tokens)
        return self.md.renderer.render(tokens, self.md.options, {})

    def unique_anchor(self, text: str) -> str:
        """An id for a heading, unique on this page."""
        base = re.sub(r"[^\w-]+", "-", text.lower(), flags=re.UNICODE).strip("-") or "section"
        anchor, n = base, 1
        while anchor in self.anchors or re.fullmatch(r"cell-\d+", anchor):
            n += 1
            anchor = f"{base}-{n}"
        self.anchors.add(anchor)
        return anchor

    def _math(self, tex: str, options: dict) -> str:
        tex = tex.strip()
        self.found.formulas.append(tex)
        try:
            return to_mathml(tex, bool(options.get("display_mode")))
        except MathError as error:
            raise formula_error(self.where, tex, error) from None

    def _math_inline(self, tokens, idx, options, env) -> str:
        """`$…$`: MathML in the line; a long one may scroll on its own, since MathML does not wrap."""
        tex = tokens[idx].content
        long = " long" if len(tex) > LONG_INLINE else ""
        return f'<span class="math inline{long}">{self._math(tex, {"display_mode": False})}</span>'

    def _math_inline_double(self, tokens, idx, options, env) -> str:
        """`$$…$$` inside a paragraph: a display formula, in an element a paragraph may hold."""
        return f'<span class="math display">{self._math(tokens[idx].content, {"display_mode": True})}</span>'

    def _mark_checks(self, tokens) -> None:
        for opening, inline in zip(tokens, tokens[1:]):
            if opening.type != "paragraph_open" or inline.type != "inline":
                continue
            content = inline.content.lstrip()
            if not content.startswith((TICK, CROSS)):
                continue
            claim = next((c.content for c in inline.children or []
                          if c.type == "code_inline" and c.content in self.claim_ids), None)
            if claim is None:
                continue
            passed = content.startswith(TICK)
            kind = _KIND.search(content)
            self.found.checks.append((claim, kind.group(1) if kind else "", passed))
            opening.attrSet("class", "check " + ("tick" if passed else "cross"))  # the mark, not a verdict
            opening.attrSet("data-claim", claim)

    def _collect(self, tokens) -> None:
        for i, token in enumerate(tokens):
            if token.type == "heading_open":
                inline = tokens[i + 1]
                title = _plain(inline)
                anchor = self.unique_anchor(title)
                token.attrSet("id", anchor)
                shown = self.md.renderer.renderInline(inline.children or [], self.md.options, {})
                self.found.headings.append((int(token.tag[1]), anchor, title, shown))
            elif token.type == "inline":
                self.found.text.append(_plain(token))
            for child in token.children or []:
                if child.type == "link_open":
                    child.attrSet("href", self._href(child.attrGet("href") or ""))

    def _href(self, href: str) -> str:
        name, _, fragment = href.partition("#")
        page = self.page_hrefs.get(name.rsplit("/", 1)[-1]) if name.endswith(".ipynb") else None
        return page + (f"#{fragment}" if fragment else "") if page else href

    def _code_inline(self, tokens, idx, options, env) -> str:
        code = tokens[idx].content
        inner = f"<code>{html.escape(code)}</code>"
        if code in self.claim_ids:
            return f'<a class="claim-ref" href="{html.escape(claim_href(code))}">{inner}</a>'
        return inner

    def _heading_open(self, tokens, idx, options, env) -> str:
        token = tokens[idx]
        return f'<{token.tag} id="{html.escape(token.attrGet("id") or "")}">'


def _plain(inline) -> str:
    """The text of an inline token, formulas as their TeX, markup dropped."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline", "math_inline", "math_inline_double"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()
