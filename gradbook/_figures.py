"""Figures: matplotlib plots shown as deterministic SVG, with their text kept as text."""
from __future__ import annotations

import io

from ._display import in_notebook


class Figure:
    """An SVG image with a plain-text description, for notebooks and for scripts."""

    def __init__(self, svg: str, description: str):
        self.svg, self.description = svg, description

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"[figure: {self.description}]"


def show_figure(fig, description: str) -> None:
    """Show a matplotlib figure as SVG that is byte-identical from run to run, then close it."""
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "gradbook", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight",
                    metadata={"Date": None, "Creator": None})
    plt.close(fig)
    figure = Figure(buffer.getvalue(), description)
    if in_notebook():
        from IPython.display import display

        display({"image/svg+xml": figure.svg, "text/plain": repr(figure)}, raw=True)
    else:
        print(repr(figure))
