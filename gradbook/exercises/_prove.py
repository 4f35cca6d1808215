"""The first judge of an answer: SymPy, proving it equal to the reference answer (or, for the
teacher's feedback, to one of the exercise's declared mistakes).

Matrix symbols of symbolic sizes first, where the exercise says the notebook proves it so and
the answer uses only matrix products, sums and transposes; then entry by entry at the
exercise's sizes, first with the defined names (ŷ, δ, σ) kept as symbols of their own, then
with their definitions written out. A proof that does not come out is no verdict: the numbers
decide then. So is a proof that runs past TIME_LIMIT seconds: the answer's notes say so.
"""
from __future__ import annotations


import numpy as np
import sympy as sp
from sympy.functions.elementary.hyperbolic import HyperbolicFunction
from sympy.functions.elementary.trigonometric import TrigonometricFunction

from ._answer import Answer, call_function
from ._limits import time_limit as _time_limit
from ._bank import Exercise
from ._evaluate import EvalError, MatrixBackend, SymBackend, Unsupported, run
from ._parse import parse
from ._scope import matrix_scope, sympy_scope

# The rewrites are tried only below these sizes (operations): on larger expressions they can
# take minutes, and the numbers decide sooner.
_MAX_EXPAND, _MAX_CANCEL, _MAX_OPS, _MAX_PIECEWISE = 1000, 300, 80, 4
TIME_LIMIT = 5.0  # seconds of CPU time SymPy may take before the numbers decide instead


class ProofTimeout(BaseException):
    """SymPy ran past the time limit (a BaseException, so that no `except Exception` eats it)."""


def time_limit(seconds: float | None):
    """Raise ProofTimeout in the block after `seconds` of CPU time; in the main thread only."""
    return _time_limit(seconds, ProofTimeout, cpu=True)


def prove(ex: Exercise, answer: Answer, target: str | None = None) -> str | None:
    """How SymPy proved the answer equal to the reference (or to `target`, one of the exercise's
    declared mistakes), or None when it could not (or ran out of time, which the notes say)."""
    if answer.function is not None:
        from .. import _float64  # noqa: F401 - imported before the clock starts, never cut short
    try:
        with time_limit(TIME_LIMIT):
            return _prove(ex, answer, target)
    except ProofTimeout:
        whether = "" if target is None else f" whether it equals the expected mistake {target}"
        answer.notes.append(f"SymPy ran out of time ({TIME_LIMIT:g} s) before it could decide"
                            f"{whether}, so the numbers decided")
        return None


def _prove(ex: Exercise, answer: Answer, target: str | None = None) -> str | None:
    reference = _reference_tree(ex, target)
    what = "the right answer" if target is None else f"the expected mistake {target}"
    n = _components(ex)
    if ex.symbolic_sizes and answer.formula is not None:
        try:
            env, fns = matrix_scope(ex)
            mine = _tuple(run(answer.formula.tree, MatrixBackend(), env, fns), n)
            theirs = _tuple(run(reference, MatrixBackend(), env, fns), n)
            if all(_same_matrix(a, b) for a, b in zip(mine, theirs)):
                dims = ", ".join(ex.dims())
                return f"SymPy proves it equal to {what} for every size (symbolic {dims})"
        except (Unsupported, EvalError, TypeError, ValueError, AttributeError, sp.ShapeError):
            pass
    for substitute in (False, True):
        try:
            env, fns, theirs = _reference_entries(ex, substitute, target)
            if answer.formula is not None:
                mine = run(answer.formula.tree, SymBackend(), env, fns)
            else:
                mine = call_function(answer, env)
            mine = _tuple(mine, n)
            theirs = _tuple(theirs, n)
        except Exception:  # noqa: BLE001 - a student's function may fail on symbols in any way
            return None
        if all(_same_entries(a, b, thorough=substitute) for a, b in zip(mine, theirs)):
            sizes = ", ".join(f"{d} = {ex.sizes[d]}" for d in ex.dims())
            where = " (with the definitions written out)" if substitute else ""
            return (f"SymPy proves it equal to {what}" + where +
                    (f", for sizes {sizes}" if sizes else ""))
    return None


_REFERENCES: dict = {}


def _reference_tree(ex: Exercise, target: str | None = None):
    key = ("tree", repr(ex.to_dict()), target)
    if key not in _REFERENCES:
        _REFERENCES[key] = parse(ex.answer if target is None else target,
                                 ex.names() | ex.functions()).tree
    return _REFERENCES[key]


def _reference_entries(ex: Exercise, substitute: bool, target: str | None = None):
    """(env, functions, the reference's (or `target`'s) entries) in SymPy, computed once."""
    key = ("entries", repr(ex.to_dict()), substitute, target)
    if key not in _REFERENCES:
        env, fns = sympy_scope(ex, ex.sizes, substitute)
        _REFERENCES[key] = (env, fns, run(_reference_tree(ex, target), SymBackend(), env, fns))
    return _REFERENCES[key]


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


def _same_entries(a, b, thorough: bool = True) -> bool:
    a = np.asarray(a, dtype=object) if isinstance(a, np.ndarray) else a
    b = np.asarray(b, dtype=object) if isinstance(b, np.ndarray) else b
    if np.shape(a) != np.shape(b):
        if np.size(a) != np.size(b) or [d for d in np.shape(a) if d != 1] != \
                [d for d in np.shape(b) if d != 1]:
            return False
        a = np.reshape(np.asarray(a, dtype=object), np.shape(b)) if np.shape(b) else \
            np.asarray(a, dtype=object).ravel()[0]
    if not isinstance(a, np.ndarray):
        return _is_zero(sp.sympify(a) - sp.sympify(b), thorough)
    return all(_is_zero(sp.sympify(x) - sp.sympify(y), thorough)
               for x, y in zip(a.ravel(), b.ravel()))


def _is_zero(expr, thorough: bool = True) -> bool:
    """Whether SymPy reduces `expr` to 0, trying the costlier rewrites only on smaller expressions
    (and, when not `thorough`, not at all: the pass with definitions kept as symbols is quick)."""
    if expr == 0:
        return True
    if not thorough:
        return sp.expand(expr) == 0 if sp.count_ops(expr) <= _MAX_EXPAND else False
    ops = sp.count_ops(expr)
    if len(expr.atoms(sp.Piecewise)) > _MAX_PIECEWISE:  # case splits multiply: leave it to JAX
        return sp.expand(expr) == 0 if ops <= _MAX_EXPAND else False
    rewrites = [(sp.expand, _MAX_EXPAND), (_folded, _MAX_EXPAND), (sp.cancel, _MAX_CANCEL),
                (_exponential, _MAX_CANCEL), (sp.simplify, _MAX_OPS)]
    for rewrite, limit in rewrites:
        if ops > limit:
            break
        expr = rewrite(expr)
        if expr == 0:
            return True
        ops = sp.count_ops(expr)
    return False


def _exponential(expr):
    """Hyperbolic and trigonometric functions written with exp (cosh, sech, tanh of a sigmoid)."""
    if not expr.atoms(HyperbolicFunction, TrigonometricFunction):
        return expr
    return sp.cancel(sp.expand(expr.rewrite(sp.exp)))


def _folded(expr):
    """Piecewise parts folded together: exponential in their number, so for a few only."""
    if not expr.has(sp.Piecewise) or len(expr.atoms(sp.Piecewise)) > _MAX_PIECEWISE:
        return expr
    return sp.expand(sp.piecewise_fold(expr))
