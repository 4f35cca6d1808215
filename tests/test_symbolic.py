"""SymPy proofs: each step is proven, and a step that does not follow is named with its difference."""
import pytest
import sympy as sp

from gradbook import ClaimFailed, derivative, prove_chain, prove_equal

s = sp.symbols("s", real=True)
SIGMA = 1 / (1 + sp.exp(-s))


def test_true_chain_is_proven_step_by_step(ledger):
    prove_chain("kang.5.sigmoid", derivative(SIGMA, s), sp.exp(-s) / (1 + sp.exp(-s)) ** 2,
                SIGMA * (1 - SIGMA))
    (check,) = ledger.checks
    assert check.kind == "sym" and check.passed
    assert "all 2 equalities" in check.detail


def test_wrong_middle_step_is_rejected_with_its_number_and_difference(ledger):
    wrong = sp.exp(-s) / (1 + sp.exp(-s))  # the square in the denominator is missing
    with pytest.raises(ClaimFailed) as caught:
        prove_chain("kang.5.sigmoid", derivative(SIGMA, s), wrong, SIGMA * (1 - SIGMA))
    message = str(caught.value)
    assert "step 1 does not follow from step 0" in message
    assert "exp(-s)/(1 + exp(-s))" in message and "not 0" in message
    assert ledger.checks[-1].passed is False


def test_only_the_false_step_fails_when_the_ends_agree(ledger):
    # The two ends are equal, but the middle step is false: proving only the ends would miss it.
    with pytest.raises(ClaimFailed, match="step 2 does not follow"):
        prove_chain("kang.5.sigmoid", SIGMA * (1 - SIGMA), sp.exp(-s) / (1 + sp.exp(-s)) ** 2,
                    sp.exp(-s), SIGMA * (1 - SIGMA))


def test_named_function_is_proven_through_its_definition(ledger):
    sigma = sp.Function("sigma")
    prove_equal("kang.5.sigmoid", sp.Derivative(sigma(s), s), sigma(s) * (1 - sigma(s)),
                where={sigma(s): SIGMA})
    assert ledger.checks[-1].passed


def test_matrix_gradient_is_proven_for_symbolic_sizes(ledger):
    n, dx, dz = sp.symbols("N d_x d_z", integer=True, positive=True)
    X, W, G = sp.MatrixSymbol("X", n, dx), sp.MatrixSymbol("W", dx, dz), sp.MatrixSymbol("G", n, dz)
    loss = sp.Trace(G.T * X * W)
    prove_equal("kang.10.batch", sp.Derivative(loss, W), X.T * G)
    assert "for every size" in ledger.checks[-1].detail


def test_missing_transpose_is_rejected_for_symbolic_sizes(ledger):
    n, dx, dz = sp.symbols("N d_x d_z", integer=True, positive=True)
    X, W, G = sp.MatrixSymbol("X", n, dx), sp.MatrixSymbol("W", dx, dz), sp.MatrixSymbol("G", n, dz)
    loss = sp.Trace(G.T * X * W)
    with pytest.raises(ClaimFailed, match="different shapes"):
        prove_equal("kang.10.batch", sp.Derivative(loss, W), G.T * X)


def test_explicit_matrices_are_compared_entry_by_entry(ledger):
    w = sp.Matrix(sp.symbols("w1:3"))
    x = sp.Matrix(sp.symbols("x1:3"))
    loss = (w.T * x)[0]
    prove_equal("kang.5.logreg", derivative(loss, w), x)
    with pytest.raises(ClaimFailed):
        prove_equal("kang.5.logreg", derivative(loss, w), w)


def test_a_single_expression_is_not_a_proof(ledger):
    with pytest.raises(ValueError, match="nothing to prove"):
        prove_chain("kang.5.sigmoid", SIGMA)


def test_justifications_render_as_text_with_math(ledger):
    result = prove_chain("kang.5.sigmoid", derivative(SIGMA, s),
                         (sp.exp(-s) / (1 + sp.exp(-s)) ** 2, "quotient rule on $1/u$"))
    assert r"\text{quotient rule on } 1/u" in result.latex
    assert r"\boxed{" in result.latex


def test_a_function_defined_by_a_lambda_is_substituted_at_every_call(ledger):
    t = sp.symbols("t", real=True)
    sigma = sp.Function("sigma")
    prove_equal("jin.defs", 1 - sigma(t), sigma(-t),
                where={sigma: sp.Lambda(t, 1 / (1 + sp.exp(-t)))})
    assert ledger.checks[-1].passed


def test_a_row_of_ones_prints_transposed():
    from gradbook.checks._symbolic import latex

    assert latex(sp.OneMatrix(1, 3)) == r"\mathbf{1}^{\mathsf{T}}"
    assert latex(sp.OneMatrix(3, 1)) == r"\mathbf{1}"


def test_a_plainly_false_step_is_rejected_at_a_point_without_simplifying(ledger):
    x, w = sp.symbols("x w", real=True)
    deep = sp.tanh(w * sp.tanh(w * sp.tanh(w * x)))
    wrong = sp.diff(deep, w) * (1 + x)  # an extra factor, inside expressions simplify() chews on
    with pytest.raises(ClaimFailed, match=r"left - right is .* at w = 1/2, x = 63/100, not 0"):
        prove_equal("kang.3.chain", sp.Derivative(deep, w), wrong)
