"""Product rules and whole gradients proven by SymPy's matrix calculus at symbolic sizes; a
wrong rule rejected; the sizes stated; a form SymPy cannot do proven at capped sizes, said so."""
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from gradbook import jax, jnp
from gradbook._mathcheck import latex_problems
from gradbook.checks._ledger import ClaimFailed
from gradbook.graph import _matrix_proofs, _matrix_whole
from gradbook.graph._backward import derive_rules
from gradbook.graph._stage import stage

CLAIM = "kang.5.sigmoid"
rng = np.random.default_rng(3)


@pytest.fixture
def shown(ledger, monkeypatch):
    """What the proofs put on the page: (LaTeX, check details) per displayed result."""
    pages = []

    class Page:
        def __init__(self, checks, latex=None, value=None):  # noqa: ARG002
            pages.append((latex or "", " ".join(c.detail for c in checks)))

    monkeypatch.setattr(_matrix_proofs, "Result", Page)
    monkeypatch.setattr(_matrix_whole, "Result", Page)
    monkeypatch.setattr("gradbook._display.show", lambda o: pages.append(("", repr(o))))
    monkeypatch.setattr("gradbook.checks._symbolic.Result", Page)
    return pages


def rules_of(f, **at):
    staged = stage(f, at)
    return staged, derive_rules(staged)


def matmul(W, X):
    return jnp.sum(jnp.tanh(W @ X))


def test_a_correct_product_rule_is_proven_for_every_size(shown):
    staged, rules = rules_of(matmul, W=rng.standard_normal((5, 3)), X=rng.standard_normal((3, 4)))
    _matrix_proofs.prove_product_rules(CLAIM, staged, rules)
    assert len(shown) == 2 and all("for every size" in detail for _, detail in shown)


def test_the_page_states_the_sizes_in_latex_that_renders(shown):
    staged, rules = rules_of(matmul, W=rng.standard_normal((5, 3)), X=rng.standard_normal((3, 4)))
    _matrix_proofs.prove_product_rules(CLAIM, staged, rules)
    for latex, _ in shown:
        assert r"W \in \mathbb{R}^{n\times m}" in latex and r"X \in \mathbb{R}^{m\times k}" in latex
        assert latex_problems(latex) == []


@pytest.mark.parametrize("wrong", ["missing transpose", "swapped"])
def test_a_wrong_product_rule_is_rejected(shown, wrong):
    staged, rules = rules_of(matmul, W=rng.standard_normal((3, 3)), X=rng.standard_normal((3, 3)))
    rule = next(r for r in rules.values() if r.node.rule.kind == "dot")
    local = next(loc for loc in rule.locals if loc.input == "W")
    g, x = sorted(local.expr.atoms(sp.MatrixSymbol), key=lambda m: not m.name.startswith(r"\bar"))
    bad = g * x if wrong == "missing transpose" else x.T * g
    with pytest.raises(ClaimFailed):
        _matrix_proofs.prove_rule(CLAIM, rule, replace(local, expr=bad))


def test_a_form_sympy_cannot_differentiate_is_proven_at_capped_sizes_and_said(shown, monkeypatch):
    def refuses(*args, **kwargs):
        raise NotImplementedError("no matrix calculus for this form")

    staged, rules = rules_of(matmul, W=rng.standard_normal((5, 3)), X=rng.standard_normal((3, 4)))
    monkeypatch.setattr(_matrix_proofs.sp, "diff", refuses)
    _matrix_proofs.prove_product_rules(CLAIM, staged, rules)
    monkeypatch.undo()
    latex = shown[0][0]
    assert "entry by entry at sizes" in latex and "only: SymPy" in latex and "cannot" in latex
    assert latex_problems(latex) == []


def test_a_whole_gradient_is_proven_at_symbolic_sizes(shown):
    def least_squares(W, X, Y):
        return jnp.sum((W @ X - Y) ** 2)

    staged, rules = rules_of(least_squares, W=rng.standard_normal((2, 3)),
                             X=rng.standard_normal((3, 4)), Y=rng.standard_normal((2, 4)))
    _matrix_whole.prove_whole_gradients(CLAIM, staged, rules, wrt=["W"])
    (latex, detail), = shown
    assert "the whole gradient" in detail and "for every size" in detail
    assert r"W \in \mathbb{R}^{n\times m}" in latex and latex_problems(latex) == []


def test_a_whole_gradient_composed_wrong_is_rejected(shown):
    def least_squares(W, X, Y):
        return jnp.sum((W @ X - Y) ** 2)

    staged, rules = rules_of(least_squares, W=rng.standard_normal((2, 3)),
                             X=rng.standard_normal((3, 4)), Y=rng.standard_normal((2, 4)))
    square = next(r for r in rules.values() if r.node.op == "integer_pow")
    square.locals[0] = replace(square.locals[0], expr=3 * square.locals[0].expr)
    with pytest.raises(ClaimFailed, match="differs from the whole forward differentiated"):
        _matrix_whole.prove_whole_gradients(CLAIM, staged, rules, wrt=["W"])


def test_what_sympy_cannot_do_as_a_whole_is_said(shown):
    def attention(Q, K):
        return jnp.sum(jax.nn.softmax(jnp.einsum("bqe,bke->bqk", Q, K)))

    staged, rules = rules_of(attention, Q=rng.standard_normal((2, 3, 4)),
                             K=rng.standard_normal((2, 5, 4)))
    _matrix_whole.prove_whole_gradients(CLAIM, staged, rules)
    assert any("Not proven as a whole at symbolic sizes" in said for _, said in shown)


def two_layer(W1, b1, W2, X, Y):
    H = jnp.tanh(W1 @ X + b1[:, None])
    Z = W2 @ H
    return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(Z, axis=0), axis=0))


def two_layer_at(n=3):
    return dict(W1=rng.standard_normal((n, n)), b1=rng.standard_normal(n),
                W2=rng.standard_normal((n, n)), X=rng.standard_normal((n, n)),
                Y=np.eye(n)[np.arange(n) % n])


def test_a_two_layer_network_is_proven_whole_at_symbolic_sizes(shown):
    staged, rules = rules_of(two_layer, **two_layer_at())
    _matrix_whole.prove_whole_gradients(CLAIM, staged, rules, wrt=["W1", "b1", "W2"])
    (latex, detail), = shown
    assert "for every size" in detail and "matrix calculus" in detail
    assert r"W_{1} \in \mathbb{R}^{n\times n}" in latex and latex_problems(latex) == []


def missing_transpose(rules, node_input):
    """The network's rules with W1's product rule Ḡ Xᵀ made Ḡ X (square sizes: it still fits)."""
    rule = next(r for r in rules.values() if r.node.rule.kind == "dot" and "W1" in r.node.inputs)
    i, local = next((i, loc) for i, loc in enumerate(rule.locals) if loc.input == node_input)
    rule.locals[i] = replace(local, expr=local.expr.replace(lambda e: isinstance(e, sp.Transpose),
                                                            lambda e: e.arg))


def test_a_missing_transpose_in_a_network_is_rejected_as_a_whole(shown):
    staged, rules = rules_of(two_layer, **two_layer_at())
    missing_transpose(rules, "W1")
    with pytest.raises(ClaimFailed, match="differs from the whole forward differentiated"):
        _matrix_whole.prove_whole_gradients(CLAIM, staged, rules, wrt=["W1"])


def test_a_form_too_large_to_compare_is_still_rejected_when_wrong(shown, monkeypatch):
    monkeypatch.setattr(_matrix_whole, "COMPARED_NODES", 10)
    staged, rules = rules_of(two_layer, **two_layer_at())
    _matrix_whole.prove_whole_gradients(CLAIM, staged, rules, wrt=["W1"])
    assert "too large" in shown[-1][1] and "the two agree" in shown[-1][1]
    missing_transpose(rules, "W1")
    with pytest.raises(ClaimFailed, match="at a random point"):
        _matrix_whole.prove_whole_gradients(CLAIM, staged, rules, wrt=["W1"])


def test_a_concatenation_is_proven_whole_at_symbolic_sizes(shown):
    def gate(W, x, h):
        return jnp.sum(jax.nn.sigmoid(W @ jnp.concatenate([x, jnp.tanh(h)])))

    staged, rules = rules_of(gate, W=rng.standard_normal((3, 5)), x=rng.standard_normal(2),
                             h=rng.standard_normal(3))
    _matrix_whole.prove_whole_gradients(CLAIM, staged, rules, wrt=["W", "h"])
    (latex, detail), = shown
    assert "for every size" in detail


def test_integer_labels_picked_per_row_are_proven_whole(shown):
    def picked(W, x, y):
        logp = jax.nn.log_softmax(x @ W)
        return -jnp.mean(logp[jnp.arange(x.shape[0]), y])

    staged, rules = rules_of(picked, W=rng.standard_normal((3, 4)), x=rng.standard_normal((5, 3)),
                             y=np.array([0, 3, 1, 1, 2]))
    _matrix_whole.prove_whole_gradients(CLAIM, staged, rules, wrt=["W"])
    (latex, detail), = shown
    assert "for every size" in detail
