"""Naming the mistake in a wrong answer, from its numbers and, for a formula, small edits of it.

Tried in order: the answer cannot be evaluated or has the wrong shape (a missing transpose, a
row/column convention swap, a bias gradient not summed over the batch); its values are wrong
(right only at the worked example, a flipped sign, a constant factor, a missing transpose, a
ReLU mask from the wrong quantity, one row of the batch); right everywhere but at a tie of a
max. Otherwise: where it differs, with the numbers.
"""
from __future__ import annotations

import ast
import copy
from fractions import Fraction

import numpy as np

from ._answer import WrongCount
from ._feedback import Feedback, close, fit
from ._parse import function_name

FLIPPED = "flipped sign"
FACTOR = "missing or extra constant factor"
TRANSPOSE = "missing transpose"
CONVENTION = "row/column convention swap"
UNSUMMED = "unsummed bias over the batch"
MASK = "ReLU mask from the wrong quantity"
TIE = "wrong side of a max tie"
EXAMPLE_ONLY = "right only at the worked example"
DIFFERS = "differs at these points"
SHAPE = "wrong shape"
CANNOT = "cannot be evaluated"


def diagnose(grader, answer, results_or_error) -> Feedback:
    """The Feedback for a wrong answer: a named diagnosis and its evidence."""
    ex = grader.ex
    name, message = _diagnose(grader, answer, results_or_error)
    return Feedback(ex.id, False, message, name, settled_by="JAX")


def _diagnose(g, answer, results):
    if isinstance(results, WrongCount):
        return SHAPE, (f"{len(g.ex.wrt)} formulas are asked for, one per variable "
                       f"({', '.join(g.ex.wrt)}), as a tuple; the answer gives {results.got}.")
    if isinstance(results, Exception):
        return _cannot_evaluate(g, answer, results)
    main = [r for r in results if not r[0].startswith("a tie")]
    ties = [r for r in results if r[0].startswith("a tie")]
    wrong_main = [r for r in main if not _all_close(r[1], r[2])]
    if not wrong_main:
        label, mine, theirs = next(r for r in ties if not _all_close(r[1], r[2]))
        return TIE, (f"right away from ties, but at {label} it gives {_show(mine)} where the "
                     f"document's convention gives {_show(theirs)}: at a tie of max(a, b) (or "
                     "ReLU at 0) the convention here sends nothing to either input "
                     "(a strict >, not >=).")
    if g.ex.example and (_all_close(main[0][1], main[0][2]) or _near(main[0][1], main[0][2])):
        label = next(lab for lab, m, t in main[1:] if not _all_close(m, t))
        digits = "" if _all_close(main[0][1], main[0][2]) else " (to the digits a document prints)"
        return EXAMPLE_ONLY, (f"right at the worked example{digits}, but not at {label}; a formula "
                              "must hold at every point (are these the example's numbers instead "
                              "of a formula?). " + _evidence(g, main))
    for i, w in enumerate(_labels(g)):
        pairs = [(label, fit(m[i], t[i]), t[i]) for label, m, t in main]
        if any(a.shape != b.shape for _, a, b in pairs):
            pairs.sort(key=lambda p: p[1].shape == p[2].shape)
            return _wrong_shape(g, answer, main, i, w, pairs)
    return _wrong_values(g, answer, main)


def _labels(g):
    if g.ex.kind == "jacobian":
        return ["the Jacobian"]
    return [f"∂/∂{w}" for w in g.ex.wrt]


def _noun(g) -> str:
    return "gradient" if g.ex.kind == "grad" else "Jacobian"


def _all_close(mine, theirs) -> bool:
    return all(close(a, b) for a, b in zip(mine, theirs))


def _cannot_evaluate(g, answer, error):
    fixed = _transpose_fix(g, answer) or _mask_fix(g, answer)
    if fixed:
        return fixed
    return CANNOT, f"the answer cannot be evaluated: {error}"


def _wrong_shape(g, answer, main, i, w, pairs):
    label, mine, theirs = pairs[0]
    if mine.ndim == 2 and mine.shape == theirs.shape[::-1] and \
            all(close(a.T, b) for _, a, b in pairs):
        return CONVENTION, (f"{w}: the answer is the transpose of the {_noun(g)}, shaped "
                            f"{_shape(mine)} where {g.ex.wrt[i] if g.ex.kind == 'grad' else 'it'} "
                            f"is {_shape(theirs)}: a formula of the other convention (rows as "
                            "samples against columns as vectors, or the Jacobian laid out inputs "
                            "first).")
    fixed = _transpose_fix(g, answer)
    if fixed:
        return fixed
    batch = g.ex.sizes_at(g.points[-1][1]).get(g.ex.batch) if g.ex.batch else None
    axes = [k for k, n in enumerate(mine.shape) if n == batch]
    if any(all(close(a.sum(axis=k), b) for _, a, b in pairs) for k in axes):
        return UNSUMMED, (f"{w}: the answer keeps one entry per sample, shape {_shape(mine)}, "
                          f"where the bias is {_shape(theirs)}: the bias is added to every "
                          "sample, so its gradient is the sum over the batch.")
    fixed = _mask_fix(g, answer)
    if fixed:
        return fixed
    return SHAPE, (f"{w}: the answer's shape is {_shape(mine)}, but the {_noun(g)} has the shape "
                   f"of {g.ex.wrt[i] if g.ex.kind == 'grad' else 'the Jacobian'}, "
                   f"{_shape(theirs)} (at {label}).")


def _wrong_values(g, answer, main):
    ex = g.ex
    i = next(k for k in range(g.n) if not all(close(m[k], t[k]) for _, m, t in main))
    w = _labels(g)[i] + ": " if g.n > 1 else ""
    ratios = _ratios([(label, (m[i],), (t[i],)) for label, m, t in main])
    if ratios is not None and np.allclose(ratios, -1.0, rtol=1e-8):
        return FLIPPED, (w + f"the answer is the negative of the {_noun(g)} at every point. "
                         + _evidence(g, main))
    if ratios is not None and np.allclose(ratios, ratios[0], rtol=1e-8) and abs(ratios[0]) > 1e-12:
        return FACTOR, w + _factor_message(g, main, ratios[0]) + " " + _evidence(g, main)
    fixed = _transpose_fix(g, answer)
    if fixed:
        return fixed
    if all(m.ndim == 2 and m.shape[0] == m.shape[1] and close(m.T, t)
           for _, mine, theirs in main for m, t in zip(mine, theirs) if not close(m, t)):
        return CONVENTION, (f"the answer is the transpose of the {_noun(g)} (the shapes agree "
                            "only because the matrix is square). " + _evidence(g, main))
    fixed = _mask_fix(g, answer)
    if fixed:
        return fixed
    if ex.batch and _right_for_one_sample(g, answer):
        return UNSUMMED, ("right for a batch of one sample, wrong for more: the gradient of a "
                          "parameter shared by the whole batch (a bias) sums over every "
                          "sample's row. " + _evidence(g, main))
    return DIFFERS, f"the answer differs from the {_noun(g)}. " + _evidence(g, main)


def _near(mine, theirs) -> bool:
    """Equal to the digits a document prints (relative 1e-3): the example's numbers copied."""
    try:
        return all(np.allclose(fit(m, t), t, rtol=1e-3, atol=1e-4) for m, t in zip(mine, theirs)
                   if fit(m, t).shape == t.shape) and all(fit(m, t).shape == t.shape
                                                         for m, t in zip(mine, theirs))
    except (TypeError, ValueError):
        return False


def _ratios(main):
    """The number c with answer = c · gradient at each point, or None when there is none."""
    out = []
    for _, mine, theirs in main:
        a = np.concatenate([np.ravel(fit(m, t)) for m, t in zip(mine, theirs)])
        b = np.concatenate([np.ravel(t) for t in theirs])
        if a.shape != b.shape:
            return None
        if not np.any(b):  # no evidence here, unless the answer is not zero either
            if np.any(a):
                return None
            continue
        c = float(np.dot(a, b) / np.dot(b, b))
        if not np.isfinite(c):  # an answer of inf or nan: no factor to name
            return None
        if not np.allclose(a, c * b, rtol=1e-8, atol=1e-12 * max(1.0, float(np.max(np.abs(b))))):
            return None
        out.append(c)
    return np.array(out) if out else None


def _factor_message(g, main, c) -> str:
    sizes = g.ex.sizes_at(g.points[-1][1])
    for name, n in sizes.items():
        if name != g.ex.batch:
            continue
        if n > 1 and np.isclose(c, n):
            return f"the answer is {n} times the {_noun(g)}: a factor {name} too many (a 1/{name} missing?)."
        if n > 1 and np.isclose(c, 1 / n):
            return f"the answer is 1/{n} of the {_noun(g)}: a factor 1/{name} too many."
    nice = Fraction(c).limit_denominator(24)
    shown = str(nice) if np.isclose(float(nice), c, rtol=1e-9) else f"{c:.6g}"
    return (f"the answer is {shown} times the {_noun(g)} at every point: "
            f"{'an extra' if abs(c) > 1 else 'a missing'} constant factor.")


def _right_for_one_sample(g, answer) -> bool:
    points = g.ex.random_points(2, sizes={g.ex.batch: 1}, salt="one sample")
    try:
        return all(_all_close(g.student(answer, p), g.truth(f"one sample {i}", p))
                   for i, p in enumerate(points))
    except Exception:  # noqa: BLE001 - any failure means: no, it is not right for one sample
        return False


# --- small edits of a formula ------------------------------------------------------------------

def _matches_everywhere(g, answer, tree, extra_for=None) -> bool:
    try:
        for label, point in g.points:
            extra = extra_for(point) if extra_for else None
            if not _all_close(g.student(answer, point, tree=tree, extra=extra), g.truth(label, point)):
                return False
    except Exception:  # noqa: BLE001 - an edit that does not evaluate is simply not the fix
        return False
    return True


def _transpose_fix(g, answer):
    """A missing (or extra) transpose: one .T added to (or removed from) a matrix makes it right."""
    if answer.formula is None:
        return None
    tree = answer.formula.tree
    matrices = _matrix_names(g)
    for index, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.Name) and node.id in matrices and not _is_transposed(tree, node):
            variant = _replace(tree, index, lambda n: ast.Attribute(n, "T", ast.Load()))
            if _matches_everywhere(g, answer, variant):
                shape = matrices[node.id]
                return TRANSPOSE, (f"{node.id} is used untransposed where its transpose belongs "
                                   f"({node.id} is {shape}, so {node.id}ᵀ is "
                                   f"{'×'.join(shape.split('×')[::-1])}): with {node.id}ᵀ in that "
                                   "place the formula is right.")
        if isinstance(node, ast.Attribute) and node.attr == "T":
            variant = _replace(tree, index, lambda n: n.value)
            if _matches_everywhere(g, answer, variant):
                what = ast.unparse(node.value)
                return TRANSPOSE, (f"a transpose too many: ({what})ᵀ is used where {what} itself "
                                   "belongs; without that transpose the formula is right.")
    return None


def _mask_fix(g, answer):
    """A ReLU mask taken from the wrong quantity: the right mask in its place makes it right."""
    if answer.formula is None or not g.ex.mask:
        return None
    tree = answer.formula.tree
    masks = [n for n in ast.walk(tree) if isinstance(n, ast.Compare) or
             isinstance(n, ast.Call) and function_name(n.func) == "step"]
    if not masks:
        return None
    variant = _MaskSwap().visit(copy.deepcopy(tree))
    ast.fix_missing_locations(variant)
    from ._scope import evaluate_at

    if _matches_everywhere(g, answer, variant,
                           extra_for=lambda p: {"__mask__": evaluate_at(g.ex, g.ex.mask, p)}):
        used = ", ".join(dict.fromkeys(ast.unparse(m) for m in masks))
        return MASK, (f"the mask {used} is taken from the wrong quantity: a ReLU passes the "
                      "gradient where its input (the pre-activation) was positive, and only "
                      "there.")
    return None


class _MaskSwap(ast.NodeTransformer):
    def visit_Compare(self, node):
        return ast.copy_location(ast.Name("__mask__", ast.Load()), node)

    def visit_Call(self, node):
        if function_name(node.func) == "step":
            return ast.copy_location(ast.Name("__mask__", ast.Load()), node)
        return self.generic_visit(node)


def _matrix_names(g) -> dict[str, str]:
    """Inputs and defined values that are matrices (both sizes above one), with their shapes."""
    out = {}
    point = g.points[-1][1]
    from ._scope import jax_scope

    env, _ = jax_scope(g.ex, point)
    for name in g.ex.names():
        shape = np.shape(env.get(name, 0.0))
        if len(shape) == 2 and shape != (1, 1):
            out[name] = "×".join(map(str, shape))
    return out


def _is_transposed(tree, name) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "T" and n.value is name
               for n in ast.walk(tree))


def _replace(tree, index, make):
    """A copy of `tree` with its index-th node (in ast.walk order) replaced by make(node)."""
    tree = copy.deepcopy(tree)
    target = list(ast.walk(tree))[index]

    class Swap(ast.NodeTransformer):
        def visit(self, node):
            if node is target:
                return make(node)
            return self.generic_visit(node)

    tree = Swap().visit(tree)
    return ast.fix_missing_locations(tree)


# --- evidence ------------------------------------------------------------------------------------

def _evidence(g, main, limit: int = 2) -> str:
    lines = []
    for label, mine, theirs in main:
        for w, m, t in zip(_labels(g), mine, theirs):
            m = fit(m, t)
            if close(m, t):
                continue
            if m.shape != t.shape:
                lines.append(f"at {label}, {w}: shape {_shape(m)}, expected {_shape(t)}")
            elif t.size <= 4:
                lines.append(f"at {label}, {w}: the answer gives {_show(m)}, the {_noun(g)} is {_show(t)}")
            else:
                k = np.unravel_index(int(np.argmax(np.abs(m - t))), t.shape)
                lines.append(f"at {label}, {w}{list(map(int, k))}: the answer gives "
                             f"{float(m[k]):.6g}, the {_noun(g)} is {float(t[k]):.6g}")
            break
        if len(lines) >= limit:
            break
    return "For instance: " + "; ".join(lines) + "." if lines else ""


def _show(value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    value = np.asarray(value)
    if value.ndim == 0:
        return f"{float(value):.6g}"
    return np.array2string(value, precision=4, separator=", ").replace("\n", "")


def _shape(value) -> str:
    shape = np.shape(value)
    return "a scalar" if shape == () else "×".join(map(str, shape))

