""""The committed notebook is what its source builds", on every CPU (build/_fresh.py).

Float64 rounding figures (residuals written by checks/_residual.py) may differ between
processors; nothing else may: a printed number, a formula or a figure that changed is stale.
"""
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from gradbook.build import Options, build
from gradbook.build._fresh import differences
from gradbook.checks._residual import mask_residuals, residual

ROOT = Path(__file__).resolve().parent.parent
CHECK = "✓ `kang.5.sigmoid` · jax — matches jax.grad at the worked example; {}"
SVG = '<svg width="10" height="10"><path d="M 0 0 L 4.5 7.25"/><text>σ</text></svg>'


def notebook(path: Path, check_line: str, printed="0.8022", formula=r"$\sigma'(s) = \sigma(s)(1 - \sigma(s))$",
             svg=SVG) -> Path:
    """A small built notebook: a formula, a check line with its residual, a printed number, a figure."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(formula, id="cell-000"),
                nbformat.v4.new_code_cell("check()", id="cell-001", outputs=[
                    nbformat.v4.new_output("display_data", {"text/markdown": check_line,
                                                            "text/plain": check_line}),
                    nbformat.v4.new_output("stream", text=f"σ(0.4) = {printed}\n"),
                    nbformat.v4.new_output("display_data", {"image/svg+xml": svg})])]
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def committed(tmp_path):
    return notebook(tmp_path / "committed.ipynb", CHECK.format(residual(5.6e-17, 1.6e-11)))


def test_residuals_that_moved_with_the_processor_leave_a_notebook_current(committed, tmp_path):
    built = notebook(tmp_path / "built.ipynb", CHECK.format(residual(0.0, 3.2e-10)))
    assert committed.read_bytes() != built.read_bytes()
    assert differences(built, committed) is None


@pytest.mark.parametrize("change", [
    dict(printed="0.8023"),                                              # a printed number
    dict(formula=r"$\sigma'(s) = \sigma(s)(1 + \sigma(s))$"),            # a formula
    dict(svg=SVG.replace("7.25", "7.5")),                                # a figure
    dict(check_line=CHECK.replace("kang.5.sigmoid", "kang.5.bce_logit").format(residual(1e-17, 1e-11))),
    dict(check_line=CHECK.replace("✓", "✗").format(residual(5.6e-17, 1.6e-11))),  # a status
])
def test_a_real_change_makes_a_notebook_stale(committed, tmp_path, change):
    change.setdefault("check_line", CHECK.format(residual(5.6e-17, 1.6e-11)))
    built = notebook(tmp_path / "built.ipynb", **change)
    assert differences(built, committed) is not None


def test_a_figure_is_compared_by_its_svg_not_by_the_pixels_beside_it(tmp_path):
    line = CHECK.format(residual(5.6e-17, 1.6e-11))
    committed, built = (notebook(tmp_path / f"{n}.ipynb", line) for n in ("committed", "built"))
    for path, pixels, svg in ((committed, "iVBORw0KGgoAAAA", SVG), (built, "iVBORw0KGgoBBBB", SVG)):
        nb = nbformat.read(path, as_version=4)
        nb.cells[1].outputs[2]["data"].update({"image/png": pixels, "image/svg+xml": svg})
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    assert differences(built, committed) is None
    nb = nbformat.read(built, as_version=4)
    nb.cells[1].outputs[2]["data"]["image/svg+xml"] = SVG.replace("7.25", "7.5")
    built.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    assert differences(built, committed) is not None


def test_the_difference_names_the_cell_and_both_lines(committed, tmp_path):
    built = notebook(tmp_path / "built.ipynb", CHECK.format(residual(1e-16, 1e-11)), printed="0.8023")
    why = differences(built, committed)
    assert why.startswith("cell 1: its outputs differ") and "0.8022" in why and "0.8023" in why


def test_a_residual_over_its_bound_is_compared_digit_by_digit():
    assert mask_residuals(residual(2e-10, 1e-10)) == residual(2e-10, 1e-10)
    assert mask_residuals(residual(5e-2, 1e-4, "relative error", above=True)) != residual(
        5e-2, 1e-4, "relative error", above=True)
    assert mask_residuals(residual(5e-5, 1e-4, "relative error", above=True)) == residual(
        5e-5, 1e-4, "relative error", above=True)


def test_a_residual_that_could_not_be_masked_is_refused():
    with pytest.raises(ValueError, match="cannot write a residual"):
        residual(1e-16, 1e-10, "error, in float32")


def test_a_notebook_built_for_another_instruction_set_is_current(tmp_path, monkeypatch):
    """SSE4.2 instead of the processor's widest vector instructions changes float64 rounding."""
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_max_isa=SSE4_2")  # the kernels inherit it
    name = "01_computational_graphs"
    scratch = tmp_path / "notebooks"
    scratch.mkdir()
    shutil.copy(ROOT / "notebooks" / "ledger.json", scratch)
    options = Options(derivations=ROOT / "derivations", notebooks=scratch, only=[name], force=True,
                      quiet=True, lock_file=ROOT / "requirements.lock", jax_cache=None)
    [outcome] = build(options, report=lambda line: None)
    assert not outcome.failed, outcome.message
    why = differences(scratch / f"{name}.ipynb", ROOT / "notebooks" / f"{name}.ipynb")
    assert why is None, f"built with --xla_cpu_max_isa=SSE4_2, {name} {why}"


def test_a_number_that_is_rounding_noise_is_shown_as_zero_and_a_small_true_one_is_kept():
    from gradbook.graph._derive import _shown_without_noise
    from gradbook.graph._rounding import cleaned

    assert cleaned(np.array([1.5, 2.8e-17, -6.9e-18]), 1.0).tolist() == [1.5, 0.0, 0.0]
    assert cleaned(np.array([1e-9, 3e-10]), np.array([1e-9, 3e-10])).tolist() == [1e-9, 3e-10]
    grads = {"m": np.array(2.8e-17), "w": np.array([1e-9, 0.5])}
    sizes = {"m": np.array(2.0), "w": np.array([1e-9, 0.5])}  # what was summed into each entry
    _, shown, _ = _shown_without_noise({"m": np.array(3.0)}, grads, {}, sizes)
    assert float(shown["m"]) == 0.0 and shown["w"].tolist() == [1e-9, 0.5]


def test_a_graph_draws_a_gradient_that_is_rounding_noise_as_zero():
    from gradbook import jnp
    from gradbook.graph._trace import trace_graph

    def f(W, x, y):  # the max's gradient is exactly 0 in real arithmetic, about 1e-16 in float64
        z = jnp.tanh(x @ W)
        s = z - jnp.max(z, axis=1, keepdims=True)
        return -jnp.sum(y * (s - jnp.log(jnp.sum(jnp.exp(s), axis=1, keepdims=True))))

    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    graph = trace_graph(f, jnp.array(W), jnp.array(x), jnp.eye(4)[jnp.array([1, 3])])
    entries = [abs(float(v)) for e in graph.edges if e.grad is not None for v in np.ravel(e.grad)]
    assert 0.0 in entries and all(v == 0.0 or v > 1e-6 for v in entries)
