"""Graphs drawn from the computation: the right nodes and edges, and the numbers JAX computes."""
import re

import numpy as np

from gradbook import draw_graph, jnp, named


def scalar_graph(x, y, z):
    q = named(x + y, "q")
    return q * z


def texts(svg):
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_scalar_graph_has_the_expected_nodes_and_edges():
    graph = draw_graph(scalar_graph, -2.0, 5.0, -4.0)
    labels = {n.id: n.label for n in graph.nodes}
    assert sorted(labels.values()) == ["+", "f", "x", "y", "z", "×"]
    edges = sorted((labels[e.source], labels[e.target]) for e in graph.edges)
    assert edges == [("+", "×"), ("x", "+"), ("y", "+"), ("z", "×"), ("×", "f")]


def test_scalar_graph_carries_the_values_and_gradients_of_the_example():
    svg = draw_graph(scalar_graph, -2.0, 5.0, -4.0).svg
    shown = texts(svg)
    for value in ("x = -2", "y = 5", "z = -4", "q = 3", "f = -12"):
        assert value in shown
    assert sorted(t for t in shown if re.fullmatch(r"-?\d+", t)) == sorted(["-4", "-4", "-4", "3", "1"])


def test_named_values_and_their_gradients_are_exposed():
    graph = draw_graph(scalar_graph, -2.0, 5.0, -4.0)
    assert graph.value("q") == 3 and graph.grad("q") == -4
    assert [float(graph.grad(v)) for v in "xyz"] == [-4.0, -4.0, 3.0]


def test_fan_out_shows_the_summed_gradient_and_each_branch():
    graph = draw_graph(lambda x: x * x + x, 3.0)  # d/dx = 2x + 1 = 7
    copy = next(n.id for n in graph.nodes if n.kind == "copy")
    into = [e for e in graph.edges if e.target == copy]
    out_of = [e for e in graph.edges if e.source == copy]
    assert [float(e.grad) for e in into] == [7.0]
    assert sorted(float(e.grad) for e in out_of) == [1.0, 3.0, 3.0]


def test_two_renders_are_byte_identical():
    first = draw_graph(scalar_graph, -2.0, 5.0, -4.0).svg
    assert draw_graph(scalar_graph, -2.0, 5.0, -4.0).svg == first


def test_labels_are_text_elements_not_outlines():
    svg = draw_graph(scalar_graph, -2.0, 5.0, -4.0).svg
    assert "<text" in svg and "<glyph" not in svg and "<use" not in svg
    assert {"x", "y", "z", "+", "×", "f"} <= set(texts(svg))


def test_matrix_values_show_their_values_or_their_shape():
    def layer(W, x, b):
        return jnp.sum(named(W @ x + b, "z"))

    W = jnp.arange(20.0).reshape(4, 5) / 10
    graph = draw_graph(layer, W, jnp.ones(5), jnp.zeros(4))
    shown = texts(graph.svg)
    assert "W = f64[4×5]" in shown and "x = [1, 1, 1, 1, 1]" in shown
    np.testing.assert_array_equal(graph.grad("x"), W.sum(axis=0))


def test_a_wrong_number_on_the_picture_is_rejected(ledger):
    import pytest

    from gradbook import ClaimFailed

    graph = draw_graph(scalar_graph, -2.0, 5.0, -4.0)
    graph.check_printed("kang.2.result", grads={"x": "-4", "z": "3"})
    with pytest.raises(ClaimFailed, match="∂f/∂y on the graph: printed 4"):
        graph.check_printed("kang.2.result", grads={"y": "4"})


def test_functions_with_a_custom_derivative_are_drawn():
    from gradbook import jax

    graph = draw_graph(lambda s: jnp.sum(jax.nn.relu(s)), jnp.array([-1.0, 2.0]))
    np.testing.assert_array_equal(graph.grad("s"), [0.0, 1.0])
    assert "relu" in texts(graph.svg)


def test_closed_over_arrays_are_drawn_as_constants():
    c = jnp.array([1.0, 2.0])
    graph = draw_graph(lambda x: jnp.sum(x * c), jnp.array([3.0, 4.0]))
    assert [n.kind for n in graph.nodes].count("const") == 1
    np.testing.assert_array_equal(graph.grad("x"), c)


def test_an_unused_input_and_a_non_finite_value_do_not_break_the_drawing():
    graph = draw_graph(lambda x, y: jnp.log(x), -1.0, 4.0)
    assert "f = nan" in texts(graph.svg) and "y" in texts(graph.svg)


def test_an_inner_jit_is_one_node_with_a_readable_label():
    from gradbook import jax

    graph = draw_graph(lambda x: jax.jit(lambda u: u * u)(x) * 2, 3.0)
    assert [n.label for n in graph.nodes if n.kind == "op"] == ["jit", "× 2"]
    assert float(graph.grad("x")) == 12.0
