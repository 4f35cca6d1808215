"""derive's pages read in the user's terms: the closed form has lines only for what is
differentiated, written with the function's own names (folded reshapes and broadcasts inlined);
multi-letter names are upright and set apart from the factors they multiply; loop rows show the
user's line and a loop's later steps are named by their step; picking each row's label reads
as onehot(y); no operation shows as an identity or by its primitive's name."""
import re

import numpy as np
import pytest

from gradbook import jax, jnp
from gradbook._mathcheck import formulas, latex_problems

from _derive_pages import derive_markdown


def mlp_on_labels(params, x, y):
    h = jnp.tanh(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(logp[jnp.arange(x.shape[0]), y])


def rnn_loss(Wz, h0, xs, target):
    def cell(h, x):
        h = jnp.tanh(Wz @ jnp.concatenate([x, h]))
        return h, h

    h, _ = jax.lax.scan(cell, h0, xs)
    return jnp.sum((h - target) ** 2)


def _shown(f, **kw):
    """The Markdown derive shows for `f`, as a notebook gets it (one random point: enough here)."""
    return derive_markdown(f, points=1, **kw)


@pytest.fixture(scope="module")
def mlp():
    rng = np.random.default_rng(18)
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 3)), "b2": rng.normal(size=3)}
    return _shown(mlp_on_labels, at=dict(params=params, x=rng.normal(size=(5, 3)),
                                         y=np.array([0, 2, 1, 1, 0])), wrt="params", output="L")


@pytest.fixture(scope="module")
def rnn():
    rng = np.random.default_rng(3)
    return _shown(rnn_loss, at=dict(Wz=rng.normal(size=(2, 4)), h0=np.zeros(2),
                                    xs=rng.normal(size=(3, 2)), target=rng.normal(size=2)),
                  wrt="Wz", output="L")


def _page(shown, title):
    return next(md for md in shown if md.startswith(f"#### {title}"))


def _closed_form_lines(shown) -> dict[str, str]:
    """The closed form's lines: the gradient each defines (LaTeX of its left side) -> its right."""
    body = _page(shown, "Closed form").split(r"\begin{aligned}")[1].split(r"\end{aligned}")[0]
    return dict(line.strip().split(" &= ", 1) for line in body.split(r"\\"))


def _forward_names(shown) -> set[str]:
    return {row.split("$")[1] for row in _page(shown, "Forward pass").splitlines()
            if row.startswith("| $")}


def test_closed_form_has_no_line_for_integer_labels(mlp):
    lines = _closed_form_lines(mlp)
    assert r"\bar{y}" not in lines and r"\overline{y}" not in "".join(lines)
    assert r"\bar{x}" not in lines  # data, not in wrt: no gradient either


def test_closed_form_has_lines_for_every_differentiated_input(mlp):
    lines = _closed_form_lines(mlp)
    for leaf in ("W_{1}", "b_{1}", "W_{2}", "b_{2}"):
        assert rf"\overline{{\mathrm{{params}}.{leaf}}}" in lines
        assert lines[rf"\overline{{\mathrm{{params}}.{leaf}}}"].startswith(r"\boxed{")


def test_closed_form_has_no_broadcast_or_reshape_lines(mlp):
    page = _page(mlp, "Closed form")
    assert r"\operatorname{broadcast}" not in page and r"\operatorname{reshape}" not in page
    assert r"\sum_{\text{copies}}" not in page


def test_closed_form_names_only_nodes_the_forward_table_shows(mlp):
    shown = _forward_names(mlp)
    named = set(re.findall(r"v_\{\d+\}", _page(mlp, "Closed form")))
    assert named and named <= shown, named - shown


def test_closed_form_has_no_line_for_what_only_feeds_stop_gradient(mlp):
    # log_softmax subtracts the row maximum under stop_gradient: no gradient flows into it
    assert not any(r"\arg\max" in rhs for rhs in _closed_form_lines(mlp).values())


def test_closed_form_inlines_a_gradient_equal_to_its_users(mlp):
    lines = _closed_form_lines(mlp)
    assert lines[r"\overline{\mathrm{params}.W_{2}}"] == r"\boxed{h^{T}\,\overline{\mathrm{logits}}}"
    assert lines[r"\overline{\mathrm{params}.b_{2}}"] == (
        r"\boxed{\textstyle\sum_{\text{axis 0}} \overline{\mathrm{logits}}}")


def test_a_subtracted_branch_reads_as_a_minus(mlp):
    closed = _page(mlp, "Closed form")
    assert "+ -" not in closed and r"\cdot \left(-1\right)" not in closed


def test_multi_letter_names_are_upright(mlp):
    forward, closed = _page(mlp, "Forward pass"), _page(mlp, "Closed form")
    assert r"| $\mathrm{logits}$ | add | $\mathrm{logits} = " in forward
    assert r"| $\mathrm{params}.W_{1}$ | input |" in forward
    assert r"\overline{\mathrm{logits}}" in closed
    for page in mlp:
        assert "$logits" not in page and "params.W1" not in page.replace("`", "")


@pytest.mark.parametrize("name, latex", [
    ("h0", "h_{0}"), ("W1", "W_{1}"), ("v12", "v_{12}"), ("x", "x"), ("alpha", r"\alpha"),
    ("xhat", r"\hat{x}"), ("y_pred", r"y_{\mathrm{pred}}"), ("logits", r"\mathrm{logits}"),
    ("Wz", r"\mathrm{Wz}"), ("xbar", r"\mathrm{xbar}"), ("params.W1", r"\mathrm{params}.W_{1}"),
    ("params.layers[0].W", r"\mathrm{params.layers[0]}.W"), ("my_var", r"\mathrm{my\_var}"),
    ("p['layer 1']", r"\text{p['layer 1']}")])
def test_a_letter_with_an_index_is_mathematics_and_a_word_is_upright(name, latex):
    from gradbook._notation import name_latex

    assert name_latex(name) == latex
    assert latex_problems(name_latex(name)) == []


def test_loop_rows_show_the_users_line(rnn):
    forward = _page(rnn, "Forward pass")
    assert "glue" not in forward and "self." not in forward
    assert "| | | `h, _ = jax.lax.scan(cell, h0, xs)` | | |" in forward


def test_max_with_minus_infinity_is_not_an_identity_row(mlp):
    rows = [r for r in _page(mlp, "Forward pass").splitlines() if r.startswith("| $")]
    identities = [r for r in rows if re.search(r"\$([^$]+) = ([a-z]_\{\d+\}|\\mathrm\{\w+\})\$", r)]
    assert identities == []
    assert sum(" | max | " in r for r in rows) == 1  # the row maximum, once


def test_every_formula_on_the_pages_renders(mlp, rnn):
    for page in mlp + rnn:
        for tex in formulas(page):
            assert latex_problems(tex) == [], tex


def test_a_reduction_is_drawn_by_its_operations_name():
    from gradbook.graph._trace import trace_graph

    graph = trace_graph(lambda x: jnp.sum(jnp.max(x, axis=1)), np.ones((2, 3)))
    labels = {n.label for n in graph.nodes if n.kind == "op"}
    assert "max" in labels and not any(label.startswith("reduce_") for label in labels)


def test_rows_inside_a_library_function_show_the_line_that_calls_it(mlp):
    forward = _page(mlp, "Forward pass")
    header = "| | | `logp = jax.nn.log_softmax(logits)` | | |"
    assert header in forward
    after = forward.split(header)[1].split("| | | `")[0]
    assert " | max | " in after and " | exp | " in after  # log_softmax's own rows, under its line


def test_an_upright_name_is_set_apart_from_the_factor_it_multiplies(mlp):
    from gradbook._notation import tidy

    assert tidy(r"\overline{\mathrm{logits}} \mathrm{params}.W_{2}^{T}") == (
        r"\overline{\mathrm{logits}}\,\mathrm{params}.W_{2}^{T}")
    assert tidy(r"x \mathrm{params}.W_{1}") == r"x\,\mathrm{params}.W_{1}"
    for untouched in (r"\mathrm{logits} - v_{5}", r"\frac{\partial \mathrm{logits}}{\partial v_{5}}",
                      r"h^{T} \overline{v_{5}}", r"\sum_{\text{axis } k} x", r"2 \cdot \mathrm{a}"):
        assert tidy(untouched) == untouched
    lines = _closed_form_lines(mlp)  # the closed form still finds its lines, now spaced
    assert lines[r"\bar{h}"] == r"\overline{\mathrm{logits}}\,\mathrm{params}.W_{2}^{T}"
    assert r"$v_{1} = x\,\mathrm{params}.W_{1}$" in _page(mlp, "Forward pass")
    proofs = [md for md in mlp if r"\operatorname{tr}" in md]
    assert proofs and all(r"x\,\mathrm{params}.W_{1}" in md for md in proofs)


def test_picking_each_rows_label_reads_as_onehot(mlp):
    closed, backward = _page(mlp, "Closed form"), _page(mlp, "Backward pass")
    lines = _closed_form_lines(mlp)
    assert lines[r"\overline{\mathrm{logp}}"].startswith(r"\operatorname{onehot}(y) \odot ")
    assert "scatter" not in closed and "scatter" not in backward
    definition = r"$\operatorname{onehot}(y)$ is the 5×3 matrix whose row $i$ is 1 at column $y_{i}$"
    assert definition in closed and definition in backward
    assert r"\left[\operatorname{onehot}(y)\right]_{i j}" in backward
    assert r"\mathrm{logp}_{i,\,y_{i}}" in _page(mlp, "Forward pass")


@pytest.mark.parametrize("pick, label", [
    (lambda logp, y: logp[jnp.arange(5), y], "y"),
    (lambda logp, y: jnp.take_along_axis(logp, y[:, None], axis=1), "y"),
    (lambda logp, y: logp[jnp.arange(5), -y], None),  # not each row's label: no onehot(y)
    (lambda logp, y: logp[y, 0], None)])
def test_only_a_gather_of_each_rows_label_is_a_onehot(pick, label):
    from gradbook.graph._onehot import row_labels
    from gradbook.graph._stage import stage

    staged = stage(lambda logp, y: jnp.sum(pick(logp, y)),
                   dict(logp=np.ones((5, 3)), y=np.array([0, 2, 1, 1, 0])))
    found = [row_labels(n, staged) for n in staged.nodes if n.op == "gather"]
    assert found == [label]


def test_names_come_from_library_calls_and_loop_bodies(mlp, rnn):
    assert r"| $\mathrm{logp}$ | subtract |" in _page(mlp, "Forward pass")  # jax.nn.log_softmax's
    forward = _page(rnn, "Forward pass")
    assert r"| $h_{1}$ | tanh | $h_{1} = " in forward  # the scan body's h, at step 1
    assert r"\operatorname{stack}(h_{1}, h_{2}, h_{3})" in forward


def test_a_loops_later_steps_are_written_by_their_step(rnn):
    shown = _forward_names(rnn)
    closed = _page(rnn, "Closed form")
    named = set(re.findall(r"v_\{\d+\}", closed))
    assert named <= shown, named - shown  # no v₃₅ the tables hide
    assert r"\overline{h_{2}}" in closed and r"^{(2)}}" in closed  # a later step's unnamed node
    loop = _page(rnn, "The loop")
    assert r"| step $t$ | $h_{t}$ | $\overline{h_{t}}$ |" in loop
    assert "| 1 | " in loop and "| 3 | " in loop and "| 0 | " not in loop


def test_a_constant_row_sits_under_the_line_that_made_it(mlp):
    forward = _page(mlp, "Forward pass").splitlines()
    heading = forward.index("| | | `return -jnp.mean(logp[jnp.arange(x.shape[0]), y])` | | |")
    constant = next(k for k, row in enumerate(forward) if " | const | " in row)
    assert constant > heading


def _closed_form_at_example(f, at, wrt) -> str:
    """The closed form's Markdown, given the worked example's values and gradients."""
    from gradbook.graph._backward import backward, derive_rules, forward
    from gradbook.graph._closed_form import array_closed_form
    from gradbook.graph._source_names import name_from_source
    from gradbook.graph._stage import stage

    staged = stage(f, at, output="L")
    name_from_source(staged)
    rules = derive_rules(staged)
    values = forward(staged, {n.name: n.value for n in staged.nodes if n.op == "input"})
    grads = backward(staged, rules, values)[0]
    return array_closed_form(staged, rules, wrt, values=values, grads=grads)._repr_markdown_()


def _picked_logits(log_softmax):
    def loss(W, x, y):
        logits = x @ W
        scores = jax.nn.log_softmax(logits) if log_softmax else logits
        return -jnp.mean(scores[jnp.arange(x.shape[0]), y])
    return loss


@pytest.mark.parametrize("log_softmax", [True, False])
def test_the_logits_gradient_reads_as_softmax_minus_onehot_only_where_it_is(log_softmax):
    rng = np.random.default_rng(4)
    at = dict(W=rng.normal(size=(3, 4)), x=rng.normal(size=(5, 3)), y=np.array([0, 3, 1, 1, 2]))
    closed = _closed_form_at_example(_picked_logits(log_softmax), at, ["W"])
    familiar = (r"$\overline{\mathrm{logits}} = \frac{1}{5}\left(\operatorname{softmax}"
                r"(\mathrm{logits}) - \operatorname{onehot}(y)\right)$")
    assert (familiar in closed) == log_softmax  # without the log-softmax it is -onehot(y)/5
    assert ("softmax" in closed) == log_softmax


def test_the_recurrence_table_gives_no_gradient_to_inputs_not_differentiated():
    from gradbook.graph._backward import backward, derive_rules, forward
    from gradbook.graph._loops import recurrence_table
    from gradbook.graph._source_names import name_from_source
    from gradbook.graph._stage import stage

    rng = np.random.default_rng(3)
    staged = stage(rnn_loss, dict(Wz=rng.normal(size=(2, 4)), h0=np.zeros(2),
                                  xs=rng.normal(size=(3, 2)), target=rng.normal(size=2)), output="L")
    name_from_source(staged)
    rules = derive_rules(staged)
    values = forward(staged, {n.name: n.value for n in staged.nodes if n.op == "input"})
    grads, branches = backward(staged, rules, values)
    table = recurrence_table(staged, grads, values, branches, wrt=["Wz"])._repr_markdown_()
    assert r"part of $\overline{\mathrm{Wz}}$" in table and r"$\overline{h_{t}}$" in table
    assert r"\overline{h_{0}}" not in table and r"\overline{\mathrm{xs}}" not in table
