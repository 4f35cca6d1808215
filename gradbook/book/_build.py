"""`make book`: the executed notebooks as a static site in book/, rewritten only where changed."""
from __future__ import annotations

import hashlib
import html
import json
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from ._claims import claims_body, declared_claims
from ._code import highlight_css
from ._layout import NavEntry, frame
from ._markdown import FormulaError, Markdown
from ._notebook_page import render_notebook, source_note
from ._outputs import Figures
from ._search import search_index
from ._sources import find_pages, load_ledger

MANIFEST = ".book-manifest.json"  # what each page was built from, so an unchanged one is kept
STATIC = Path(__file__).with_name("static")
LIBRARIES = ("math-core", "markdown-it-py", "mdit-py-plugins", "Pygments")


class BookError(ValueError):
    """The book cannot be built; the message says why in one line."""


@dataclass
class Outcome:
    """What a build did: pages made, files written (relative to the book), seconds."""

    pages: int
    claims: int
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def build_book(notebooks: Path, out: Path, root: Path) -> Outcome:
    """Build the book from `notebooks` (and its ledger.json) into `out`; nothing is executed.

    FormulaError, naming every formula that does not convert, and nothing written, if any fails."""
    start = time.perf_counter()
    pages = find_pages(notebooks, root)
    if not pages:
        raise BookError(f"{notebooks}: no notebooks (run make notebooks first)")
    ledger = load_ledger(notebooks / "ledger.json", root)
    nav = [NavEntry(p.href, p.title, p.section) for p in pages]
    files, keep, data = _notebook_pages(pages, nav, ledger, _read_manifest(out), out)
    checks_by_page = [(p, [tuple(c) for c in data[p.slug]["checks"]]) for p in pages]
    files["claims.html"] = frame(title="Claims index", body=claims_body(ledger, pages, checks_by_page),
                                 nav=nav, current="claims.html").encode("utf-8")
    files["index.html"] = frame(title="Start", body=_start_body(pages, ledger), nav=nav,
                                current="index.html", next_=nav[0]).encode("utf-8")
    statements = {c.id: c.claim for c in declared_claims(pages).values()}
    statements.update(_catalog_statements())
    files["search-index.js"] = search_index(pages, data, ledger, statements).encode("utf-8")
    files["book.css"] = (STATIC / "book.css").read_bytes() + highlight_css().encode("utf-8") + b"\n"
    files["search.js"] = (STATIC / "search.js").read_bytes()
    manifest = json.dumps({"pages": data}, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    files[MANIFEST] = (manifest + "\n").encode("utf-8")
    outcome = Outcome(len(pages), len(ledger["claims"]))
    _write(out, files, keep, outcome)
    outcome.seconds = time.perf_counter() - start
    return outcome


def _notebook_pages(pages, nav, ledger: dict, previous: dict, out: Path):
    """Render the pages whose inputs changed since the manifest was written; keep the others.

    Returns the files to write, the files to keep as they are, and each page's manifest entry
    (what the claims page and the search index need from it)."""
    claim_ids = sorted(c["id"] for c in ledger["claims"])
    context = _digest([_builder_version(), [list(n.__dict__.values()) for n in nav], claim_ids])
    first_section = {p.path.name: p.href for p in pages if p.section == pages[0].section}
    markdown = Markdown(claim_ids, first_section)
    files: dict[str, bytes] = {}
    keep: set[str] = set()
    data: dict = {}
    errors: list[str] = []
    for i, page in enumerate(pages):
        key = _digest([context, page.digest])
        cached = previous.get("pages", {}).get(page.slug)
        if cached and cached["key"] == key and all((out / f).is_file() for f in [page.href, *cached["figures"]]):
            data[page.slug] = cached
            keep.update([page.href, *cached["figures"]])
            continue
        figures = Figures()
        rendered = render_notebook(page, markdown, figures)
        errors += rendered.errors
        files[page.href] = frame(
            title=page.title, body=source_note(page) + rendered.body, nav=nav, current=page.href,
            prev=nav[i - 1] if i else None,
            next_=nav[i + 1] if i + 1 < len(nav) else None).encode("utf-8")
        files.update(figures.files)
        data[page.slug] = {
            "key": key, "figures": sorted(figures.files), "checks": [list(c) for c in rendered.checks],
            "sections": [list(s) for s in rendered.sections],
            "formulas": [list(f) for f in rendered.formulas]}
    if errors:
        raise FormulaError("\n".join(errors))
    return files, keep, data


def _start_body(pages, ledger: dict) -> str:
    e = html.escape
    s = ledger.get("summary", {})
    counts = (f"{s.get('verified', 0)} verified, {s.get('expected-failure', 0)} documented "
              f"erratum rejected as printed" if s else f"{len(ledger['claims'])} claims")
    out = ['<h1 id="gradbook">gradbook</h1>\n',
           "<p>Backpropagation worked out step by step, where every equals sign is proven by SymPy "
           "and every gradient is checked against JAX in float64. Each page is one of the executed "
           "notebooks, shown as it was run; a ✓ line under a step is the machine's check, and its "
           "claim id links to the <a href=\"claims.html\">claims index</a> "
           f"({len(ledger['claims'])} claims: {e(counts)}).</p>\n"]
    section = None
    for page in pages:
        if page.section != section:
            out.append(("</ol>\n" if section else "") + f"<h2>{e(page.section)}</h2>\n<ol class=\"pages\">\n")
            section = page.section
        out.append(f'<li><a href="{e(page.href)}">{e(page.title)}</a></li>\n')
    out.append("</ol>\n")
    return '<article class="start">\n' + "".join(out) + "</article>\n"


def _catalog_statements() -> dict[str, str]:
    from ..checks._catalog import load_catalog

    return {cid: claim.claim for cid, claim in load_catalog().claims.items()}


def _builder_version() -> str:
    """What every page depends on besides its notebook: this package's code and its libraries."""
    h = hashlib.sha256()
    for path in sorted([*Path(__file__).parent.glob("*.py"), *STATIC.iterdir()]):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(" ".join(version(name) for name in LIBRARIES).encode())
    return h.hexdigest()


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if out.is_dir() and any(out.iterdir()) and not path.is_file():
        raise BookError(f"{out}: exists and was not made by `gradbook book` (no {MANIFEST}); "
                        "remove it or choose another --out")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write(out: Path, files: dict[str, bytes], keep: set[str], outcome: Outcome) -> None:
    """Write the files whose bytes changed; remove what the book no longer has."""
    for name in sorted(files):
        target = out / name
        if target.is_file() and target.read_bytes() == files[name]:
            outcome.unchanged += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[name])
        outcome.written.append(name)
    outcome.unchanged += len(keep)
    wanted = set(files) | keep
    for path in sorted(out.rglob("*"), reverse=True):
        name = path.relative_to(out).as_posix()
        if path.is_file() and name not in wanted:
            path.unlink()
            outcome.removed.append(name)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
