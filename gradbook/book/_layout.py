"""The frame every page shares: head, the book's contents, search box, previous/next links."""
from __future__ import annotations

import html
from dataclasses import dataclass

BOOK_TITLE = "gradbook"


@dataclass(frozen=True)
class NavEntry:
    """One page as the contents list shows it."""

    href: str
    title: str
    section: str


def frame(*, title: str, body: str, nav: list[NavEntry], current: str = "",
          prev: NavEntry | None = None,
          next_: NavEntry | None = None) -> str:
    """A whole HTML page around `body` (already HTML)."""
    e = html.escape
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{e(title)} · {BOOK_TITLE}</title>\n",
        '<link rel="stylesheet" href="book.css">\n',
        '<script src="search.js" defer></script>\n</head>\n<body>\n',
        '<nav class="book-nav" aria-label="Contents">\n',
        f'<p class="book-title"><a href="index.html">{BOOK_TITLE}</a></p>\n',
        '<form class="search" role="search" onsubmit="return false">'
        '<input id="search-box" type="search" placeholder="Search pages, claims, formulas" '
        'aria-label="Search the book" autocomplete="off">'
        '<ol id="search-results" class="search-results" aria-live="polite"></ol></form>\n',
        _contents(nav, current),
        "</nav>\n<main>\n",
        body,
        _pager(prev, next_),
        "</main>\n</body>\n</html>\n",
    ])


def _contents(nav: list[NavEntry], current: str) -> str:
    e = html.escape
    out = ['<ul class="contents">\n', _item("index.html", "Start", current),
           _item("claims.html", "Claims index", current)]
    section = None
    for entry in nav:
        if entry.section != section:
            if section is not None:
                out.append("</ul></li>\n")
            section = entry.section
            out.append(f'<li class="section"><span>{e(section)}</span><ul>\n')
        out.append(_item(entry.href, entry.title, current))
    if section is not None:
        out.append("</ul></li>\n")
    out.append("</ul>\n")
    return "".join(out)


def _item(href: str, title: str, current: str) -> str:
    here = ' aria-current="page"' if href == current else ""
    return f'<li><a href="{html.escape(href)}"{here}>{html.escape(title)}</a></li>\n'


def toc(headings: list) -> str:
    """The page's own table of contents, from its second- and third-level headings (as HTML)."""
    items = [(level, anchor, shown) for level, anchor, shown in headings if level in (2, 3)]
    if not items:
        return ""
    rows = "".join(f'<li class="level{level}"><a href="#{html.escape(anchor)}">{shown}</a></li>\n'
                   for level, anchor, shown in items)
    return f'<details class="toc" open><summary>On this page</summary><ol>\n{rows}</ol></details>\n'


def _pager(prev: NavEntry | None, next_: NavEntry | None) -> str:
    if not prev and not next_:
        return ""
    e = html.escape
    left = f'<a rel="prev" href="{e(prev.href)}">← {e(prev.title)}</a>' if prev else "<span></span>"
    right = f'<a rel="next" href="{e(next_.href)}">{e(next_.title)} →</a>' if next_ else "<span></span>"
    return f'<nav class="pager" aria-label="Previous and next">{left}{right}</nav>\n'
