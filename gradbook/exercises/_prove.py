"""The first judge of an answer: SymPy, proving it equal to the reference answer.

Matrix symbols of symbolic sizes first, where the exercise says the notebook proves it so and
the answer uses only matrix products, sums and transposes; then entry by entry at the
exercise's sizes, first with the defined names (ŷ, δ, σ) kept as symbols of their own, then
with their definitions written out. A proof that does not come out is no verdict: the numbers
decide then.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ._answer import Answer, call_function
from ._bank import Exercise
from ._evaluate import EvalError, MatrixBackend, SymBackend, Unsupported, run
from ._parse import parse
from ._scope import matrix_scope, sympy_scope

# The rewrites are tried only below these sizes (operations): on larger expressions they can
# take minutes, and the numbers decide sooner.
_MAX_EXPAND, _MAX_CANCEL, _MAX_OPS, _MAX_PIECEWISE = 1000, 300, 80, 4


def prove(ex: Exercise, answer: Answer) -> str | None:
    """How SymPy proved the answer equal to the reference, or None when it could not."""
    reference = parse(ex.answer, ex.names() | ex.functions()).tree
    n = _components(ex)
    if ex.symbolic_sizes and answer.formula is not None:
        try:
            env, fns = matrix_scope(ex)
            mine = _tuple(run(answer.formula.tree, MatrixBackend(), env, fns), n)
            theirs = _tuple(run(reference, MatrixBackend(), env, fns), n)
            if all(_same_matrix(a, b) for a, b in zip(mine, theirs)):
                dims = ", ".join(ex.dims())
                return f"SymPy proves it equal to the right answer for every size (symbolic {dims})"
        except (Unsupported, EvalError, TypeError, ValueError, AttributeError, sp.ShapeError):
            pass
    for substitute in (False, True):
        try:
            env, fns = sympy_scope(ex, ex.sizes, substitute)
            if answer.formula is not None:
                mine = run(answer.formula.tree, SymBackend(), env, fns)
            else:
                mine = call_function(answer, env)
            mine = _tuple(mine, n)
            theirs = _tuple(run(reference, SymBackend(), env, fns), n)
        except Exception:  # noqa: BLE001 - a student's function may fail on symbols in any way
            return None
        if all(_same_entries(a, b) for a, b in zip(mine, theirs)):
            sizes = ", ".join(f"{d} = {ex.sizes[d]}" for d in ex.dims())
            where = " (with the definitions written out)" if substitute else ""
            return ("SymPy proves it equal to the right answer" + where +
                    (f", for sizes {sizes}" if sizes else ""))
    return None


def _components(ex: Exercise) -> int:
    return len(ex.wrt) if ex.kind == "grad" else 1


def _tuple(value, n):
    if n == 1 and not (isinstance(value, tuple) and len(value) == 1):
        return (value,)
    if not isinstance(value, tuple) or len(value) != n:
        raise ValueError("wrong number of parts")
    return value


def _same_matrix(a, b) -> bool:
    a_mat, b_mat = isinstance(a, sp.MatrixExpr), isinstance(b, sp.MatrixExpr)
    if a_mat != b_mat:
        return False
    if a_mat and any(sp.simplify(x - y) != 0 for x, y in zip(a.shape, b.shape)):
        return False
    difference = (a - b).doit()
    if difference == 0 or isinstance(difference, sp.ZeroMatrix):
        return True
    expanded = sp.expand(difference).doit()
    return expanded == 0 or isinstance(expanded, sp.ZeroMatrix)


def _same_entries(a, b) -> bool:
    a = np.asarray(a, dtype=object) if isinstance(a, np.ndarray) else a
    b = np.asarray(b, dtype=object) if isinstance(b, np.ndarray) else b
    if np.shape(a) != np.shape(b):
        return False
    if not isinstance(a, np.ndarray):
        return _is_zero(sp.sympify(a) - sp.sympify(b))
    return all(_is_zero(sp.sympify(x) - sp.sympify(y)) for x, y in zip(a.ravel(), b.ravel()))


def _is_zero(expr) -> bool:
    """Whether SymPy reduces `expr` to 0, trying the costlier rewrites only on smaller expressions."""
    if expr == 0:
        return True
    ops = sp.count_ops(expr)
    if len(expr.atoms(sp.Piecewise)) > _MAX_PIECEWISE:  # case splits multiply: leave it to JAX
        return sp.expand(expr) == 0 if ops <= _MAX_EXPAND else False
    rewrites = [(sp.expand, _MAX_EXPAND), (_folded, _MAX_EXPAND), (sp.cancel, _MAX_CANCEL),
                (sp.simplify, _MAX_OPS)]
    for rewrite, limit in rewrites:
        if ops > limit:
            break
        expr = rewrite(expr)
        if expr == 0:
            return True
        ops = sp.count_ops(expr)
    return False


def _folded(expr):
    """Piecewise parts folded together: exponential in their number, so for a few only."""
    if not expr.has(sp.Piecewise) or len(expr.atoms(sp.Piecewise)) > _MAX_PIECEWISE:
        return expr
    return sp.expand(sp.piecewise_fold(expr))
