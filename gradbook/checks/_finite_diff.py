"""Central finite differences: a witness that knows nothing of the formula or of autodiff."""
from __future__ import annotations

import numpy as np

from ._tolerance import FD_STEP

BATCHED_FROM = 64  # an argument with more entries has its shifted copies evaluated in batches
BATCH = 256        # shifted copies per batch: memory stays that many arguments' worth


def fd_jacobian(f, args: tuple, argnum: int) -> np.ndarray:
    """d f(args) / d args[argnum] by central differences, shaped out.shape + in.shape.

    Each input entry x_i gets its own step h_i = eps^(1/3)·max(1, |x_i|) (see _tolerance).
    A large argument's shifted copies are evaluated by f vmapped over a batch of them, so the
    cost stays about flat in its size (f as it is, one copy at a time, where it cannot be vmapped).
    """
    x = np.asarray(args[argnum], dtype=np.float64)
    out_shape = np.shape(f(*args))
    jac = np.zeros(out_shape + x.shape)
    indices = list(np.ndindex(x.shape))
    steps = np.array([FD_STEP * max(1.0, abs(float(x[i]))) for i in indices]).reshape(x.shape)
    plus, minus = x + steps, x - steps
    batched = _batched(f, args, argnum, x, plus, minus) if x.size > BATCHED_FROM else None
    for k, index in enumerate(indices):
        if batched is not None:
            f_plus, f_minus = batched[0][k], batched[1][k]
        else:
            f_plus = np.asarray(f(*_replace(args, argnum, _shifted(x, index, plus))), dtype=np.float64)
            f_minus = np.asarray(f(*_replace(args, argnum, _shifted(x, index, minus))), dtype=np.float64)
        jac[(...,) + index] = (f_plus - f_minus) / (plus[index] - minus[index])
    return jac


def _shifted(x, index, moved):
    """x with the one entry at `index` taken from `moved`."""
    y = x.copy()
    y[index] = moved[index]
    return y


def _batched(f, args, argnum, x, plus, minus):
    """f at every copy of x with one entry moved up, and one moved down, in vmapped batches
    (compiled once per f and argument); None where f cannot be vmapped (Python control flow)."""
    from .._float64 import jax, jnp
    from ._quick_jit import quick_jit

    size, flat = min(BATCH, x.size), x.reshape(-1)
    cache = f.__dict__.setdefault("_fd_batched", {}) if hasattr(f, "__dict__") else {}
    if (argnum, size) not in cache:
        cache[(argnum, size)] = quick_jit(jax.vmap(
            lambda y, rest: f(*_replace(rest, argnum, y)), in_axes=(0, None)))
    evaluate = cache[(argnum, size)]
    try:
        results = []
        for moved in (plus.reshape(-1), minus.reshape(-1)):
            out = []
            for start in range(0, x.size, size):
                rows = np.arange(start, min(start + size, x.size))
                copies = np.tile(flat, (size, 1))  # the last batch padded with unmoved copies
                copies[np.arange(len(rows)), rows] = moved[rows]
                got = evaluate(jnp.asarray(copies.reshape((size,) + x.shape)), args)
                out.append(np.asarray(got, dtype=np.float64)[:len(rows)])
            results.append(np.concatenate(out))
        return results
    except Exception:  # noqa: BLE001 (not vmappable: one copy at a time, as before)
        return None


def _replace(args, argnum, value):
    original = args[argnum]
    if np.ndim(original) == 0 and not hasattr(original, "shape"):
        value = float(value)
    return args[:argnum] + (value,) + args[argnum + 1:]
