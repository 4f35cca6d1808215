"""Central finite differences: a witness that knows nothing of the formula or of autodiff."""
from __future__ import annotations

import numpy as np

from ._tolerance import FD_STEP

# More entries than BATCHED_FROM in all: the shifted copies are evaluated in vmapped batches.
# Fewer: one at a time, which is cheaper than compiling the batch (~60 µs a call against
# ~0.15 s; the bench's 3-5-2 MLP has 32 entries, its 20-50-10 one 1,560).
BATCHED_FROM = 200
BATCH = 256            # shifted copies per batch at most,
BATCH_NUMBERS = 2**22  # and fewer for large arguments: at most 32 MB of copies per batch


def fd_jacobian(f, args: tuple, argnum: int) -> np.ndarray:
    """d f(args) / d args[argnum] by central differences, shaped out.shape + in.shape."""
    return fd_jacobians(f, args, (argnum,))[0]


def fd_jacobians(f, args: tuple, argnums) -> tuple:
    """d f(args) / d args[k] for each k in `argnums` by central differences, each shaped
    out.shape + in.shape.

    Each input entry x_i gets its own step h_i = eps^(1/3)·max(1, |x_i|) (see _tolerance).
    The shifted copies of all the arguments (one entry of one argument moved up or down) are
    evaluated together, by f vmapped over batches of them, so the cost stays about flat in
    their sizes and number (f as it is, one copy at a time, where it cannot be vmapped).
    """
    args, argnums = tuple(args), tuple(argnums)
    xs = [np.asarray(args[k], dtype=np.float64) for k in argnums]
    out_shape = np.shape(f(*args))
    steps = [FD_STEP * np.maximum(1.0, np.abs(x)) for x in xs]
    plus, minus = [x + h for x, h in zip(xs, steps)], [x - h for x, h in zip(xs, steps)]
    total = sum(x.size for x in xs)
    batched = _batched(f, args, argnums, xs, plus, minus) if total > BATCHED_FROM else None
    jacobians = []
    for j, (k, x) in enumerate(zip(argnums, xs)):
        jac = np.zeros(out_shape + x.shape)
        for flat, index in enumerate(np.ndindex(x.shape)):
            if batched is not None:
                f_plus, f_minus = batched[0][j][flat], batched[1][j][flat]
            else:
                f_plus = np.asarray(f(*_replace(args, k, _shifted(x, index, plus[j]))), dtype=np.float64)
                f_minus = np.asarray(f(*_replace(args, k, _shifted(x, index, minus[j]))), dtype=np.float64)
            jac[(...,) + index] = (f_plus - f_minus) / (plus[j][index] - minus[j][index])
        jacobians.append(jac)
    return tuple(jacobians)


def _shifted(x, index, moved):
    """x with the one entry at `index` taken from `moved`."""
    y = x.copy()
    y[index] = moved[index]
    return y


def _batched(f, args, argnums, xs, plus, minus):
    """f at every copy of the arguments with one entry of one of them moved up, and at every
    one with it moved down: ([per argument, per entry: f moved up], [... moved down]), from
    vmapped batches (compiled once per f, arguments and batch size); None where f cannot be
    vmapped (Python control flow)."""
    from .._float64 import jax
    from ._quick_jit import quick_jit

    # row r of the stacked copies moves entry entry[r] of argument owner[r] to value[r]
    owner = np.concatenate([np.full(x.size, j) for j, x in enumerate(xs)] * 2)
    entry = np.concatenate([np.arange(x.size) for x in xs] * 2)
    value = np.concatenate([m.reshape(-1) for m in plus] + [m.reshape(-1) for m in minus])
    rows = len(value)
    most = max(1, min(BATCH, BATCH_NUMBERS // sum(x.size for x in xs)))
    size = -(-rows // -(-rows // most))  # batches of at most that many, as even as can be
    cache = f.__dict__.setdefault("_fd_batched", {}) if hasattr(f, "__dict__") else {}
    if (argnums, size) not in cache:
        cache[(argnums, size)] = quick_jit(jax.vmap(
            lambda moved, rest: f(*_replaced(rest, argnums, moved)), in_axes=(0, None)))
    evaluate = cache[(argnums, size)]
    try:
        out = []
        for start in range(0, rows, size):
            batch = np.arange(start, min(start + size, rows))
            copies = []
            for j, x in enumerate(xs):
                tiled = np.tile(x.reshape(-1), (size, 1))  # the last batch padded with unmoved copies
                mine = batch[owner[batch] == j]
                tiled[mine - start, entry[mine]] = value[mine]
                copies.append(tiled.reshape((size,) + x.shape))
            got = evaluate(copies, args)
            out.append(np.asarray(got, dtype=np.float64)[:len(batch)])
        results = np.concatenate(out)
    except Exception:  # noqa: BLE001 (not vmappable: one copy at a time, as before)
        return None
    bounds = np.cumsum([0] + [x.size for x in xs] * 2)
    pieces = [results[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    return pieces[:len(xs)], pieces[len(xs):]


def _replaced(args, argnums, values):
    """args with args[k] replaced by each value in turn (traced values, under vmap)."""
    args = list(args)
    for k, v in zip(argnums, values):
        args[k] = v
    return tuple(args)


def _replace(args, argnum, value):
    original = args[argnum]
    if np.ndim(original) == 0 and not hasattr(original, "shape"):
        value = float(value)
    return args[:argnum] + (value,) + args[argnum + 1:]
