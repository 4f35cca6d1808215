"""Numeric checks: a derived gradient formula against JAX's autodiff and finite differences."""
from __future__ import annotations

import inspect
import zlib

import numpy as np

from .._display import Result
from ._finite_diff import fd_jacobians
from .._float64 import jax, jnp
from ._ledger import fail, record
from ._quick_jit import quick_jit
from ._residual import residual
from ._tolerance import autodiff_bound, autodiff_bound_summed, fd_bound


def check_gradient(claim: str, f, claimed, *, at=None, wrt=0, points: int = 3, seed=None,
                   sample=None, fd: bool = True, at_label: str = "the worked example",
                   label: str | None = None, names=None, magnitude=None) -> Result:
    """Check a claimed gradient formula against jax.grad(f) and finite differences.

    claim: the claim id the checks are recorded under (kinds "jax" and "fd").
    f: the function, returning a scalar; the reference is jax.grad(f).
    claimed: the derived formula, `claimed(*args)` -> one gradient per name in `wrt`.
    at: the worked example (a tuple of arguments), or None for random points only.
    wrt: the arguments differentiated, as positions or parameter names.
    points, seed, sample: how many seeded random points besides `at`; the seed (default:
        from the claim id); `sample(rng)` draws one point (default: standard normals shaped
        like `at`).
    fd: also check against central finite differences.
    at_label: how reports name `at` ("a point of our own" when it is not the document's).
    label: tells apart several checks of one claim ("depth 3").
    names: how reports name the arguments in wrt (default: their parameter names).
    magnitude: `magnitude(*args)` -> per name in wrt, the absolute values of the terms summed
        into its gradient; the autodiff bound is then relative to them (autodiff_bound_summed).
    """
    default_names, argnums = _argnums(f, wrt)
    names = tuple(names) if names is not None else default_names
    return _check_derivative(claim, "jax.grad", names, argnums, f, claimed,
                             jax.grad(f, argnums=argnums),
                             _points(claim, at, points, seed, sample, at_label), fd, label,
                             magnitude)


def check_vjp(claim: str, f, claimed, *, at=None, cotangent=None, wrt=0, points: int = 3, seed=None,
              sample=None, fd: bool = True, at_label: str = "the worked example",
              label: str | None = None) -> Result:
    """Check a claimed vector-Jacobian product against jax.vjp and finite differences.

    claim, f, at, wrt, points, seed, sample, fd, at_label, label: as in check_gradient,
        except that `f` may return an array.
    claimed: the derived formula, `claimed(*args, g)` -> one gradient per name in `wrt`.
    cotangent: the upstream gradient g at the worked example (random if None); g is random
        at the other points. The finite-difference witness differentiates <g, f(args)>.
    """
    names, argnums = _argnums(f, wrt)
    at_point = None
    if at is not None:
        at = tuple(at)
        g = cotangent if cotangent is not None else _normal_like(
            np.asarray(f(*at)), np.random.default_rng(_seed(claim, seed)))
        at_point = at + (g,)

    def sample_with_g(rng):
        args = sample(rng) if sample else _random_like(at, rng)
        return tuple(args) + (_normal_like(np.asarray(f(*args)), rng),)

    if at is None and sample is None:
        raise ValueError("check_vjp needs `at` or `sample` to know the argument shapes")

    def reference(*args_g):
        *args, g = args_g
        _, pullback = jax.vjp(lambda *d: f(*_merge(args, argnums, d)),
                              *[args[i] for i in argnums])
        return pullback(jnp.asarray(g, dtype=jnp.float64))

    def scalar(*args_g):
        *args, g = args_g
        return jnp.vdot(jnp.asarray(g), f(*args))

    return _check_derivative(claim, "jax.vjp", names, argnums, scalar, claimed, reference,
                             _points(claim, at_point, points, seed, sample_with_g, at_label), fd,
                             label)


def check_jacobian(claim: str, f, claimed, *, at=None, wrt=0, points: int = 3, seed=None,
                   sample=None, fd: bool = True, at_label: str = "the worked example",
                   label: str | None = None) -> Result:
    """Check a claimed Jacobian against jax.jacobian(f) and finite differences.

    claim, f, at, wrt, points, seed, sample, fd, at_label, label: as in check_gradient,
        except that `f` may return an array.
    claimed: the derived formula, `claimed(*args)` -> one Jacobian (shape out + in) per name
        in `wrt`.
    """
    names, argnums = _argnums(f, wrt)
    return _check_derivative(claim, "jax.jacobian", names, argnums, f, claimed,
                             jax.jacobian(f, argnums=argnums),
                             _points(claim, at, points, seed, sample, at_label), fd, label)


def check_close(claim: str, kind: str, label: str, reference, claimed) -> Result:
    """Check that a claimed computation agrees with a reference one (the autodiff tolerance).

    claim, kind: the claim id and the kind of check recorded ("jax", "num", ...).
    label: what is compared, for the report.
    reference: the value it must match (JAX's, or an independent computation), in float64.
    claimed: the value of the formula being checked.
    """
    c, r = np.asarray(claimed, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if c.shape != r.shape:
        fail(claim, kind, f"{label}: shapes differ, {c.shape} against {r.shape}")
    err, bound = float(np.max(np.abs(c - r), initial=0.0)), autodiff_bound(c, r)
    passed = err <= bound
    detail = (f"{label} agree ({residual(err, bound)})" if passed else
              f"{label}: claimed {_short(c)} but reference {_short(r)} (largest |Δ| {err:.3g})")
    return Result([record(claim, kind, passed, detail)])


def check_that(claim: str, kind: str, condition: bool, detail: str) -> Result:
    """Record a check whose test is a plain condition, described in words.

    claim, kind: the claim id and the kind of check recorded.
    condition: whether it holds; detail: what was checked, in words, for the report.
    """
    return Result([record(claim, kind, bool(condition), detail)])


# --- the shared machinery -------------------------------------------------------------------

def _check_derivative(claim, what, names, argnums, f, claimed, reference, points, fd, label,
                      magnitude=None):
    reference, f = _compiled(reference), _compiled(f)
    worst_jax = worst_fd = None
    for where, args in points:
        args = tuple(args)
        _require_float64(claim, args)
        try:
            mine = _as_tuple(claimed(*args), len(argnums))
        except (TypeError, ValueError) as error:  # e.g. a missing transpose: shapes do not fit
            fail(claim, "jax",  # the first check it fails; finite differences are not reached
                 f"the claimed formula cannot be evaluated at {where}: {_first_line(error)}")
        theirs = _as_tuple(reference(*args), len(argnums))
        bound = autodiff_bound
        if magnitude is not None:  # one bound per name, from the sizes of its summed terms
            sizes = iter(_as_tuple(magnitude(*args), len(argnums)))
            bound = lambda a, b: autodiff_bound_summed(a, b, next(sizes))  # noqa: E731
        worst_jax = _worse(worst_jax, _compare(mine, theirs, names, where, bound))
        if fd:
            witness = fd_jacobians(f, args, argnums)
            f_value = np.asarray(f(*args), dtype=np.float64)
            worst_fd = _worse(worst_fd, _compare(mine, witness, names, where,
                                                 lambda a, b: fd_bound(a, b, f_value)))
    where_all = _describe(points)
    prefix = f"{label}: " if label else ""
    checks = [_record(claim, "jax", what, worst_jax, where_all, prefix)]
    if fd:
        checks.append(_record(claim, "fd", "central differences", worst_fd, where_all, prefix))
    return Result(checks)


def _compiled(fn):
    """fn under jax.jit (a check calls it at points of one shape), or as is where it cannot be."""
    jitted = quick_jit(fn)

    def call(*args):
        try:
            return jitted(*args)
        except jax.errors.JAXTypeError:  # Python control flow on values: run it eagerly
            return fn(*args)

    return call


def _compare(mine, theirs, names, where, bound_rule):
    """Worst entry over all arguments: (ratio of error to bound, description)."""
    worst = (0.0, "", 0.0, 0.0)
    for name, a, b in zip(names, mine, theirs):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return (np.inf, f"at {where}, ∂/∂{name}: the claimed gradient has shape {a.shape} "
                            f"but the reference has shape {b.shape}", 0.0, 0.0)
        bound = bound_rule(a, b)
        err = np.abs(a - b)
        if not err.size:
            continue
        index = np.unravel_index(int(np.argmax(err)), err.shape)
        e = float(err[index])
        ratio = e / bound if bound > 0 else (np.inf if e > 0 else 0.0)
        if ratio > worst[0] or (ratio == worst[0] and bound >= worst[3]):
            label = f"∂/∂{name}{list(map(int, index)) if index else ''}"
            rel = e / abs(float(b[index])) if b[index] != 0 else np.inf
            worst = (ratio, f"at {where}, {label}: claimed {float(a[index]):.10g}, "
                            f"reference {float(b[index]):.10g} (|Δ| {e:.3g}, relative {rel:.3g}, "
                            f"allowed {bound:.1e})", e, bound)
    return worst


def _record(claim, kind, what, worst, where_all, prefix):
    ratio, message, err, bound = worst
    if ratio <= 1:
        detail = f"{prefix}matches {what} at {where_all}; {residual(err, bound)}"
        return record(claim, kind, True, detail)
    fail(claim, kind, f"{prefix}differs from {what} {message}")


def _worse(a, b):
    """Keep the first failure found (points run worked example first), else the worst margin."""
    if a is None or (a[0] <= 1 and b[0] > a[0]):
        return b
    return a


def _points(claim, at, n, seed, sample, at_label):
    pts = [] if at is None else [(at_label, tuple(at))]
    if n and at is None and sample is None:
        raise ValueError("give `at` (a worked example) or `sample` so random points have shapes")
    rng = np.random.default_rng(_seed(claim, seed))
    for i in range(n):
        pts.append((f"random point {i + 1}", tuple(sample(rng) if sample else _random_like(at, rng))))
    return pts


def _describe(points) -> str:
    randoms = sum(1 for where, _ in points if where.startswith("random point"))
    parts = [points[0][0]] if len(points) > randoms else []
    if randoms:
        parts.append(f"{randoms} seeded random point{'s' if randoms > 1 else ''}")
    return " and ".join(parts)


def _seed(claim, seed):
    return zlib.crc32(claim.encode()) if seed is None else seed


def _random_like(args, rng):
    return tuple(_normal_like(a, rng) for a in args)


def _normal_like(a, rng):
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.floating):
        return a
    value = rng.standard_normal(arr.shape)
    return float(value) if isinstance(a, float) else jnp.asarray(value)


def _require_float64(claim, args):
    for a in args:
        dtype = getattr(a, "dtype", None)
        if dtype is not None and np.issubdtype(dtype, np.floating) and dtype != np.float64:
            raise TypeError(f"claim {claim}: numeric checks run in float64, got an argument of "
                            f"dtype {dtype}; give float64 arrays (gradbook switches JAX to float64, "
                            "so this one was made float32 on purpose)")


def _argnums(f, wrt):
    wrt = wrt if isinstance(wrt, (tuple, list)) else (wrt,)
    params = list(inspect.signature(f).parameters)
    unknown = [w for w in wrt if isinstance(w, str) and w not in params]
    if unknown:
        raise ValueError(f"wrt names {unknown} are not parameters of {f.__name__}{tuple(params)}")
    argnums = tuple(params.index(w) if isinstance(w, str) else w for w in wrt)
    names = tuple(params[i] if i < len(params) else f"arg{i}" for i in argnums)
    return names, argnums


def _merge(args, argnums, diffed):
    args = list(args)
    for i, value in zip(argnums, diffed):
        args[i] = value
    return tuple(args)


def _as_tuple(value, n):
    if n == 1 and not (isinstance(value, (tuple, list)) and len(value) == 1):
        return (value,)
    if not isinstance(value, (tuple, list)) or len(value) != n:
        got = len(value) if isinstance(value, (tuple, list)) else "one array"
        raise ValueError(f"expected {n} gradients (one per name in wrt), got {got}")
    return tuple(value)


def _first_line(error) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0]}"


def _short(a) -> str:
    return np.array2string(np.asarray(a), precision=6, separator=", ")
