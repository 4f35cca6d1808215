"""Ties: where a max-like operation (max, min, clamp at its bound, relu at 0, reduce_max,
pooling, cummax, cummin) has tied arguments, its derivative is a convention, not a limit.
Random check points never land on a tie, so each such node's convention is checked here
against JAX's own derivative of that operation at ties constructed on purpose: one argument
set equal to another or to a constant of the formula, or the reduced values repeated."""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from .._display import Result
from .._float64 import jax, jnp
from ..checks._ledger import fail, record
from ..checks._quick_jit import quick_jit
from ..checks._tolerance import autodiff_bound
from ._stage import Constant
from ._trace import _bind


def kink_arguments(expr) -> list:
    """The expressions whose sign switches a slope in `expr` (Heaviside's and sign's
    arguments, a Piecewise's comparisons): at their zeros the slope is a convention."""
    if not isinstance(expr, sp.Basic) or isinstance(expr, sp.MatrixExpr):
        return []
    kinks = [e.args[0] for e in expr.atoms(sp.Heaviside, sp.sign)]
    return kinks + [c.lhs - c.rhs for p in expr.atoms(sp.Piecewise) for _, c in p.args
                    if isinstance(c, sp.core.relational.Relational)]


def on_a_kink(expr, values) -> bool:
    """Whether some kink argument of `expr` is exactly 0 at `values` (name -> array)."""
    tied = _at_a_kink([expr], values)
    return tied is not None and bool(np.any(tied))


def check_ties(claim, staged, rules, values, announce=None) -> Result | None:
    """Every tie-convention node's backward against JAX's at ties constructed for it.
    `announce(nodes)` is called first with the nodes to be checked (to state their conventions)."""
    planned = [(node, points) for node in staged.nodes
               if node.name in rules and rules[node.name].locals
               for points in [tie_points(node, rules[node.name], staged, values)] if points]
    if not planned:
        return None
    if announce is not None:
        announce([node for node, _ in planned])
    work = [(node, label, args, np.random.default_rng(k).standard_normal(node.shape))
            for k, (node, label, args) in enumerate(
                (node, label, args) for node, points in planned for label, args in points)]
    # both sides at every tie, in one compiled function: op by op, a prefix scan is slow
    both = quick_jit(lambda work_args: [_both_sides(node, rules[node.name], staged, args, upstream)
                                      for (node, _, _, _), (args, upstream) in zip(work, work_args)])(
        [(args, upstream) for _, _, args, upstream in work])
    checked, ties = {}, 0
    for (node, label, _, _), (out, mine, theirs) in zip(work, both):
        if not all(np.all(np.isfinite(np.asarray(t))) for t in [out, *theirs.values()]):
            continue  # the tie lies outside the function's domain (log 0): not a point of it
        wrong = _disagreement(mine, theirs)
        if wrong:
            fail(claim, "jax", f"at a tie of node {node.name} ({node.op}"
                 + (f", made at {node.line}" if node.line else "")
                 + f"), {label}: {wrong}; the tie convention in the rule table is not JAX's")
        ties += 1
        checked[f"{node.name} ({node.op})"] = True
    return Result([record(claim, "jax", True,
                          f"the tie conventions of {len(checked)} node(s) agree with JAX's at "
                          f"{ties} constructed ties: {', '.join(checked)}")])


def tie_points(node, rule, staged, values) -> list[tuple[str, dict]]:
    """Arguments of `node` at which it has a tie, each with a label: for an elementwise node,
    one argument set equal to another or to a number of its formula where that zeroes a kink;
    for a maximum or a max/min window, all values equal and repeated values."""
    kind = node.rule.kind
    refs = node.inputs
    args = {k: np.asarray(r.value if isinstance(r, Constant) else values[r]) for k, r in enumerate(refs)}
    if kind in ("max", "window") and _chooses(node):
        x = args[0].astype(np.float64)
        k = np.arange(x.size)
        return [(label, {**args, 0: v.astype(np.float64).reshape(x.shape)}) for label, v in (
            ("all values equal", np.full(x.size, x.flat[0])),
            ("values repeated (k² mod 3)", (k * k) % 3),
            ("values repeated (⌊k/2⌋ mod 3)", (k // 2) % 3))]
    if kind != "elementwise":
        return []
    if any(isinstance(r, str) and not staged[r].differentiable for r in refs):
        return []  # a where: at its boundary both sides take the case its comparison picks
    direct = {r for r in refs if isinstance(r, str)}
    exprs = [local.expr for local in rule.locals if local.input in direct]
    if not any(kink_arguments(e) for e in exprs) or any(
            s.name not in direct for e in exprs for s in e.free_symbols):
        return []  # no kink, or one read through another node's condition (a where's comparison)
    floats = [k for k, r in enumerate(refs) if isinstance(r, str) and staged[r].differentiable]
    numbers = sorted({float(c) for c in rule.formula.atoms(sp.Number) if c.is_finite} | {0.0})
    candidates = [(f"{refs[j]} = {refs[i]}", i, j) for i in floats for j in floats if i < j]
    candidates += [(f"{refs[i]} = {c:g}", i, c) for i in floats for c in numbers]
    points = []
    for label, i, to in candidates:
        j, new = (to, args[i]) if isinstance(to, int) else (i, np.float64(to))
        try:
            moved = {**args, j: np.broadcast_to(new, args[j].shape).astype(np.float64)}
        except ValueError:
            continue  # shapes that do not broadcast: no tie of these two
        at = {refs[k]: v for k, v in moved.items() if isinstance(refs[k], str)}
        tied = _at_a_kink(exprs, at)
        if tied is None or not tied.any():
            continue
        if tied.shape == args[j].shape:  # elsewhere the example's values (not lo > hi, say)
            moved[j] = np.where(tied, moved[j], args[j])
        points.append((label, moved))
    return points


def _at_a_kink(exprs, values):
    """Where (element by element) some kink argument of `exprs` is exactly 0 at `values`."""
    tied = None
    for e in exprs:
        for u in kink_arguments(e):
            names, fn = _numpy_form(u)
            if any(s.name not in values for s in names):
                continue
            zero = np.asarray(fn(*[np.asarray(values[s.name], dtype=np.float64) for s in names])) == 0
            tied = zero if tied is None else np.logical_or(tied, zero)
    return tied


@functools.lru_cache(maxsize=None)
def _numpy_form(u):
    """A kink argument's symbols (by name) and its NumPy function, made once per expression:
    lambdify's "numpy" with its own printer settings, importing only the functions the code
    uses (the module "numpy" runs `from numpy import *`, which imports numpy's f2py and test
    modules, a tenth of a second)."""
    from sympy.printing.numpy import NumPyPrinter

    names = sorted(u.free_symbols, key=lambda s: s.name)
    printer = NumPyPrinter({"fully_qualified_modules": False, "inline": True,
                            "allow_unknown_functions": True, "user_functions": {}})
    return names, sp.lambdify(names, u, modules=[{}], printer=printer)


def _chooses(node) -> bool:
    """Whether a reduction or window node picks its largest or smallest element."""
    from ._rules import WINDOWS

    prim = node.eqn.primitive.name
    return prim in ("reduce_max", "reduce_min") or WINDOWS.get(prim) in ("max", "min")


def _both_sides(node, rule, staged, args: dict, upstream):
    """The node's value, derive's backward through it, and JAX's VJP of the node's own
    operation, at the arguments `args` (position -> array) and the upstream gradient."""
    refs = node.inputs
    args = [jnp.asarray(args[k]) for k in range(len(refs))]
    positions = [k for k, r in enumerate(refs) if isinstance(r, str) and staged[r].differentiable]
    out, pullback = jax.vjp(lambda *d: _bind(node.eqn, _merge(args, positions, d))[0],
                            *[args[k] for k in positions])
    theirs = dict(zip((refs[k] for k in positions), pullback(jnp.asarray(upstream))))
    values = {r: args[k] for k, r in enumerate(refs) if isinstance(r, str)}
    values[node.name] = out
    mine = {local.input: local.evaluate(values, jnp.asarray(upstream))
            for local in rule.locals if local.input in theirs}
    return out, mine, theirs


def _disagreement(mine: dict, theirs: dict) -> str | None:
    """The first input whose backward number differs from JAX's, said in words."""
    for name, got in mine.items():
        got = np.asarray(got, dtype=np.float64)
        reference = np.asarray(theirs[name], dtype=np.float64)
        err = float(np.max(np.abs(got - reference), initial=0.0))
        if err > autodiff_bound(got, reference):
            return f"the backward pass gives ∂/∂{name} = {_short(got)} but JAX gives {_short(reference)}"
    return None


def _merge(args, positions, new):
    out = list(args)
    for k, v in zip(positions, new):
        out[k] = v
    return out


def _short(a) -> str:
    return " ".join(np.array2string(np.asarray(a), precision=4, suppress_small=True, threshold=12).split())
