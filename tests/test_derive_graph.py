"""derive's graph: drawn from its own staged nodes and numbers, in the user's terms, at most a
notebook wide, without tracing or compiling the function a second time."""
import re

import numpy as np
import pytest

from gradbook import derive, jax, jnp
from gradbook.graph import _drawing, _trace


def mlp_loss(params, x, y):
    h = jnp.tanh(x @ params["W1"] + params["b1"])
    logp = jax.nn.log_softmax(h @ params["W2"])
    return -jnp.mean(logp[jnp.arange(x.shape[0]), y])


@pytest.fixture
def drawn(ledger, monkeypatch):
    """derive's graphs, caught where they are shown; tracing the raw jaxpr again fails."""
    graphs = []
    monkeypatch.setattr(_drawing, "show", graphs.append)
    monkeypatch.setattr(_drawing, "trace_graph", lambda *a, **k: pytest.fail("traced again"))
    monkeypatch.setattr(_trace, "_values_and_gradients", lambda *a: pytest.fail("compiled again"))
    return graphs


def derive_mlp():
    rng = np.random.default_rng(1)
    params = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4),
              "W2": rng.standard_normal((4, 3))}
    return derive(mlp_loss, at=dict(params=params, x=rng.standard_normal((5, 3)),
                                    y=np.array([0, 2, 1, 1, 0])), wrt="params", output="L")


def test_the_graph_shows_the_staged_nodes_with_the_tables_numbers(drawn):
    book = derive_mlp()
    (graph,) = drawn
    for node in book.staged.nodes:
        if node.name in graph.traced.grads and node.name in book.grads:
            np.testing.assert_allclose(graph.grad(node.name), book.grad(node.name), atol=1e-12)
            np.testing.assert_allclose(graph.value(node.name), book.value(node.name), atol=1e-12)
    inputs = [n.label for n in graph.nodes if n.kind == "input"]
    assert inputs == book.staged.inputs  # params.W1, ..., x, y: named by their paths


def test_index_arithmetic_and_shape_only_nodes_are_folded(drawn):
    derive_mlp()
    (graph,) = drawn
    svg_texts = re.findall(r"<text[^>]*>([^<]*)</text>", graph.svg)
    for hidden in ("lt", "select_n", "concatenate", "broadcast_in_dim", "convert_element_type"):
        assert hidden not in svg_texts
    labels = {n.id: n.label for n in graph.nodes}
    assert ("y", "gather") in {(labels[e.source], labels[e.target]) for e in graph.edges}
    assert not any(e.name == "y" and e.grad is not None for e in graph.edges)  # data: no gradient


def test_the_graph_fits_a_notebook_and_carries_a_png(drawn):
    derive_mlp()
    (graph,) = drawn
    width = float(re.search(r'<svg[^>]*\swidth="([\d.]+)"', graph.svg).group(1))
    assert width <= 1000 and graph.png[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_fan_out_shows_each_users_branch_and_their_sum(drawn):
    book = derive(lambda x: x * x + jnp.exp(x) * x, at=dict(x=0.9))
    (graph,) = drawn
    copy = next(n.id for n in graph.nodes if n.kind == "copy")
    into = [float(e.grad) for e in graph.edges if e.target == copy]
    out_of = [float(e.grad) for e in graph.edges if e.source == copy]
    assert into == [pytest.approx(float(book.grad("x")))]
    assert sum(out_of) == pytest.approx(into[0])
    assert sorted(out_of) == sorted(float(v) for v in book.branches["x"].values())
