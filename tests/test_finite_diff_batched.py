"""Finite differences of a large argument, evaluated in vmapped batches, agree with one shifted
copy at a time, and a function that cannot be vmapped still gets its witness."""
import numpy as np

from gradbook import jnp
from gradbook.checks import _finite_diff
from gradbook.checks._finite_diff import fd_jacobian


def test_batched_and_one_at_a_time_differences_agree(monkeypatch):
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((10, 30)), rng.standard_normal(30)  # 300 entries: batched
    f = lambda W, x: jnp.sum(jnp.tanh(W @ x))  # noqa: E731
    batched = fd_jacobian(f, (W, x), 0)
    monkeypatch.setattr(_finite_diff, "BATCHED_FROM", 10**9)
    np.testing.assert_allclose(batched, fd_jacobian(f, (W, x), 0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(batched, (1 - np.tanh(W @ x) ** 2)[:, None] * x[None, :], atol=1e-7)


def test_python_control_flow_falls_back_to_one_copy_at_a_time():
    def f(v):
        return float(np.sum(np.asarray(v) ** 2)) if float(np.asarray(v)[0]) > 0 else 0.0

    v = np.linspace(0.5, 1.5, 100)
    np.testing.assert_allclose(fd_jacobian(f, (v,), 0), 2 * v, rtol=1e-6)
