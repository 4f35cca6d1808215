"""How checks show themselves: rich output in a notebook, one plain line per check in a script."""
from __future__ import annotations

import sys


def in_notebook() -> bool:
    """True when running inside a Jupyter kernel (not plain Python or pytest)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and hasattr(shell, "kernel")


def show(obj) -> None:
    """Display `obj` in a notebook, or print its plain-text form in a script."""
    if in_notebook():
        from IPython.display import display

        display(obj)
    else:
        print(repr(obj))


class Result:
    """The visible record of checks just run: an optional formula, then one ✓ line per check.

    It shows itself as soon as it is made, so every check appears under the code that ran it;
    ending a cell with it does not show it twice.
    """

    def __init__(self, checks, latex: str | None = None, value=None):
        self.checks = list(checks)
        self.latex = latex
        self.value = value
        self._shown = False
        show(self)
        self._shown = True

    def _lines(self):
        for c in self.checks:
            mark = "✗ (expected: a documented erratum)" if c.expected_failure else "✓"
            yield mark, c

    def _repr_markdown_(self) -> str:
        from ._notation import tidy, tidy_markdown

        parts = [f"$$\n{tidy(self.latex)}\n$$"] if self.latex else []
        parts += [f"{mark} `{c.claim}` · {c.kind} — {tidy_markdown(c.detail)}"
                  for mark, c in self._lines()]
        return "\n\n".join(parts)

    def __repr__(self) -> str:
        return "\n".join(f"{mark} {c.claim} [{c.kind}] {c.detail}" for mark, c in self._lines())

    def _ipython_display_(self):
        if not self._shown:
            from IPython.display import display

            display({"text/markdown": self._repr_markdown_(), "text/plain": repr(self)}, raw=True)
