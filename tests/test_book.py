"""The book (python -m gradbook book): every notebook a page, math as MathML, claims indexed.

The book is built once per session from the committed notebooks; the browser tests open it in
headless Chromium and are skipped, saying why, where none is installed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from gradbook.book import BookError, build_book
from gradbook.book._browser import Browser, find_chromium
from gradbook.book._markdown import Found, Markdown
from gradbook.book._math import MathError, to_mathml
from gradbook.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("*.ipynb")) + sorted(NOTEBOOKS.glob("exercises/*.ipynb"))
LEDGER = json.loads((NOTEBOOKS / "ledger.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book") / "book"
    build_book(NOTEBOOKS, out, ROOT)
    return out


class Page:
    """What the tests look at in one page: elements with attributes, ids, links, resources, prose.

    Regular expressions rather than html.parser, for speed: the pages are our own output, with
    every attribute double-quoted.
    """

    TAG = re.compile(r"<([a-zA-Z][\w-]*)((?:\s+[\w:-]+(?:=\"[^\"]*\")?)*)\s*/?>")
    ATTR = re.compile(r'([\w:-]+)="([^"]*)"')
    CODE = re.compile(r"<(pre|code|script|style)\b.*?</\1>", re.S)

    def __init__(self, path: Path):
        text = path.read_text(encoding="utf-8")
        self.tags = [(m.group(1).lower(), {k: unescape(v) for k, v in self.ATTR.findall(m.group(2))})
                     for m in self.TAG.finditer(text)]
        self.ids = {a["id"] for _, a in self.tags if "id" in a}
        self.links = [a["href"] for tag, a in self.tags if tag == "a" and "href" in a]
        self.resources = [a[k] for tag, a in self.tags for k in ("src", "href")
                          if k in a and tag in ("script", "link", "img", "source", "iframe", "audio", "video")]
        self.prose = [unescape(re.sub(r"<[^>]+>", "", self.CODE.sub("", text)))]

    def having(self, tag, cls=None):
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]


def pages(book: Path) -> dict[str, Page]:
    return {p.name: Page(p) for p in sorted(book.glob("*.html"))}


@pytest.fixture(scope="session")
def parsed(book):
    return pages(book)


def page_name(notebook: Path) -> str:
    return ("exercises-" if notebook.parent.name == "exercises" else "") + notebook.stem + ".html"


# --- structure ---------------------------------------------------------------------------------

def test_every_notebook_has_its_page(book):
    assert NOTEBOOK_FILES
    for notebook in NOTEBOOK_FILES:
        assert (book / page_name(notebook)).is_file(), f"no page for {notebook.name}"


def test_no_tex_is_left_in_any_page(parsed):
    for name, page in parsed.items():
        prose = "".join(page.prose)
        assert not re.search(r"\$[^$\n]+\$", prose), f"{name}: $…$ left in the prose"
        left = re.findall(r"\\[(\[]|\\[A-Za-z]{2,}", prose)
        assert not left, f"{name}: TeX left in the prose: {left[:5]}"


def test_math_is_mathml_without_error_elements(parsed):
    page = parsed[page_name(NOTEBOOK_FILES[0])]
    assert len(page.having("math")) > 5
    for name, page in parsed.items():
        assert not page.having("merror"), f"{name}: an <merror> element"


def test_no_page_refers_to_another_host(book, parsed):
    for name, page in parsed.items():
        remote = [r for r in page.resources if re.match(r"(?i)([a-z]+:)?//", r) and not r.startswith("file:")]
        assert not remote, f"{name} loads {remote}"
    for asset in ("book.css", "search.js", "search-index.js"):
        text = (book / asset).read_text(encoding="utf-8")
        assert not re.search(r"(?i)url\(\s*['\"]?(https?:)?//|@import|https?://\S+\.(js|css|woff)", text), asset


def test_every_script_stylesheet_and_figure_a_page_loads_is_in_the_book(book, parsed):
    loaded = {r for page in parsed.values() for r in page.resources}
    assert {"book.css", "search.js"} <= loaded and any(r.startswith("figures/") for r in loaded)
    for resource in loaded:
        assert (book / resource).is_file(), f"{resource} is loaded but not in the book"
    assert "search-index.js" in (book / "search.js").read_text(encoding="utf-8")
    assert (book / "search-index.js").is_file()


def test_every_internal_link_and_anchor_resolves(book, parsed):
    checked = 0
    for name, page in parsed.items():
        for href in page.links:
            if re.match(r"(?i)[a-z]+:", href):
                continue  # a citation's link to a document on the web is not a resource
            target, _, anchor = href.partition("#")
            target = target or name
            assert (book / target).is_file(), f"{name}: link to missing {href}"
            if anchor:
                assert anchor in parsed[target].ids, f"{name}: link to missing anchor {href}"
            checked += 1
    assert checked > 1000


def test_every_ledger_claim_is_indexed_with_a_link_to_a_cell(parsed):
    claims = parsed["claims.html"]
    assert {c["id"] for c in LEDGER["claims"]}
    for claim in LEDGER["claims"]:
        assert f"claim-{claim['id']}" in claims.ids, f"{claim['id']} missing from the claims index"
    by_claim = _cells_by_claim(parsed)
    cells = {f"{name}#{a['id']}" for name, page in parsed.items() for a in page.having("section", "cell")}
    for claim in LEDGER["claims"]:
        links = by_claim.get(claim["id"], [])
        assert links, f"{claim['id']}: the index links to no cell"
        for href in links:
            assert href in cells, f"{claim['id']}: {href} is not a cell"


def _cells_by_claim(parsed) -> dict[str, list[str]]:
    """claim id -> the cell links in its entry on the claims page."""
    out, current = {}, None
    for tag, a in parsed["claims.html"].tags:
        if tag == "section" and a.get("id", "").startswith("claim-"):
            current = a["id"].removeprefix("claim-")
        elif tag == "a" and current and ".html#" in a.get("href", "") and "claims.html" not in a["href"]:
            out.setdefault(current, []).append(a["href"])
    return out


def test_each_check_line_links_back_to_its_claim(book):
    lines = 0
    for path in sorted(book.glob("[0-9]*.html")):
        text = path.read_text(encoding="utf-8")
        for claim, body in re.findall(r'<p class="check [a-z]+" data-claim="([^"]+)">(.*?)</p>', text, re.S):
            assert f'href="claims.html#claim-{claim}"' in body, f"{path.name}: check of {claim} without link"
            lines += 1
    assert lines > 300


def test_the_erratum_is_shown_as_an_erratum(book):
    errata = [c["id"] for c in LEDGER["claims"] if c["status"] == "expected-failure"]
    assert errata
    claims = (book / "claims.html").read_text(encoding="utf-8")
    for cid in errata:
        entry = claims.split(f'id="claim-{cid}"', 1)[1].split("</section>", 1)[0]
        assert "erratum" in entry and "✗ rejected as printed" in entry
        notebook = next(c for c in LEDGER["claims"] if c["id"] == cid)["notebooks"][0]
        assert f'<p class="check cross" data-claim="{cid}">' in (book / f"{notebook}.html").read_text()


# --- the converter -----------------------------------------------------------------------------

def notebook_formulas() -> dict[str, str]:
    """Every distinct formula in the notebooks' Markdown and outputs -> where it first occurs."""
    md = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin, double_inline=True)
    found = {}

    def walk(tokens, where):
        for t in tokens:
            if t.type.startswith("math_"):
                found.setdefault((t.content.strip(), "inline" not in t.type or "double" in t.type), where)
            walk(t.children or [], where)

    for path in NOTEBOOK_FILES:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            where = f"{path.name} {cell.get('id')}"
            if cell["cell_type"] == "markdown":
                walk(md.parse("".join(cell["source"])), where)
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "text/markdown" in data:
                    walk(md.parse("".join(data["text/markdown"])), where)
                if "text/latex" in data:
                    tex = "".join(data["text/latex"]).strip().strip("$").removeprefix(r"\displaystyle")
                    found.setdefault((tex.strip(), True), where)
    return found


def test_every_distinct_formula_in_the_notebooks_converts():
    formulas = notebook_formulas()
    assert len(formulas) > 500
    failed = []
    for (tex, display), where in formulas.items():
        try:
            assert "<math" in to_mathml(tex, display)
        except MathError as error:
            failed.append(f"{where}: {tex!r}: {error}")
    assert not failed, f"{len(failed)} formula(s) do not convert:\n" + "\n".join(failed[:10])


@pytest.mark.parametrize("tex, element", [
    (r"\begin{aligned}a &= b \\ &= \boxed{c}\end{aligned}", "mtable"),
    (r"\sum_{\substack{1 \le i \le N\\1 \le j \le M}} x_{ij}", "munder"),
    (r"\begin{bmatrix}1 & 2\\ 3 & 4\end{bmatrix}^\top \odot \mathbf{J}", "mtable"),
    (r"\operatorname{diag}(p) - p p^\top", "mi"),
    (r"\frac{\partial \mathcal L}{\partial z}", "mfrac"),
    (r"x \mbox{ if } \widetilde{W}", "mover"),
])
def test_constructs_the_notebooks_use_convert_to_their_elements(tex, element):
    assert f"<{element}" in to_mathml(tex, True)


def test_an_unknown_command_is_rejected_by_the_converter():
    with pytest.raises(MathError, match="Unknown command"):
        to_mathml(r"\notacommand{x}", False)


def test_a_formula_that_cannot_convert_fails_the_build_naming_notebook_cell_and_formula(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(NOTEBOOKS / "ledger.json", notebooks)
    source = json.loads(NOTEBOOK_FILES[0].read_text(encoding="utf-8"))
    source["cells"].insert(3, {"cell_type": "markdown", "id": "bad-cell", "metadata": {},
                               "source": ["Here $v_{5}_{i}$ has two subscripts."]})
    source["cells"].insert(5, {"cell_type": "markdown", "id": "worse-cell", "metadata": {},
                               "source": ["$$\\frac{a}{\\notacommand b}$$"]})
    (notebooks / NOTEBOOK_FILES[0].name).write_text(json.dumps(source), encoding="utf-8")
    code = main(["book", "--notebooks", str(notebooks), "--out", str(tmp_path / "book")], root=tmp_path)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and not (tmp_path / "book").exists()
    assert len(lines) == 2 and "Traceback" not in lines[0]  # every failing formula, one line each
    assert lines[0].startswith(f"book: error: notebooks/{NOTEBOOK_FILES[0].name}, cell 3 (bad-cell): ")
    assert lines[0].endswith("the formula `v_{5}_{i}`: Duplicate subscript or superscript.")
    assert f"cell 5 (worse-cell): cannot convert the formula `\\frac{{a}}{{\\notacommand b}}`" in lines[1]
    assert "notacommand" in lines[1].rsplit(":", 1)[1]


# --- check lines -------------------------------------------------------------------------------

def render(text: str, claims=("kang.5.sigmoid",)) -> tuple[str, Found]:
    found = Found()
    return Markdown(claims, {}).render(text, "test", found), found


def test_a_check_line_is_recognised_by_its_mark_and_claim_not_its_wording():
    html, found = render("✓ `kang.5.sigmoid` · jax — whatever the engine says today")
    assert '<p class="check tick" data-claim="kang.5.sigmoid">' in html
    assert 'href="claims.html#claim-kang.5.sigmoid"' in html
    assert found.checks == [("kang.5.sigmoid", "jax", True)]


def test_a_line_naming_an_unknown_claim_is_not_a_check_line():
    html, found = render("✓ `not.a.claim` · jax — looks like a check")
    assert 'class="check' not in html and found.checks == []


def test_an_expected_failure_is_a_failed_check_line():
    html, found = render("✗ (expected: a documented erratum) `kang.5.sigmoid` · shape — differs")
    assert '<p class="check cross"' in html and found.checks == [("kang.5.sigmoid", "shape", False)]


def test_a_caught_wrong_formula_is_a_crossed_check_line_of_its_claim():
    html, found = render("✗ rejected as expected: `kang.5.sigmoid` · jax — with $-\\sigma$ it differs")
    assert '<p class="check cross" data-claim="kang.5.sigmoid">' in html and "<math" in html
    assert found.checks == [("kang.5.sigmoid", "jax", False)]


# --- the build ---------------------------------------------------------------------------------

def test_building_twice_gives_byte_identical_files_wherever_it_runs(book, tmp_path):
    copy = tmp_path / "elsewhere" / "notebooks"
    shutil.copytree(NOTEBOOKS, copy)
    again = tmp_path / "again"  # built by another process, with another hash seed, elsewhere
    subprocess.run([sys.executable, "-m", "gradbook", "book", "--notebooks", str(copy), "--out", str(again),
                    "--quiet"], cwd=copy.parent, env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True)
    files = sorted(p.relative_to(book).as_posix() for p in book.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (book / name).read_bytes() == (again / name).read_bytes(), f"{name} differs"
    for name in files:
        text = (book / name).read_bytes()
        assert str(ROOT).encode() not in text and str(tmp_path).encode() not in text, name

    # one changed notebook: only its page and what depends on it are written again
    changed = copy / NOTEBOOK_FILES[2].name
    notebook = json.loads(changed.read_text(encoding="utf-8"))
    first_markdown = next(c for c in notebook["cells"] if c["cell_type"] == "markdown")
    first_markdown["source"] = "".join(first_markdown["source"]) + "\n\nOne more sentence."
    changed.write_text(json.dumps(notebook), encoding="utf-8")
    outcome = build_book(copy, again, tmp_path / "elsewhere")
    assert set(outcome.written) <= {page_name(changed), "search-index.js", "claims.html", "index.html",
                                    ".book-manifest.json"}
    assert page_name(changed) in outcome.written and "One more sentence." in (again / page_name(changed)).read_text()


def test_the_book_does_not_write_into_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(BookError, match="not made by"):
        build_book(NOTEBOOKS, tmp_path, ROOT)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


# --- in a real browser -------------------------------------------------------------------------

CHROMIUM = find_chromium()
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium installed: the browser tests need Debian's `chromium` "
                             "(apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM, width=1280, height=900) as b:
        yield b


@needs_browser
def test_in_a_browser_math_is_laid_out_as_mathml_and_graphs_are_drawn(book, browser):
    graph_page = next(p for p in NOTEBOOK_FILES if "image/svg+xml" in p.read_text(encoding="utf-8"))
    browser.open((book / page_name(graph_page)).as_uri())
    state = browser.evaluate("""(() => {
        const maths = [...document.querySelectorAll('math')];
        const frac = document.querySelector('mfrac');
        const [num, den] = frac ? [...frac.children].map(e => e.getBoundingClientRect()) : [];
        return {maths: maths.length, mathml: maths.every(m => m instanceof MathMLElement),
                laidOut: maths.every(m => m.getClientRects().length > 0),
                errors: document.querySelectorAll('merror').length,
                fraction: frac ? num.bottom <= den.top + 1 : null,
                images: [...document.images].map(i => i.complete && i.naturalWidth > 0)};
    })()""")
    assert state["maths"] > 5 and state["mathml"] and state["laidOut"] and state["errors"] == 0
    assert state["fraction"] is True, "a fraction's numerator is not above its denominator"
    assert state["images"] and all(state["images"]), "a graph was not drawn"
    assert browser.errors() == []
    assert all(url.startswith("file://") for url in browser.requested()), browser.requested()


@needs_browser
def test_in_a_browser_the_search_box_finds_a_claim_id(book, browser):
    claim = LEDGER["claims"][-1]["id"]
    browser.open((book / "index.html").as_uri())
    found = browser.evaluate("""(async (claim) => {
        const box = document.getElementById('search-box');
        box.focus();
        box.value = claim;
        box.dispatchEvent(new Event('input'));
        for (let i = 0; i < 100; i++) {
            const links = [...document.querySelectorAll('#search-results a')].map(a => a.getAttribute('href'));
            if (links.length) return links;
            await new Promise(r => setTimeout(r, 50));
        }
        return [];
    })(%s)""" % json.dumps(claim))
    assert found and found[0] == f"claims.html#claim-{claim}", found
    page, _, anchor = found[0].partition("#")
    browser.open(f"{(book / page).as_uri()}#{anchor}")
    assert browser.evaluate(f"!!document.getElementById({json.dumps('claim-' + claim)})")
    assert browser.errors() == []


def widest_pages(book: Path) -> list[Path]:
    """The pages most likely to be too wide: most tables, most long inline formulas, longest name."""
    pages = sorted(book.glob("*.html"))
    text = {p: p.read_text(encoding="utf-8") for p in pages}
    by_tables = sorted(pages, key=lambda p: -text[p].count('<div class="table">'))[:2]
    by_math = sorted(pages, key=lambda p: -text[p].count("math inline long"))[:2]
    return list(dict.fromkeys([*by_tables, *by_math, max(pages, key=lambda p: len(p.name)),
                               book / "claims.html"]))


@needs_browser
def test_in_a_browser_no_page_scrolls_sideways_on_a_phone(book, browser):
    browser.resize(390, 800)
    try:
        for page in widest_pages(book):
            browser.open(page.as_uri())
            assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.name
            assert browser.errors() == [], page.name
    finally:
        browser.resize(1280, 900)
