"""Numeric checks against JAX and finite differences, in float64, with stated tolerances."""
import math

import numpy as np
import pytest

from gradbook import ClaimFailed, check_close, check_gradient, check_jacobian, check_vjp, jax, jnp
from gradbook.checks._finite_diff import fd_jacobian
from gradbook.checks._tolerance import AUTODIFF_RTOL, FD_RTOL


def sigmoid(s):
    return 1 / (1 + jnp.exp(-s))


def affine(W, x, b):
    return W @ x + b


W0 = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # non-square, so a missing transpose shows
X0, B0, G0 = jnp.array([0.5, -1.0, 2.0]), jnp.array([0.1, -0.2]), jnp.array([10.0, -1.0])


def test_jax_runs_in_float64():
    assert jnp.ones(2).dtype == jnp.float64
    assert jax.config.jax_enable_x64


def test_correct_gradient_passes_jax_and_fd(ledger):
    check_gradient("kang.5.sigmoid", sigmoid, lambda s: sigmoid(s) * (1 - sigmoid(s)), at=(1.4,))
    assert [(c.kind, c.passed) for c in ledger.checks] == [("jax", True), ("fd", True)]


def test_wrong_gradient_reports_worst_element_both_values_and_errors(ledger):
    with pytest.raises(ClaimFailed) as caught:
        check_gradient("kang.5.sigmoid", sigmoid, lambda s: sigmoid(s) * (1 + sigmoid(s)),
                       at=(1.4,), points=0)
    message = str(caught.value)
    assert "at the worked example, ∂/∂s: claimed" in message
    exact = 1 / (1 + math.exp(-1.4)) * (1 - 1 / (1 + math.exp(-1.4)))  # σ'(1.4), by hand
    assert f"reference {exact:.10g}" in message
    assert "|Δ|" in message and "relative" in message and "allowed" in message


def test_missing_transpose_is_rejected(ledger):
    with pytest.raises(ClaimFailed, match="cannot be evaluated at the worked example: TypeError"):
        check_vjp("kang.9.affine", affine, lambda W, x, b, g: (jnp.outer(g, x), W @ g, g),
                  at=(W0, X0, B0), cotangent=G0, wrt=("W", "x", "b"))


def test_transposed_weight_gradient_is_rejected_by_shape(ledger):
    with pytest.raises(ClaimFailed, match=r"∂/∂W: the claimed gradient has shape \(3, 2\)"):
        check_vjp("kang.9.affine", affine, lambda W, x, b, g: (jnp.outer(x, g), W.T @ g, g),
                  at=(W0, X0, B0), cotangent=G0, wrt=("W", "x", "b"))


def test_correct_vjp_passes(ledger):
    check_vjp("kang.9.affine", affine, lambda W, x, b, g: (jnp.outer(g, x), W.T @ g, g),
              at=(W0, X0, B0), cotangent=G0, wrt=("W", "x", "b"))
    assert all(c.passed for c in ledger.checks)


def test_small_error_beyond_the_autodiff_tolerance_is_caught(ledger):
    # A formula off by one part in 1e8 is not float64 rounding: the autodiff check must catch it.
    slope = lambda s: sigmoid(s) * (1 - sigmoid(s)) * (1 + 1e-8)
    with pytest.raises(ClaimFailed, match=r"\[jax\]"):
        check_gradient("kang.5.sigmoid", sigmoid, slope, at=(1.4,))


def test_jacobian_check_rejects_a_transposed_jacobian(ledger):
    f = lambda x: jnp.tanh(W0 @ x)
    right = lambda x: (1 - jnp.tanh(W0 @ x) ** 2)[:, None] * W0
    check_jacobian("kang.6.shapes", f, right, at=(X0,))
    with pytest.raises(ClaimFailed, match="shape"):
        check_jacobian("kang.6.shapes", f, lambda x: right(x).T, at=(X0,))


def test_finite_differences_alone_catch_a_wrong_formula():
    s = np.array([0.3, -1.2])
    witness = fd_jacobian(lambda v: jnp.sum(sigmoid(v)), (s,), 0)
    exact = np.asarray(sigmoid(s) * (1 - sigmoid(s)))
    assert np.max(np.abs(witness - exact)) < FD_RTOL
    assert np.max(np.abs(witness - 1.01 * exact)) > FD_RTOL


def test_tolerances_are_ordered_tight_to_loose():
    assert AUTODIFF_RTOL < FD_RTOL < 1e-4


def test_check_close_rejects_a_different_value(ledger):
    check_close("kang.2.forward", "jax", "f", -12.0, -12.0)
    with pytest.raises(ClaimFailed, match="claimed -11.999"):
        check_close("kang.2.forward", "jax", "f", -12.0, -11.999)


def test_float32_inputs_are_refused(ledger):
    with pytest.raises(TypeError, match="float64"):
        check_gradient("kang.5.sigmoid", sigmoid, sigmoid, at=(jnp.float32(1.0),), points=0)
