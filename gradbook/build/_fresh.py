"""Is a committed notebook (or ledger) what its source builds? One definition, for every CPU.

Two files are the same build when they are equal after masking the residuals gradbook writes
through checks/_residual.py (a float64 rounding figure and the bound it is held to, whose
digits depend on the processor): each side's residual must still hold what it asserts, and
everything else (cell sources and ids, claims, statuses, kinds of check, printed numbers,
stated values, formulas, figures, graphs, metadata with its source and engine hashes) must be
equal byte for byte. A figure's PNG is compared through the SVG it is shown beside. `build.py --check`, `make check` and the tests all use `differences`.
"""
from __future__ import annotations

import difflib
import json
from pathlib import Path

from ..checks._residual import mask_residuals


def differences(built: Path, committed: Path) -> str | None:
    """None when `committed` is what a build wrote as `built`; else what differs, in a line or two."""
    if built.read_bytes() == committed.read_bytes():
        return None
    try:
        new, old = (json.loads(p.read_text(encoding="utf-8")) for p in (built, committed))
    except (ValueError, UnicodeDecodeError) as error:
        return f"cannot be read as JSON ({error})"
    new, old = _masked(new), _masked(old)
    if new == old:
        return None
    if "cells" in new and "cells" in old:
        return _notebook_difference(new, old)
    return _first_line_difference(new, old)


def _masked(value):
    """A JSON value with every string's residuals masked (see checks/_residual.py)."""
    if isinstance(value, str):
        return mask_residuals(value)
    if isinstance(value, list):  # a residual has no line break, so no line of text splits one
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        masked = {k: _masked(v) for k, v in value.items()}
        if "image/svg+xml" in masked and "image/png" in masked:
            masked["image/png"] = RENDERED  # the same figure's pixels: compared through its SVG
        return masked
    return value


# A PNG beside an SVG in one output is a rendering of the same figure for viewers that show no
# SVG; anti-aliased pixels can move with a coordinate's last bit, the SVG's text cannot.
RENDERED = "(a rendering of the SVG beside it)"


def _notebook_difference(new: dict, old: dict) -> str:
    if len(new["cells"]) != len(old["cells"]):
        return f"has {len(old['cells'])} cells where the source builds {len(new['cells'])}"
    for index, (a, b) in enumerate(zip(new["cells"], old["cells"])):
        if a != b:
            part = next((k for k in ("source", "outputs", "metadata", "id", "cell_type")
                         if a.get(k) != b.get(k)), "cell")
            return f"cell {index}: its {part} differ{'s' if part in ('metadata', 'id') else ''}: " \
                   + _first_line_difference(a.get(part), b.get(part))
    return "its notebook metadata differ (the source or the engine changed): " \
        + _first_line_difference(new.get("metadata"), old.get("metadata"))


def _first_line_difference(new, old) -> str:
    """The first line that differs, committed against built, shortened to fit a line."""
    a = json.dumps(new, indent=1, ensure_ascii=False, sort_keys=True).splitlines()
    b = json.dumps(old, indent=1, ensure_ascii=False, sort_keys=True).splitlines()
    removed = added = ""
    for line in difflib.unified_diff(b, a, lineterm="", n=0):
        if line.startswith("-") and not line.startswith("---") and not removed:
            removed = line[1:].strip()
        elif line.startswith("+") and not line.startswith("+++") and not added:
            added = line[1:].strip()
        if removed and added:
            break
    return f"committed {_short(removed)!r}, built {_short(added)!r}"


def _short(text: str, width: int = 140) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
