"""Central finite differences: a witness that knows nothing of the formula or of autodiff."""
from __future__ import annotations

import numpy as np

from ._tolerance import FD_STEP


def fd_jacobian(f, args: tuple, argnum: int) -> np.ndarray:
    """d f(args) / d args[argnum] by central differences, shaped out.shape + in.shape.

    Each input entry x_i gets its own step h_i = eps^(1/3)·max(1, |x_i|) (see _tolerance).
    """
    x = np.asarray(args[argnum], dtype=np.float64)
    out_shape = np.shape(f(*args))
    jac = np.zeros(out_shape + x.shape)
    for index in np.ndindex(x.shape):
        h = FD_STEP * max(1.0, abs(float(x[index])))
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        f_plus = np.asarray(f(*_replace(args, argnum, plus)), dtype=np.float64)
        f_minus = np.asarray(f(*_replace(args, argnum, minus)), dtype=np.float64)
        jac[(...,) + index] = (f_plus - f_minus) / (plus[index] - minus[index])
    return jac


def _replace(args, argnum, value):
    original = args[argnum]
    if np.ndim(original) == 0 and not hasattr(original, "shape"):
        value = float(value)
    return args[:argnum] + (value,) + args[argnum + 1:]
