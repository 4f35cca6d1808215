"""One notebook as one page: its cells in order, each with an id the claims page links to."""
from __future__ import annotations

import html
from dataclasses import dataclass

from ._code import highlight_python
from ._layout import toc
from ._markdown import FormulaError, Found, Markdown
from ._outputs import Figures, render_outputs
from ._sources import Page, cell_anchor, source


@dataclass
class Rendered:
    """A notebook's page body and what was found on it (headings, checks per cell, text)."""

    body: str
    headings: list
    checks: list    # (claim id, kind, passed, cell anchor)
    sections: list  # (anchor, heading, text) for the search index
    formulas: list  # (cell anchor, TeX)
    errors: list    # one line per formula that does not convert (the page is then not written)


def render_notebook(page: Page, markdown: Markdown, figures: Figures) -> Rendered:
    """The HTML of every cell of `page`, and what the claims page and the search need from it."""
    markdown.new_page()
    parts, headings, checks, formulas, errors = [], [], [], [], []
    sections = [["", page.title, []]]
    for index, cell in enumerate(page.notebook.get("cells", [])):
        anchor = cell_anchor(cell, index)
        where = f"{page.relpath}, cell {index} ({anchor})"
        found = Found()
        kind = cell.get("cell_type")
        try:
            if kind == "markdown":
                inner = markdown.render(source(cell), where, found)
                parts.append(f'<section class="cell markdown" id="{anchor}">\n{inner}</section>\n')
            elif kind == "code":
                code = highlight_python(source(cell))
                outputs = render_outputs(cell.get("outputs") or [], markdown, figures, where, found)
                out_html = f'<div class="outputs">{outputs}</div>' if outputs else ""
                parts.append(f'<section class="cell code" id="{anchor}">\n<pre class="source"><code>'
                             f"{code}</code></pre>{out_html}</section>\n")
            else:
                continue
        except FormulaError as error:  # go on, so that one build names every formula that fails
            errors.append(str(error))
            continue
        for level, h_anchor, text, shown in found.headings:
            headings.append((level, h_anchor, shown))
            if level <= 3:
                sections.append([h_anchor, text, []])
        if kind == "markdown":
            sections[-1][2].extend(found.text)
        checks += [(claim, check_kind, passed, anchor) for claim, check_kind, passed in found.checks]
        formulas += [(anchor, tex) for tex in dict.fromkeys(found.formulas)]
    body = f'<article class="notebook">\n{"".join(parts[:1])}{toc(headings)}{"".join(parts[1:])}</article>\n'
    return Rendered(body, headings, checks,
                    [(a, h, " ".join(t)) for a, h, t in sections], formulas, errors)


def source_note(page: Page) -> str:
    """The line under a page's title that says which notebook it is."""
    return f'<p class="source-note">From <code>{html.escape(page.relpath)}</code>.</p>\n'
