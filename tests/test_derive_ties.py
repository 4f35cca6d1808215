"""Ties of max-like operations: derive's convention at a tie (max, min, clamp at its bound,
relu at 0, reduce_max, pooling, cummax, cummin) is JAX's, stated on the page, and checked
against JAX at ties constructed on purpose; a wrong convention in the rule table is rejected."""
import numpy as np
import pytest
import sympy as sp

from gradbook import ClaimFailed, derive, jax, jnp
from gradbook.graph import _rules
from gradbook.graph._backward import backward, derive_rules, forward
from gradbook.graph._stage import stage

X = np.array([[0.3, -1.2, 0.8], [1.1, 0.2, -0.5], [-0.7, 1.6, 0.45], [0.9, -0.1, 1.3]])
WEIGHTS = np.cos(np.arange(12.0)).reshape(4, 3)


def maximum(x, y):
    return jnp.sum(jnp.maximum(x, y) * WEIGHTS) + jnp.sum(jnp.minimum(x, 0.5 * y))


def lax_clamp(x):
    return jnp.sum(jax.lax.clamp(-0.4, x, 0.6) * WEIGHTS)


def clamp_all_operands(lo, x, hi):
    return jnp.sum(jax.lax.clamp(lo, x, hi) * WEIGHTS)


def clip(x):
    return jnp.sum(jnp.clip(x, -0.5, 0.5) * WEIGHTS)


def running_max(x):
    return jnp.sum(jax.lax.cummax(x, axis=0) * WEIGHTS) + jnp.sum(jax.lax.cummax(x, axis=1, reverse=True) ** 2)


def running_min(x):
    return jnp.sum(jax.lax.cummin(x, axis=0) * WEIGHTS)


def reduce_max(x):
    return jnp.sum(jnp.max(x, axis=1) * jnp.arange(4.0)) - jnp.min(x)


def max_pool(x):
    return jnp.sum(jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (2, 2), (1, 1), "VALID") * WEIGHTS[:3, :2])


def relu(x):
    return jnp.sum(jax.nn.relu(x) * WEIGHTS)


def absolute(x):
    return jnp.sum(jnp.abs(x - 0.25) * WEIGHTS)


@jax.jit
def _soft_abs(u):  # a jitted helper staged as one node, its formula |u| + u²/2
    return jnp.abs(u) + 0.5 * u * u


def abs_in_a_helper(x):
    return jnp.sum(_soft_abs(x - 0.25) * WEIGHTS)


def argmax_picked(x):
    return jnp.sum(x[jnp.arange(4), jnp.argmax(x, axis=1)] ** 2)


# name: (function, a worked example away from ties, the tie conventions it uses)
AWAY = {
    "maximum": (maximum, dict(x=X, y=X[::-1]), {"max", "min"}),
    "lax_clamp": (lax_clamp, dict(x=X), {"clamp"}),
    "clamp_all_operands": (clamp_all_operands, dict(lo=-0.4 + 0 * X, x=X, hi=0.6 + 0 * X), {"clamp"}),
    "running_max": (running_max, dict(x=X), {"cummax"}),
    "running_min": (running_min, dict(x=X), {"cummin"}),
    "reduce_max": (reduce_max, dict(x=X), {"reduce_max", "reduce_min"}),
    "max_pool": (max_pool, dict(x=X), {"reduce_window_max"}),
    "relu": (relu, dict(x=X), {"relu"}),
    "absolute": (absolute, dict(x=X), {"abs"}),
}


@pytest.mark.parametrize("name", AWAY)
def test_each_tie_convention_is_checked_against_jax_at_constructed_ties(name, ledger, capsys):
    f, at, ops = AWAY[name]
    derive(f, at=at, graph=False, points=1)
    assert ledger.entry(f"derived.{name}")["status"] == "verified"
    out = capsys.readouterr().out
    assert "constructed ties" in out and "the derivative is a convention" in out
    for op in ops:
        assert f"({op})" in out, op


@pytest.mark.parametrize("name, op, wrong", [
    ("lax_clamp", "clamp", sp.S.Half),             # SymPy's Heaviside(0) = 1/2: JAX's clamp gives 0
    ("clamp_all_operands", "clamp", sp.S.One),
    ("maximum", "max", sp.S.One),
    ("maximum", "min", sp.S.Zero),
    ("running_max", "cummax", "first"),
    ("running_min", "cummin", "share"),
    ("reduce_max", "reduce_max", "first"),
    ("max_pool", "reduce_window_max", "share"),
    ("relu", "relu", sp.S.Half),
    ("absolute", "abs", sp.S.Half),                # sign(0) = 0: JAX's abs has slope 1 at 0
])
def test_a_wrong_tie_convention_in_the_rule_table_is_rejected(name, op, wrong, ledger, monkeypatch):
    monkeypatch.setitem(_rules.TIES, op, wrong)
    f, at, _ = AWAY[name]
    with pytest.raises(ClaimFailed, match=rf"at a tie of node \S+ \({op}, .*not JAX's"):
        derive(f, at=at, graph=False, points=1)


def _backward_at(staged, at):
    """The node-by-node backward pass at `at`, compiled once (as derive runs it)."""
    rules = derive_rules(staged)
    return jax.jit(lambda a: backward(staged, rules, forward(staged, a))[0])(at)


# worked examples sitting on ties: derive's backward pass there is JAX's, node by node
AT_A_TIE = {
    "clamp_at_its_bounds": (lax_clamp, dict(x=np.where(X > 0.6, 0.6, np.where(X < -0.4, -0.4, X)))),
    "clamp_with_equal_bounds": (clamp_all_operands, dict(lo=0.5 + 0 * X, x=0.5 + 0 * X, hi=0.5 + 0 * X)),
    "clip_at_its_bounds": (clip, dict(x=np.clip(X, -0.5, 0.5))),
    "maximum_of_equal_arguments": (maximum, dict(x=X, y=X)),
    "running_max_of_repeated_values": (running_max, dict(x=np.array([[1.0, 3, 3], [3, 2, 3], [3, 3, 1], [0, 3, 3]]))),
    "running_min_of_equal_values": (running_min, dict(x=np.ones((4, 3)))),
    "reduce_max_of_repeated_values": (reduce_max, dict(x=np.array([[1.0, 2, 2], [0, 0, 0], [2, 1, 2], [1, 1, 0]]))),
    "max_pool_of_equal_values": (max_pool, dict(x=np.ones((4, 3)))),
    "relu_at_zero": (relu, dict(x=np.where(X > 0, X, 0.0))),
    "abs_at_zero": (absolute, dict(x=np.where(X > 0, 0.25, X))),
    "abs_at_zero_inside_a_helper": (abs_in_a_helper, dict(x=np.where(X > 0, 0.25, X))),
    "argmax_of_tied_rows": (argmax_picked, dict(x=np.array([[1.0, 2, 2], [0, 0, 0], [2, 1, 2], [1, 1, 0]]))),
}


@pytest.mark.parametrize("name", AT_A_TIE)
def test_at_a_tie_derive_matches_jax_grad(name, ledger):
    f, at = AT_A_TIE[name]
    grads = _backward_at(stage(f, at), at)
    reference = jax.grad(f, argnums=tuple(range(len(at))))(*map(jnp.asarray, at.values()))
    for input_name, expected in zip(at, reference):
        np.testing.assert_allclose(grads[input_name], expected, rtol=1e-12, atol=1e-12)


def test_a_worked_example_on_a_tie_verifies_through_derive(ledger):
    f, at = AT_A_TIE["running_max_of_repeated_values"]
    derive(f, at=at, graph=False, points=1)
    assert ledger.entry("derived.running_max")["status"] == "verified"


def test_the_running_maximum_splits_a_tie_as_jax_does():
    x = jnp.array([1.0, 3.0, 3.0, 2.0, 3.0])
    staged = stage(lambda x: jnp.sum(jax.lax.cummax(x) * jnp.array([0.0, 0.0, 0.0, 0.0, 1.0])), dict(x=x))
    grads = _backward_at(staged, dict(x=x))
    np.testing.assert_array_equal(grads["x"], [0, 0.25, 0.25, 0, 0.5])  # not the first one's alone


def test_a_clamp_inside_a_jitted_helper_is_its_own_node():
    """Its tie convention (0 at a bound) differs from max's, so it is not folded into a formula."""
    helper = jax.jit(lambda x: jax.lax.clamp(-0.4, x, 0.6) * 2.0)
    staged = stage(lambda x: jnp.sum(helper(x)), dict(x=X))
    assert "clamp" in {n.op for n in staged.nodes}


def test_abs_at_zero_inside_a_helper_has_jaxs_slope_and_a_wrong_one_is_rejected(ledger, monkeypatch):
    """|u| folded into a helper's formula takes JAX's slope 1 at 0, not SymPy's sign(0) = 0."""
    f, at = AT_A_TIE["abs_at_zero_inside_a_helper"]
    assert [n.op for n in stage(f, at).nodes if "abs" in n.op] == ["soft_abs"]
    derive(f, at=at, graph=False, points=1)
    assert ledger.entry("derived.abs_in_a_helper")["status"] == "verified"
    monkeypatch.setitem(_rules.TIES, "abs", sp.S.Zero)
    with pytest.raises(ClaimFailed, match=r"node \S+ \(soft_abs"):
        derive(f, at=at, graph=False, points=1, claim="derived.abs_in_a_helper.wrong")
