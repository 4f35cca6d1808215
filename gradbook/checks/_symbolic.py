"""Symbolic proofs: every equals sign in a derivation, proven by SymPy."""
from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .._display import Result
from ._ledger import fail, record

# Rewrites tried in turn on `left - right`; a step is proven when one of them yields exactly 0.
REWRITES = (
    ("as written", lambda e: e),
    ("expand", sp.expand),
    ("cancel", sp.cancel),
    ("simplify", sp.simplify),
    ("expand(simplify)", lambda e: sp.expand(sp.simplify(e))),
)


def prove_chain(claim: str, *steps, lhs: str | None = None, where: dict | None = None,
                box: bool = True, shown: str | None = None) -> Result:
    """Prove every consecutive equality in a chain of expressions and show it as LaTeX.

    Each step is an expression or an `(expression, "why")` pair; the first may be an
    unevaluated `sp.Derivative`. `where` maps display names to definitions (say
    `{sigma(s): 1/(1+exp(-s))}`) that are substituted before proving. `lhs` is LaTeX put in
    front of the chain, such as r"\\frac{d\\sigma}{ds}". `shown` is LaTeX put on the page instead
    of the chain, such as the matrix identity a proof written out entry by entry establishes.
    A step that does not follow raises ClaimFailed with its number, both sides and their
    simplified difference.
    """
    if len(steps) < 2:
        raise ValueError("a chain needs at least two expressions: there is nothing to prove")
    exprs, whys = zip(*(_split_step(s) for s in steps))
    latex = shown or _chain_latex(exprs, whys, lhs, box)
    where = dict(where or {})
    with sp.evaluate(True):  # a chain may be written under sp.evaluate(False); proofs may not
        evaluated = evaluate(exprs[0], where)
        for i in range(1, len(exprs)):  # each expression is evaluated once, when first needed
            previous, evaluated = evaluated, evaluate(exprs[i], where)
            _prove_step(claim, i, exprs[i - 1], exprs[i], previous, evaluated)
    n = len(exprs) - 1
    detail = ("the equality is proven by SymPy" if n == 1 else
              f"all {n} equalities are proven by SymPy") + _size_note(exprs)
    if shown:
        detail += ", written out entry by entry"
    return Result([record(claim, "sym", True, detail)], latex=latex, value=exprs[-1])


def prove_equal(claim: str, left, right, *, lhs: str | None = None, where: dict | None = None,
                box: bool = True, shown: str | None = None) -> Result:
    """Prove one equality (a chain of two)."""
    return prove_chain(claim, left, right, lhs=lhs, where=where, box=box, shown=shown)


def derivative(expr, wrt):
    """An unevaluated derivative, shaped like `wrt` when `wrt` is an explicit matrix of symbols."""
    if isinstance(wrt, sp.MatrixBase):
        return wrt.applyfunc(lambda w: sp.Derivative(expr, w))
    return sp.Derivative(expr, wrt)


def evaluate(expr, where: dict | None = None):
    """Substitute definitions, then carry out derivatives, sums and products symbolically."""
    if where:
        expr = _substitute(expr, where)
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: evaluate(e))
    if not isinstance(expr, sp.Basic):
        return sp.sympify(expr)
    expr = expr.replace(lambda e: isinstance(e, sp.Derivative),
                        lambda d: evaluate(d.expr).diff(*d.variable_count))
    try:
        return expr.doit()
    except NotImplementedError:  # some matrix expressions cannot doit(); they are already explicit
        return expr


def _prove_step(claim, number, left, right, a, b):
    """Prove left = right, given both already evaluated as a and b."""
    shape_a, shape_b = _shape(a), _shape(b)
    if shape_a != shape_b:
        fail(claim, "sym", _step_message(
            number, left, right, f"the two sides have different shapes: {shape_a} and {shape_b}"))
    difference = a - b
    witness = _nonzero_at_a_point(difference)
    if witness:  # plainly false: say so now, rather than after simplify() gives up (minutes)
        fail(claim, "sym", _step_message(number, left, right, witness))
    simplified = difference
    for _name, rewrite in REWRITES:
        simplified = _apply(rewrite, difference)
        if _is_zero(simplified):
            return
    fail(claim, "sym", _step_message(
        number, left, right, f"left - right simplifies to {sp.sstr(simplified)}, not 0"))


def _nonzero_at_a_point(difference) -> str | None:
    """A point where `difference` is plainly not 0, evaluated to 30 digits, or None.

    Only for a scalar expression in plain real symbols that evaluates to a finite real number
    at two random points (in [0.5, 1.5], inside the usual domains); anything else (undefined
    functions, matrices, complex values) leaves the decision to the rewrites.
    """
    if not isinstance(difference, sp.Expr) or isinstance(difference, sp.MatrixExpr):
        return None
    symbols = sorted(difference.free_symbols, key=lambda s: s.name)
    if not symbols or any(not isinstance(s, sp.Symbol) or s.is_integer or s.is_positive is False
                          for s in symbols) or difference.atoms(
            sp.Derivative, sp.Subs, sp.Integral, sp.Sum, sp.Product, sp.Indexed):
        return None
    if any(isinstance(f, sp.core.function.AppliedUndef) for f in difference.atoms(sp.Function)):
        return None
    found = None
    for k in range(2):
        point = {s: sp.Rational(50 + 37 * k + 13 * i, 100) for i, s in enumerate(symbols)}
        try:
            value = difference.xreplace(point).evalf(30)
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        if not (value.is_number and value.is_extended_real and value.is_finite) or abs(value) < 1e-20:
            return None
        found = found or (point, value)
    point, value = found
    at = ", ".join(f"{s} = {v}" for s, v in point.items())
    return f"left - right is {sp.N(value, 6)} at {at}, not 0"


def _step_message(number, left, right, why):
    return (f"step {number} does not follow from step {number - 1}\n"
            f"  left:  {sp.sstr(left)}\n  right: {sp.sstr(right)}\n  {why}")


def _apply(rewrite, expr):
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(rewrite)
    return rewrite(expr)


def _is_zero(expr) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(e == 0 for e in expr)
    return isinstance(expr, sp.ZeroMatrix) or expr == 0


def _shape(expr):
    return tuple(expr.shape) if isinstance(expr, (sp.MatrixBase, sp.MatrixExpr)) else ()


def _substitute(expr, where):
    """Replace each defined name by its definition; refuse to leave one behind unnoticed."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: _substitute(e, where))
    if not isinstance(expr, sp.Basic):
        return expr
    resolved = None
    if where and all(isinstance(k, sp.Symbol) for k in where) and not isinstance(expr, sp.MatrixExpr) \
            and not _binds(expr, where):
        resolved = _resolved(where)  # each definition written in plain symbols once, not per use
    if resolved is not None:
        result = expr.xreplace(resolved)
    else:
        result = expr
        for _ in range(len(where) + 1):  # definitions may use other defined names
            previous, result = result, _substitute_once(result, where)
            if result == previous:
                break
    left = [k for k in where
            if (k in result.free_symbols if isinstance(k, sp.Symbol) else result.has(k))]
    if left:
        raise ValueError(f"could not substitute the definition of {', '.join(map(sp.sstr, left))} "
                         "(inside a sum over its own index, or defined in terms of itself?); "
                         "write the definition in directly")
    return result


def _binds(expr, where) -> bool:
    """Whether a defined name is a bound variable in expr (d/dy, Σ over i): subs handles those."""
    scoped = expr.atoms(sp.Derivative, sp.Subs, sp.Integral, sp.Sum, sp.Product, sp.Lambda)
    return any(v in where for e in scoped for v in e.variables)


def _resolved(where: dict) -> dict | None:
    """Scalar definitions with the defined names inside them replaced, each once, in an order
    where a definition's names come first (subs on a deep graph repeats that work per path);
    None when a definition uses itself."""
    done: dict = {}
    for key in where:
        stack = [key]
        while stack:
            k = stack[-1]
            value = sp.sympify(where[k])
            inner = [s for s in value.free_symbols if s in where and s not in done and s != k]
            pending = [s for s in inner if s not in stack]
            if pending:
                stack.extend(pending)
                continue
            if inner:  # defined in terms of itself: left for _substitute to report
                return None
            done[k] = value.xreplace({s: done[s] for s in value.free_symbols if s in done})
            stack.pop()
    return done


def _substitute_once(expr, where):
    # A function defined by a Lambda ({sigma: Lambda(t, ...)}) is replaced at every call.
    # Simultaneous substitution keeps one definition from leaking into another; matrix
    # expressions support only plain subs, or failing that exact replacement.
    functions = {k: v for k, v in where.items() if isinstance(k, sp.FunctionClass)}
    for function, definition in functions.items():
        expr = expr.replace(function, definition)
    where = {k: v for k, v in where.items() if k not in functions}
    if not where:
        return expr
    for substitute in (lambda: expr.subs(where, simultaneous=True), lambda: expr.subs(where)):
        try:
            return substitute()
        except (TypeError, NotImplementedError, AttributeError):
            continue
    return expr.xreplace(where)


def _split_step(step):
    if isinstance(step, tuple) and len(step) == 2 and isinstance(step[1], str):
        return step
    return step, None


def _size_note(exprs) -> str:
    dims = set()
    for e in exprs:
        if isinstance(e, sp.Basic):
            for m in e.atoms(sp.MatrixSymbol):
                dims |= {d for d in m.shape if isinstance(d, sp.Symbol)}
    if not dims:
        return ""
    names = ", ".join(sorted(latex(d) for d in dims))
    return f", for every size (symbolic ${names}$)"


class _Latex(LatexPrinter):
    """SymPy's LaTeX, with the all-ones matrix shown as a bold 1 rather than a plain 1, and
    every derivative written with ∂ (the notebooks' one notation for a step's derivatives)."""

    def _print_OneMatrix(self, expr):
        rows, cols = expr.shape
        return r"\mathbf{1}^{\mathsf{T}}" if rows == 1 and cols != 1 else r"\mathbf{1}"


def latex(expr) -> str:
    """LaTeX for an expression, its terms in the order they were written."""
    return _Latex({"order": "none", "diff_operator": r"\partial"}).doprint(expr)


WIDE = 90  # characters of visible math on one line, about a notebook's width at display size


def _chain_latex(exprs, whys, lhs, box) -> str:
    """The chain as aligned lines: a long sum broken over lines at its terms, and a matrix
    written out entry by entry (a proof's working) shown by its size when too wide for a page."""
    terms = [_term_latex(e) for e in exprs]
    if box:
        terms[-1] = [rf"\boxed{{{t}}}" for t in terms[-1]] if len(terms[-1]) == 1 else terms[-1]
    notes = [f" && {_why_latex(w)}" if w else "" for w in whys]
    if lhs is None:
        if whys[0]:
            raise ValueError("the first expression has nothing before it to justify; "
                             "use lhs=... to name what it equals")
        lhs, terms, notes = terms[0], terms[1:], notes[1:]
    lines = []
    if isinstance(lhs, list) and len(lhs) > 1:  # a long first expression: all on the right
        lines = [f"& {lhs[0]}"] + [rf"&\quad {piece}" for piece in lhs[1:]]
        lhs = ""
    elif isinstance(lhs, list):
        lhs = lhs[0]
    for k, (pieces, note) in enumerate(zip(terms, notes)):
        head = f"{lhs} &= " if k == 0 and lhs else "&= "
        lines.append(f"{head}{pieces[0]}{note}")
        lines += [rf"&\quad {piece}" for piece in pieces[1:]]
    return r"\begin{aligned}" + " \\\\\n".join(lines) + r"\end{aligned}"


def _term_latex(expr) -> list[str]:
    """One step's LaTeX, as the pieces of its lines (one piece when it fits on one)."""
    text = latex(expr)
    if isinstance(expr, sp.MatrixBase):  # as wide as its widest row
        rows, cols = expr.shape
        widest = max((sum(_visible(latex(e)) + 2 for e in expr.row(i)) for i in range(rows)),
                     default=0)
        if widest <= WIDE:
            return [text]
        return [rf"\underbrace{{\left[\;\cdots\;\right]}}_{{{rows}\times {cols}"
                r"\text{, written out entry by entry}}"]
    if _visible(text) <= WIDE:
        return [text]
    if isinstance(expr, sp.Add):
        pieces, line = [], ""
        for arg in _summands(expr):
            t = latex(arg)
            t = t if line == "" and not pieces else (f"- {t[1:].lstrip()}" if t.startswith("-")
                                                    else f"+ {t}")
            if line and _visible(line + t) > WIDE:
                pieces.append(line)
                line = ""
            line = f"{line} {t}".strip()
        return pieces + [line]
    return [text]


def _summands(expr) -> list:
    """The terms of a sum, a sum written inside it (unevaluated) opened up in place."""
    return [t for arg in expr.args for t in (_summands(arg) if isinstance(arg, sp.Add) else [arg])]


def _visible(tex: str) -> int:
    """About how many characters wide a formula shows (macro names and braces take no room)."""
    import re

    return len(re.sub(r"\\[A-Za-z]+|[{}^_]|\\left|\\right", "", tex))


def _why_latex(why: str) -> str:
    """A justification in words, with $...$ spans kept as math: 'since $1-\\sigma = ...$'."""
    parts = why.split("$")
    if len(parts) % 2 == 0:
        raise ValueError(f"unbalanced $ in the note {why!r}")
    return " ".join(rf"\text{{{p}}}" if i % 2 == 0 else p
                    for i, p in enumerate(parts) if p)
