"""The matrix-calculus derivative of a whole forward: each identity agrees with SymPy's own where
SymPy can differentiate the form, and the comparison of two forms tells wrong ones apart."""
import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from gradbook.graph._matrix_calculus import evaluated, matrix_gradient
from gradbook.graph._matrix_equal import equal

n, m, k = sp.symbols("n m k", integer=True, positive=True)
A, B, G = sp.MatrixSymbol("A", n, m), sp.MatrixSymbol("B", m, k), sp.MatrixSymbol("G", n, k)
C, D = sp.MatrixSymbol("C", n, m), sp.MatrixSymbol("D", n, n)
d = sp.Dummy("d")
tanh = sp.Lambda(d, sp.tanh(d))


H = sp.MatrixSymbol("H", n, m)
Q = sp.MatrixSymbol("Q", m, m)


@pytest.mark.parametrize("form, wrt, up", [
    (A * B, A, G),
    (A * B, B, G),
    (sp.HadamardProduct(A, C), A, H),
    (ElementwiseApplyFunction(tanh, A), A, H),
    (sp.Transpose(A) * D * A, A, Q),
], ids=["product left", "product right", "hadamard", "elementwise", "quadratic"])
def test_each_identity_agrees_with_sympys_matrix_calculus(form, wrt, up):
    assert equal(matrix_gradient(form, wrt, up), sp.diff(sp.Trace(up.T * form), wrt).doit())


def test_a_wrong_identity_would_be_told_apart():
    X, Y, S = (sp.MatrixSymbol(name, n, n) for name in "XYS")  # square: every product fits
    assert not equal(matrix_gradient(X * Y, X, S), S * Y)  # the transpose left out
    assert not equal(matrix_gradient(X * Y, Y, S), S * X.T)  # the factors swapped
    assert not equal(matrix_gradient(sp.HadamardProduct(X, Y), X, S), S)


def _trace_of(square):
    """tr(M) of a square M as a 1×1 matrix expression: Σᵢ M_ii is 1ᵀ (M ⊙ I) 1."""
    size = square.rows
    return sp.MatMul(sp.OneMatrix(1, size), sp.HadamardProduct(square, sp.Identity(size)),
                     sp.OneMatrix(size, 1))


def test_a_product_in_the_wrong_order_is_told_apart():
    X, W = sp.MatrixSymbol("X", n, n), sp.MatrixSymbol("W", n, n)
    assert not equal(W * X, X * W)
    assert not equal(W * X, sp.Transpose(W) * X)
    assert equal(sp.Transpose(W * X), sp.Transpose(X) * sp.Transpose(W))


def test_sums_and_broadcasts_are_compared_by_what_they_mean():
    W, X, Y = (sp.MatrixSymbol(s, n, n) for s in "WXY")
    r = sp.MatrixSymbol("r", 1, n)
    ones_column, ones_row = sp.OneMatrix(n, 1), sp.OneMatrix(1, n)
    assert equal(sp.MatMul(sp.MatAdd(W, X), Y), sp.MatAdd(W * Y, X * Y))
    assert not equal(sp.MatMul(ones_column, r), sp.Transpose(sp.MatMul(ones_column, r)))
    assert not equal(sp.MatMul(ones_column, ones_row, W), W)  # J W sums W's columns
    assert equal(sp.MatMul(ones_row, ones_column), sp.MatMul(n, sp.Identity(1)))


def test_a_gradient_evaluates_to_what_finite_differences_give():
    rng = np.random.default_rng(0)
    sizes = {n: 3, m: 2, k: 4}
    values = {A: rng.standard_normal((3, 2)), B: rng.standard_normal((2, 4)),
              G: rng.standard_normal((3, 4))}
    form = sp.MatMul(sp.Transpose(G), ElementwiseApplyFunction(tanh, sp.MatMul(A, B)))
    grad = evaluated(matrix_gradient(_trace_of(form), A), values, sizes)
    f = lambda a: np.trace(values[G].T @ np.tanh(a @ values[B]))  # noqa: E731
    step, numeric = 1e-6, np.zeros((3, 2))
    for i in np.ndindex(3, 2):
        e = np.zeros((3, 2))
        e[i] = step
        numeric[i] = (f(values[A] + e) - f(values[A] - e)) / (2 * step)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-8)


def test_a_matrix_power_is_a_product_of_its_factors():
    X, S = sp.MatrixSymbol("X", n, n), sp.MatrixSymbol("S", n, n)
    assert equal(matrix_gradient(sp.MatPow(X, 2), X, S), S * X.T + X.T * S)
    assert not equal(matrix_gradient(sp.MatPow(X, 2), X, S), 2 * S * X.T)


def test_a_sigmoid_written_two_ways_is_shown_equal_and_a_wrong_one_is_not():
    X = sp.MatrixSymbol("X", n, m)
    sigmoid = sp.Lambda(d, 1 / (1 + sp.exp(-d)))
    slope_as_sigma = sp.Lambda(d, sp.exp(-d) / (1 + sp.exp(-d)) ** 2)
    slope_as_exp = sp.Lambda(d, 1 / (sp.exp(d) + 2 + sp.exp(-d)))
    assert equal(ElementwiseApplyFunction(slope_as_sigma, X), ElementwiseApplyFunction(slope_as_exp, X))
    assert not equal(ElementwiseApplyFunction(slope_as_sigma, X), ElementwiseApplyFunction(sigmoid, X))
