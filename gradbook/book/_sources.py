"""Which notebooks the book is made of, in reading order, and what each page is called."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

# (folder under notebooks/, section title, page-name prefix): worked notebooks, then exercises.
SECTIONS = (("", "Worked notebooks", ""), ("exercises", "Exercises", "exercises-"))


class SourceError(ValueError):
    """A notebook or the ledger that cannot be read; the message names the file."""


@dataclass(frozen=True)
class Page:
    """One notebook and the page it becomes."""

    slug: str           # the page's file name without .html
    section: str        # the section of the book it is listed under
    path: Path          # the notebook
    relpath: str        # the notebook's path relative to the project, for messages
    title: str
    digest: str         # sha256 of the notebook's bytes
    notebook: dict

    @property
    def href(self) -> str:
        return f"{self.slug}.html"


def find_pages(notebooks: Path, root: Path) -> list[Page]:
    """Every notebook under `notebooks` (and its exercises/), in name order within its section."""
    pages = []
    for folder, section, prefix in SECTIONS:
        for path in sorted((notebooks / folder).glob("*.ipynb")):
            pages.append(_page(path, section, prefix + path.stem, root))
    return pages


def _page(path: Path, section: str, slug: str, root: Path) -> Page:
    data = path.read_bytes()
    rel = _relative(path, root)
    try:
        notebook = json.loads(data)
        cells = notebook["cells"]
    except (ValueError, KeyError, TypeError) as error:
        raise SourceError(f"{rel}: not a notebook ({error})") from None
    return Page(slug, section, path, rel, _title(cells, path.stem), hashlib.sha256(data).hexdigest(),
                notebook)


def _title(cells: list, fallback: str) -> str:
    """The text of the notebook's first heading, without Markdown markup."""
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#{1,2}\s+(.+?)\s*#*$", source(cell), re.M)
            if match:
                return re.sub(r"[*_`$\\]", "", match.group(1)).strip()
    return fallback


def source(cell: dict) -> str:
    """A cell's source as one string (nbformat stores a list of lines or a string)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def cell_anchor(cell: dict, index: int) -> str:
    """The id of a cell's element on its page: the notebook's cell id, else its position."""
    cid = cell.get("id")
    return cid if isinstance(cid, str) and re.fullmatch(r"[A-Za-z0-9_-]+", cid) else f"cell-{index:03d}"


def load_ledger(path: Path, root: Path) -> dict:
    """notebooks/ledger.json: every claim with its source, status and checks."""
    rel = _relative(path, root)
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
        ledger["claims"]
    except FileNotFoundError:
        raise SourceError(f"{rel}: missing (run make notebooks first)") from None
    except (ValueError, KeyError, TypeError) as error:
        raise SourceError(f"{rel}: not a gradbook ledger ({error})") from None
    return ledger


def _relative(path: Path, root: Path) -> str:
    """A path as the project names it; outside the project, from the notebooks folder's name on
    (never absolute, so that the page reads the same wherever it was built)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        parent = path.parent.parent if path.parent.name == "exercises" else path.parent
        return path.resolve().relative_to(parent.parent.resolve()).as_posix()
