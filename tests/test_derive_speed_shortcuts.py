"""The shortcuts that keep derive fast compute what they replace: pure copies in NumPy equal
JAX's, finite differences of all the arguments batched together equal one copy at a time, and
a gather's labels are found once per staged graph."""
import numpy as np
import pytest
from jax.extend.core import Literal

from gradbook import jax, jnp
from gradbook.checks import _finite_diff
from gradbook.checks._finite_diff import fd_jacobians
from gradbook.graph._numpy_copies import numpy_copy
from gradbook.graph._trace import _bind

X = np.arange(1.0, 25.0).reshape(2, 3, 4)
COPIES = {
    "broadcast": lambda x: jnp.broadcast_to(x[:, None], (2, 5, 3, 4)),
    "reshape": lambda x: x.reshape(6, 4),
    "transpose": lambda x: x.transpose(2, 0, 1),
    "squeeze": lambda x: x[:, :1].squeeze(1),
    "rev": lambda x: jax.lax.rev(x, (0, 2)),
    "slice": lambda x: jax.lax.slice(x, (0, 1, 0), (2, 3, 4), (1, 1, 3)),
    "concatenate": lambda x: jnp.concatenate([x, 2 * x], axis=1),
    "pad": lambda x: jax.lax.pad(x, -1.0, [(1, -1, 2), (0, 0, 0), (-2, 3, 1)]),
    "iota": lambda x: x + jax.lax.broadcasted_iota(jnp.int64, (2, 3, 4), 1),
}


@pytest.mark.parametrize("name", sorted(COPIES))
def test_a_copy_in_numpy_is_exactly_jaxs(name):
    closed = jax.make_jaxpr(COPIES[name])(X)
    env = {closed.jaxpr.invars[0]: X}
    checked = 0
    for eqn in closed.jaxpr.eqns:
        args = [v.val if isinstance(v, Literal) else env[v] for v in eqn.invars]
        theirs = np.asarray(_bind(eqn, args)[0])
        mine = numpy_copy(eqn, args)
        if mine is not None:
            assert mine[0].dtype == theirs.dtype and mine[0].shape == theirs.shape
            np.testing.assert_array_equal(mine[0], theirs)
            checked += 1
        env[eqn.outvars[0]] = theirs
    assert checked, f"no equation of {name} was copied in NumPy"


def test_an_operation_that_computes_is_left_to_jax():
    closed = jax.make_jaxpr(lambda x: jnp.exp(x))(X)
    assert numpy_copy(closed.jaxpr.eqns[0], [X]) is None


def test_all_arguments_batched_together_equal_one_copy_at_a_time(monkeypatch):
    rng = np.random.default_rng(1)
    W, b, x = rng.standard_normal((6, 40)), rng.standard_normal(6), rng.standard_normal(40)
    calls = []

    def f(W, b, s, x):
        calls.append(1)
        return jnp.sum(jnp.tanh(W @ x + b)) * s

    args = (W, b, 0.7, x)  # 247 entries differentiated: batched
    batched = fd_jacobians(f, args, (0, 1, 2))
    assert len(calls) <= 2  # its value, and one trace of the batch: no copy one at a time
    monkeypatch.setattr(_finite_diff, "BATCH_NUMBERS", 1000)  # 4 copies a batch: 124 batches
    small_batches = fd_jacobians(f, args, (0, 1, 2))
    monkeypatch.setattr(_finite_diff, "BATCHED_FROM", 10**9)
    single = fd_jacobians(f, args, (0, 1, 2))
    for a, c, b_ in zip(batched, small_batches, single):
        np.testing.assert_allclose(a, b_, rtol=0, atol=1e-9)
        np.testing.assert_allclose(c, b_, rtol=0, atol=1e-9)
    t = np.tanh(W @ x + b)
    np.testing.assert_allclose(batched[1], 0.7 * (1 - t ** 2), atol=1e-7)
    np.testing.assert_allclose(batched[2], np.sum(t), atol=1e-7)


def test_a_gathers_labels_are_found_once_per_staged_graph(monkeypatch):
    from gradbook.graph import _onehot
    from gradbook.graph._stage import stage

    def loss(z, y):
        logp = jax.nn.log_softmax(z, axis=1)
        return -jnp.mean(logp[jnp.arange(3), y])

    staged = stage(loss, dict(z=np.arange(12.0).reshape(3, 4) / 7, y=np.array([0, 3, 1])))
    calls = []
    real = _onehot._bind
    monkeypatch.setattr(_onehot, "_bind", lambda eqn, args: calls.append(eqn) or real(eqn, args))
    picks = [n for n in staged.nodes if n.op == "gather"]
    first = [_onehot.row_labels(n, staged) for n in picks]
    evaluated = len(calls)
    again = [_onehot.row_labels(n, staged) for n in picks]
    assert first == again and "y" in first
    assert evaluated and len(calls) == evaluated  # the indices evaluated once, not per call
