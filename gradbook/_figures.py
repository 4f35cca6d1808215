"""Figures: matplotlib plots shown as deterministic SVG (text kept as text) and PNG.

The PNG is what an untrusted notebook shows (JupyterLab, VS Code and GitHub do not render SVG
there); it is drawn by Agg at 100 dpi without metadata, so it too is the same bytes every run.
"""
from __future__ import annotations

import base64
import io

from ._display import in_notebook

MAX_WIDTH = 1000  # a notebook's width in pixels


class Figure:
    """An SVG image with a plain-text description, for notebooks and for scripts."""

    def __init__(self, svg: str, description: str, png: bytes = b""):
        self.svg, self.description, self.png = svg, description, png

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return f"[figure: {self.description}]"


def show_figure(fig, description: str) -> None:
    """Show a matplotlib figure as SVG that is byte-identical from run to run, then close it."""
    import matplotlib
    import matplotlib.pyplot as plt

    buffer, pixels = io.StringIO(), io.BytesIO()
    width = fig.get_figwidth() * 100
    dpi = 100 * min(1.0, MAX_WIDTH / width)  # at most a notebook's width
    with matplotlib.rc_context({"svg.hashsalt": "gradbook", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight",
                    metadata={"Date": None, "Creator": None})
        fig.savefig(pixels, format="png", dpi=dpi, bbox_inches="tight", facecolor="white",
                    metadata={"Software": None})
    plt.close(fig)
    figure = Figure(buffer.getvalue(), description, pixels.getvalue())
    if in_notebook():
        from IPython.display import display

        display({"image/svg+xml": figure.svg, "text/plain": repr(figure),
                 "image/png": base64.b64encode(figure.png).decode("ascii")}, raw=True)
    else:
        print(repr(figure))
