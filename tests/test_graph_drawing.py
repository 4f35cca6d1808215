"""Graphs drawn from the computation: the right nodes and edges, and the numbers JAX computes."""
import re
from pathlib import Path

import numpy as np
import pytest

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

    W = jnp.arange(12.0).reshape(4, 3) / 10
    graph = draw_graph(layer, W, jnp.ones(3), jnp.zeros(4))
    shown = texts(graph.svg)
    assert "W = (4×3 matrix)" in shown and "x = [1, 1, 1]" in shown
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


# --- what a notebook shows: a PNG beside the SVG, at most a notebook's width ---

def mlp3(W1, b1, W2, b2, W3, b3, x, y):
    h1 = jnp.tanh(W1 @ x + b1)
    h2 = jnp.tanh(W2 @ h1 + b2)
    z = W3 @ h2 + b3
    return jnp.sum((z - y) ** 2)


def transformer_block(x, Wq, Wk, Wv, Wo, g):
    from gradbook import jax

    q, k, v = x @ Wq, x @ Wk, x @ Wv
    a = jax.nn.softmax(q @ k.T / jnp.sqrt(4.0), axis=-1)
    h = x + (a @ v) @ Wo
    mu = jnp.mean(h, axis=-1, keepdims=True)
    var = jnp.mean((h - mu) ** 2, axis=-1, keepdims=True)
    return jnp.sum((g * (h - mu) / jnp.sqrt(var + 1e-5)) ** 2)


def wide_graphs():
    rng = np.random.default_rng(0)
    mlp_args = [rng.normal(size=s) for s in [(4, 3), (4,), (4, 4), (4,), (2, 4), (2,), (3,), (2,)]]
    block_args = [rng.normal(size=s) for s in [(3, 4), (4, 4), (4, 4), (4, 4), (4, 4), (4,)]]
    return [draw_graph(mlp3, *mlp_args), draw_graph(transformer_block, *block_args)]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def svg_width(svg: str) -> float:
    return float(re.search(r'<svg[^>]*\swidth="([\d.]+)"', svg).group(1))


def test_a_graph_is_shown_as_png_beside_svg_for_untrusted_notebooks(monkeypatch):
    import base64

    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, raw=False: shown.append(data))
    graph = draw_graph(scalar_graph, -2.0, 5.0, -4.0)
    graph._shown = False
    graph._ipython_display_()
    assert {"image/svg+xml", "image/png", "text/plain"} <= set(shown[0])
    assert base64.b64decode(shown[0]["image/png"]) == graph.png


def test_wide_graphs_fit_a_notebook_at_a_readable_label_size():
    for graph in wide_graphs():
        assert svg_width(graph.svg) <= 1000 and png_size(graph.png)[0] <= 1000
        assert 12 * graph.canvas.scale >= 10, "labels shrunk below 10 px"


def test_a_graph_wider_than_a_notebook_is_laid_out_top_to_bottom():
    from gradbook.graph._drawing import _render_across, edge_texts, fold_shape_only

    graph = wide_graphs()[0]
    traced = fold_shape_only(graph.traced)
    assert _render_across(traced, "f", edge_texts(traced)).width > 1000  # left to right: too wide
    node_y = {s[3]: s[2] for s in graph.canvas.shapes if s[0] == "text" and s[6] == 14}
    assert node_y["f"] > node_y["W1"] + 10 * 96  # the output ten rows below the first input


def test_two_pngs_of_one_graph_are_byte_identical():
    first, second = wide_graphs()[1], wide_graphs()[1]
    assert first.png == second.png and first.svg == second.svg


def test_no_edge_runs_through_a_label():
    fan_out = draw_graph(lambda x: x * x + jnp.exp(x) * x, 0.9)
    for graph in wide_graphs() + [fan_out]:
        assert graph.canvas.crossings() == []


def test_the_crossing_check_sees_a_label_on_an_edge():
    from gradbook.graph._canvas import Canvas

    canvas = Canvas(200, 100)
    canvas.line([(0, 50), (200, 50)])
    canvas.text(80, 54, "3.14", "#000")
    canvas.text(80, 90, "clear", "#000")
    assert canvas.crossings() == ["3.14"]


def test_each_branch_gradient_sits_beside_its_own_edge():
    graph = draw_graph(lambda x: x * x + jnp.exp(x) * x, 0.9)
    lines = [s[1] for s in graph.canvas.shapes if s[0] == "line"]
    for shape in graph.canvas.shapes:
        if shape[0] == "text" and shape[3] in ("2.214", "2.46"):  # the two branch gradients
            x, y = shape[1], shape[2]
            starts = [p for line in lines for p in line[:2] if abs(p[0] - (x - 6)) < 0.5]
            assert starts, f"no edge leaves just left of the label {shape[3]}"


def test_an_input_not_differentiated_carries_no_gradient():
    graph = draw_graph(lambda w, y: (w * 3.0 - y) ** 2, 0.5, 2.0, wrt=["w"])
    shown = texts(graph.svg)
    assert "y = 2" in shown and "1" in shown  # the label is there, ...
    y_edge = next(e for e in graph.edges if e.name == "y")
    assert float(y_edge.grad) == 1.0 and "1.0" not in shown  # ... its gradient (1) is not
    assert shown.count("1") == 1  # only the output's seed


def test_shape_only_operations_are_drawn_through():
    graph = draw_graph(lambda X, b: jnp.sum(jnp.tanh(X + b[:, None])), jnp.ones((2, 3)),
                       jnp.array([0.1, -0.2]))
    shown = texts(graph.svg)
    assert not any("broadcast" in t or "reshape" in t for t in shown)
    assert "b = [0.1, -0.2]" in shown


def test_a_plot_is_shown_as_png_too_at_most_a_notebook_wide_and_reproducible(monkeypatch):
    import base64

    import IPython.display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gradbook import _figures

    shown = []
    monkeypatch.setattr(_figures, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda data, raw=False: shown.append(data))
    for _ in range(2):
        fig, ax = plt.subplots(figsize=(14, 3))  # 1,400 px at 100 dpi: wider than a notebook
        ax.plot([0, 1, 2], [1.0, 0.5, 0.2])
        _figures.show_figure(fig, "a falling line")
    first, second = (base64.b64decode(d["image/png"]) for d in shown)
    assert first == second and png_size(first)[0] <= 1000


def test_the_crossing_check_sees_two_labels_stacked_on_each_other():
    from gradbook.graph._canvas import Canvas

    canvas = Canvas(200, 100)
    canvas.text(80, 50, "0.25", "#000")
    canvas.text(84, 55, "-1.5", "#000")
    canvas.text(80, 90, "apart", "#000")
    assert canvas.crossings() == ["0.25", "-1.5"]


def test_values_take_the_names_their_lines_assign():
    def layer(W, x):
        h = jnp.tanh(W @ x)
        return jnp.sum(h * h)

    graph = draw_graph(layer, jnp.eye(2), jnp.array([0.5, -0.5]))
    assert "h = [0.4621, -0.4621]" in texts(graph.svg)
    np.testing.assert_allclose(graph.grad("h"), 2 * graph.value("h"))


ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in ROOT.glob("notebooks/**/*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_every_picture_in_a_built_notebook_shows_untrusted_and_fits_the_page(path):
    import base64
    import json

    problems = []
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for number, cell in enumerate(cells, 1):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/svg+xml" in data and "image/png" not in data:
                problems.append(f"cell {number}: SVG without a PNG (blank when untrusted)")
            if "image/png" in data:
                width = png_size(base64.b64decode("".join(data["image/png"])))[0]
                if width > 1000:
                    problems.append(f"cell {number}: a picture {width} px wide")
    assert problems == []
