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
    with pytest.raises(ClaimFailed, match="differs from SymPy's derivative of the whole forward"):
        _matrix_whole.prove_whole_gradients(CLAIM, staged, rules, wrt=["W"])


def test_what_sympy_cannot_do_as_a_whole_is_said(shown):
    def attention(Q, K):
        return jnp.sum(jax.nn.softmax(jnp.einsum("bqe,bke->bqk", Q, K)))

    staged, rules = rules_of(attention, Q=rng.standard_normal((2, 3, 4)),
                             K=rng.standard_normal((2, 5, 4)))
    _matrix_whole.prove_whole_gradients(CLAIM, staged, rules)
    assert any("Not proven as a whole at symbolic sizes" in said for _, said in shown)
