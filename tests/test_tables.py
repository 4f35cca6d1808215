"""derive's tables in the user's terms: no shape-only rows, the source's names, exact constants,
no gradient for what is not differentiated, and formulas MathJax renders."""
import numpy as np
import pytest

from gradbook import jax, jnp
from gradbook._mathcheck import formulas, latex_problems

from _derive_pages import derive_markdown


def two_layer_mlp(W1, b1, W2, b2, X, Y):
    h = jnp.tanh(W1 @ X + b1[:, None])
    z = W2 @ h + b2[:, None]
    return 0.5 * jnp.sum((z - Y) ** 2) + 1e-5 * jnp.sum(W1 ** 2)


@pytest.fixture(scope="module")
def shown():
    """The Markdown derive shows for the MLP (as a notebook would get it), forward table first."""
    rng = np.random.default_rng(1)
    at = dict(W1=rng.normal(size=(3, 2)), b1=rng.normal(size=3), W2=rng.normal(size=(2, 3)),
              b2=rng.normal(size=2), X=rng.normal(size=(2, 4)), Y=rng.normal(size=(2, 4)))
    return derive_markdown(two_layer_mlp, at=at, wrt=["W1", "b1", "W2", "b2"])


def table(shown, title):
    return next(md for md in shown if md.startswith(f"#### {title}"))


def test_the_forward_table_has_no_shape_only_rows(shown):
    rows = [r for r in table(shown, "Forward pass").splitlines() if r.startswith("| $")]
    ops = {r.split(" | ")[1] for r in rows}
    assert ops == {"input", "matrix product", "add", "tanh", "subtract", "power", "sum", "multiply"}


def test_intermediates_take_the_names_the_source_assigns(shown):
    forward = table(shown, "Forward pass")
    assert "| $h$ | tanh | $h = " in forward and "| $z$ | add | $z = " in forward
    assert "| | | `h = jnp.tanh(W1 @ X + b1[:, None])` | | |" in forward  # grouped under its line


def test_a_constant_written_1e_minus_5_shows_as_ten_to_the_minus_5(shown):
    forward = table(shown, "Forward pass")
    assert "10^{-5}" in forward and "100000" not in forward and "0000000001" not in forward


def test_an_input_not_differentiated_has_no_gradient_row(shown):
    backward = table(shown, "Backward pass")
    assert "$X$ |" not in backward and "$Y$ |" not in backward
    bias = next(r for r in backward.splitlines() if "| $b_{1}$ |" in r)  # through its broadcast
    assert "summed over the broadcast" in bias and "(shape 3)" in bias


def test_shapes_are_labelled(shown):
    forward = table(shown, "Forward pass")
    assert "| shape |" in forward and "| 3×4 |" in forward


def test_every_formula_derive_shows_renders(shown):
    problems = [(tex, p) for md in shown for tex in formulas(md) for p in latex_problems(tex)]
    assert problems == []


def test_a_name_assigned_on_every_step_of_a_loop_is_not_given(ledger):
    from gradbook.graph._source_names import name_from_source
    from gradbook.graph._stage import stage

    def loop(x):
        h = x
        for _ in range(2):
            h = jnp.sin(h)
        return jnp.sum(h)

    staged = stage(loop, dict(x=np.array([0.1, 0.2])))
    name_from_source(staged)
    assert "h" not in [n.name for n in staged.nodes]


def test_a_long_backward_table_opens_on_demand(shown):
    backward = table(shown, "Backward pass")
    rows = [r for r in backward.splitlines() if r.startswith("| $")]
    assert len(rows) > 12 and "<details><summary>" in backward
    assert backward.index("<details>") < backward.index("| node |") < backward.index("</details>")
    assert backward.count("<details>") == backward.count("</details>") == 1


def test_a_products_rule_is_shown_as_a_matrix_identity_not_entry_by_entry(shown):
    proofs = [md for md in shown if r"\operatorname{tr}" in md]  # each product's rule, proven
    assert proofs and all("gv" not in md and r"\end{matrix}" not in md for md in proofs)
    assert any(r"= \overline{v_{1}} X^{T}" in md for md in proofs)
