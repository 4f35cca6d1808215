"""The four common bugs of kang §11, each written as the wrong formula and rejected by the checks.

Shapes are chosen so that no bug can hide: W is not square and the batch has several rows.
"""
import pytest

from gradbook import ClaimFailed, check_vjp, jax, jnp

KEY = jax.random.PRNGKey(0)
X = jax.random.normal(KEY, (4, 3))          # a batch of 4 rows, 3 features (row convention)
W_ROW = jax.random.normal(KEY, (3, 2))      # d_x × d_z
B = jnp.array([0.5, -1.0])
W_COL = W_ROW.T                              # d_z × d_x for the column convention z = W x + b
x = X[0]


def row_layer(X, W, b):
    return X @ W + b


def column_layer(W, x, b):
    return W @ x + b


def test_missing_transpose_is_rejected(ledger):
    wrong = lambda W, x, b, g: (jnp.outer(g, x), W @ g, g)          # ∂L/∂x = W g
    with pytest.raises(ClaimFailed, match="cannot be evaluated"):
        check_vjp("kang.9.affine", column_layer, wrong, at=(W_COL, x, B), wrt=("W", "x", "b"))


def test_row_column_convention_mismatch_is_rejected(ledger):
    wrong = lambda X, W, b, G: (G @ W.T, G.T @ X, G.sum(axis=0))    # ∂L/∂W = Gᵀ X, as for z = W x
    with pytest.raises(ClaimFailed, match=r"∂/∂W: the claimed gradient has shape \(2, 3\)"):
        check_vjp("kang.10.batch", row_layer, wrong, at=(X, W_ROW, B), wrt=("X", "W", "b"))


def test_bias_gradient_not_summed_over_the_batch_is_rejected(ledger):
    wrong = lambda X, W, b, G: (G @ W.T, X.T @ G, G[0])             # one row of G, not the sum
    with pytest.raises(ClaimFailed, match=r"∂/∂b\[\d\]: claimed"):
        check_vjp("kang.10.batch", row_layer, wrong, at=(X, W_ROW, B), wrt=("X", "W", "b"))


def test_relu_mask_not_taken_from_the_pre_activation_is_rejected(ledger):
    relu_layer = lambda X, W: jnp.maximum(X @ W, 0.0)
    right = lambda X, W, G: ((G * (X @ W > 0)) @ W.T, X.T @ (G * (X @ W > 0)))
    wrong = lambda X, W, G: ((G * (relu_layer(X, W) >= 0)) @ W.T,   # mask from the output, h ≥ 0
                             X.T @ (G * (relu_layer(X, W) >= 0)))
    check_vjp("jin.relu_mask", relu_layer, right, at=(X, W_ROW), wrt=("X", "W"))
    with pytest.raises(ClaimFailed, match=r"differs from jax.vjp"):
        check_vjp("jin.relu_mask", relu_layer, wrong, at=(X, W_ROW), wrt=("X", "W"))
