"""From a derivation source (jupytext percent .py) to a clean, reproducible notebook."""
from __future__ import annotations

import hashlib
from pathlib import Path

NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "pygments_lexer": "ipython3"},
}


def source_to_notebook(path: Path, text: str | None = None):
    """Convert a percent-format source into an unexecuted notebook with stable cell ids."""
    import jupytext  # imported here, as nbformat: a no-op rebuild never needs them
    import nbformat

    text = Path(path).read_text(encoding="utf-8") if text is None else text
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata = nbformat.from_dict(
        {**NOTEBOOK_METADATA, "gradbook": {"source": f"derivations/{Path(path).name}"}})
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:03d}"
        cell.metadata = nbformat.from_dict({})
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def code_hash(nb, *parts: bytes) -> str:
    """A digest of what execution depends on: the code cells, in order, plus `parts`."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode("utf-8") + b"\0")
    for part in parts:
        digest.update(part + b"\0")
    return digest.hexdigest()


def cell_lines(text: str, nb) -> dict[int, int]:
    """The line in the source file where each cell's code starts (1-based), for error messages."""
    lines = text.splitlines()
    where, start = {}, 0
    for index, cell in enumerate(nb.cells):
        first = next((ln for ln in cell.source.splitlines() if ln.strip()), None)
        if first is None:
            continue
        for lineno in range(start, len(lines)):
            if lines[lineno].rstrip() == first.rstrip() or lines[lineno].lstrip("# ").rstrip() == first.strip():
                where[index] = lineno + 1
                start = lineno + 1
                break
    return where
