"""`python -m gradbook book`: build the book; a problem is one line and a non-zero exit code."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._build import BookError, build_book
from ._markdown import FormulaError
from ._sources import SourceError


def book_main(argv: list[str], root: Path) -> int:
    """Build book/ from notebooks/; 0 when written, 1 when a notebook cannot be shown, 2 for usage."""
    p = argparse.ArgumentParser(prog="python -m gradbook book",
                                description="Make a static site of the executed notebooks "
                                            "(nothing is re-executed); open OUT/index.html.")
    p.add_argument("--notebooks", type=Path, default=root / "notebooks", metavar="DIR",
                   help="the executed notebooks and ledger.json (default: notebooks/)")
    p.add_argument("--out", type=Path, default=root / "book", metavar="DIR",
                   help="where the site is written (default: book/)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    args = p.parse_args(argv)
    try:
        outcome = build_book(args.notebooks, args.out, root)
    except (FormulaError, SourceError, BookError) as error:
        for line in str(error).splitlines():
            print(f"book: error: {line}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"book: {outcome.pages} pages, {outcome.claims} claims -> {_shown(args.out, root)}/index.html "
              f"({len(outcome.written)} file(s) written, {outcome.unchanged} unchanged, "
              f"{len(outcome.removed)} removed) in {outcome.seconds:.2f} s")
    return 0


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
