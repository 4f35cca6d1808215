"""Regenerate the figures the README shows: `python docs/make_figures.py`."""
from pathlib import Path

from gradbook import named
from gradbook.graph._drawing import render_svg
from gradbook.graph._trace import trace_graph

HERE = Path(__file__).resolve().parent


def scalar_graph(x, y, z):
    """kang §2: f(x, y, z) = (x + y) z, with q = x + y."""
    q = named(x + y, "q")
    return q * z


if __name__ == "__main__":
    svg = render_svg(trace_graph(scalar_graph, -2.0, 5.0, -4.0), "f")
    (HERE / "graph_scalar.svg").write_text(svg, encoding="utf-8")
    print("wrote docs/graph_scalar.svg")
