"""Regenerate the figures the README shows: `python docs/make_figures.py`."""
from pathlib import Path

import numpy as np

from gradbook import jnp, named
from gradbook.graph._drawing import Graph
from gradbook.graph._trace import trace_graph

HERE = Path(__file__).resolve().parent


def scalar_graph(x, y, z):
    """kang §2: f(x, y, z) = (x + y) z, with q = x + y."""
    q = named(x + y, "q")
    return q * z


def two_layer_mlp(W1, b1, W2, b2, x, y):
    """A two-layer network's squared error: too wide left to right, so drawn top to bottom."""
    h = named(jnp.tanh(W1 @ x + b1), "h")
    z = named(W2 @ h + b2, "z")
    return jnp.sum((z - y) ** 2)


def figures():
    """Each README figure's file name and drawing."""
    rng = np.random.default_rng(0)
    mlp_at = [np.round(rng.normal(size=s), 2) for s in [(3, 2), (3,), (2, 3), (2,), (2,), (2,)]]
    yield "graph_scalar", Graph(trace_graph(scalar_graph, -2.0, 5.0, -4.0), "f")
    yield "graph_mlp", Graph(trace_graph(two_layer_mlp, *mlp_at, output="L"), "L",
                             wrt=["W1", "b1", "W2", "b2"])


if __name__ == "__main__":
    for name, graph in figures():
        (HERE / f"{name}.svg").write_text(graph.svg, encoding="utf-8")
        (HERE / f"{name}.png").write_bytes(graph.png)
        print(f"wrote docs/{name}.svg and docs/{name}.png ({graph.canvas.width:.0f} px wide)")
