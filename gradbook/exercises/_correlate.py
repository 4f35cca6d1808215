"""corr, conv, pad and flip in the answer language: one definition for every backend.

The semantics are notebook 14's and NumPy's. `corr(a, k)` (or `correlate`) is the valid
cross-correlation, output i = Σ_m k_m a_{i+m}, as `np.correlate(a, k)`; `mode="full"`
correlates the input padded with len(k) − 1 zeros at each end. `conv(a, k)` (or `convolve`)
is the full convolution, output j = Σ_m k_m a_{j−m}, as `np.convolve(a, k)`, which is the full
correlation with the flipped kernel; `mode="valid"` keeps the entries where the kernel fits.
With the kernel longer than the array, "valid" keeps the entries where the array lies inside
the kernel (NumPy's rule). Arrays of two or more axes are correlated along every axis, the
kernel having as many axes as the array. `pad(a, p)` adds p zeros at each end of every axis
(`np.pad`'s widths: p, (before, after), or one pair per axis); `flip(a)` reverses every axis,
`flip(a, axis=0)` one. Each is written with indexing, sums and products only, so that it
means the same thing in SymPy (exact, entry by entry), NumPy and JAX (differentiable).
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

NAMES = frozenset({"corr", "correlate", "conv", "convolve", "pad", "flip"})
MODES = {"corr": ("valid", "full"), "correlate": ("valid", "full"), "conv": ("full", "valid"),
         "convolve": ("full", "valid"), "pad": ("constant",)}  # the default first


class SignalError(ValueError):
    """Arguments corr/conv/pad/flip cannot take (the kernel's axes, a negative width)."""


def call(name: str, args: list, kwargs: dict, pad_array):
    """The value of corr/conv/pad/flip; `pad_array(a, widths)` pads with the backend's zero."""
    mode = kwargs.get("mode", MODES.get(name, (None,))[0])
    if name in MODES and mode not in MODES[name]:
        raise SignalError(f"{name} takes mode={' or mode='.join(repr(m) for m in MODES[name])}, "
                          f"not {mode!r}")
    if name == "flip":
        _arity(name, args, 1)
        return flip(args[0], kwargs.get("axis"))
    if name == "pad":
        _arity(name, args, 1)  # the width is kwargs["width"]
        if "width" not in kwargs:
            raise SignalError("pad takes the array and the number of zeros: pad(g, 2)")
        return pad_array(args[0], widths(np.shape(args[0]), kwargs["width"]))
    _arity(name, args, 2)
    a, k = args
    kernel = flip(k) if name in ("conv", "convolve") else k
    return correlate(a, kernel, mode, pad_array)


def widths(shape: tuple, width) -> tuple:
    """NumPy's pad widths as one (before, after) pair per axis."""
    if not shape:
        raise SignalError("pad needs an array, not a number")
    try:
        pairs = np.broadcast_to(np.asarray(width, dtype=np.int64), (len(shape), 2))
    except ValueError:
        raise SignalError(f"pad's width {width!r} does not fit an array of {len(shape)} "
                          "axes: give p, (before, after), or one pair per axis") from None
    if (pairs < 0).any():
        raise SignalError("pad's width cannot be negative")
    return tuple((int(b), int(e)) for b, e in pairs)


def flip(a, axis=None):
    """a with every axis reversed (or only `axis`); a number is its own flip."""
    ndim = len(np.shape(a))
    if ndim == 0:
        return a
    axes = range(ndim) if axis is None else [axis] if isinstance(axis, int) else list(axis)
    index = [slice(None)] * ndim
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise SignalError(f"flip: axis {ax} is out of range for an array of {ndim} axes")
        index[ax] = slice(None, None, -1)
    return a[tuple(index)]


def result_shape(a_shape: tuple, k_shape: tuple, mode: str) -> tuple:
    """The shape of correlate(a, k, mode), after checking that the kernel fits the array."""
    if len(a_shape) == 0 or len(a_shape) != len(k_shape):
        raise SignalError(f"corr and conv take an array and a kernel with as many axes "
                          f"(here {len(a_shape)} and {len(k_shape)})")
    if 0 in a_shape or 0 in k_shape:
        raise SignalError("corr and conv take arrays that are not empty")
    if mode == "full":
        return tuple(n + m - 1 for n, m in zip(a_shape, k_shape))
    if not (all(m <= n for n, m in zip(a_shape, k_shape)) or
            all(m >= n for n, m in zip(a_shape, k_shape))):
        raise SignalError(f"in mode 'valid' the kernel ({'×'.join(map(str, k_shape))}) must fit "
                          f"inside the array ({'×'.join(map(str, a_shape))}) along every axis, "
                          "or the array inside the kernel")
    return tuple(abs(n - m) + 1 for n, m in zip(a_shape, k_shape))


def correlate(a, k, mode: str, pad_array):
    """The cross-correlation of a with k: the full one is a sum, over the kernel's entries, of
    the padded input shifted by the entry's position times the entry; 'valid' crops it."""
    a_shape, k_shape = np.shape(a), np.shape(k)
    result_shape(a_shape, k_shape, mode)
    padded = pad_array(a, tuple((m - 1, m - 1) for m in k_shape))
    full = tuple(n + m - 1 for n, m in zip(a_shape, k_shape))
    terms = [padded[tuple(slice(i, i + n) for i, n in zip(index, full))] * k[index]
             for index in itertools.product(*[range(m) for m in k_shape])]
    out = functools.reduce(lambda x, y: x + y, terms)
    if mode == "full":
        return out
    return out[tuple(slice(min(n, m) - 1, max(n, m)) for n, m in zip(a_shape, k_shape))]


def _arity(name, args, n):
    if len(args) != n:
        raise SignalError(f"{name} takes {n} array{'s' if n > 1 else ''}, got {len(args)}")
