"""The gradient of a scalar matrix expression, by the rules of matrix calculus, at any size.

∂ tr(Ḡᵀ E)/∂X for a matrix expression E of MatrixSymbols with symbolic sizes, taken down E's
own tree (the forward as written, never the backward pass's rules), one identity per kind of
node:
  product      E = A B        passes  Ḡ Bᵀ to A  and  Aᵀ Ḡ to B  (a longer product: each factor
                              gets the factors to its left transposed before Ḡ, to its right after)
  transpose    E = Aᵀ         passes  Ḡᵀ
  sum          E = A + B      passes  Ḡ to each
  Hadamard     E = A ⊙ B      passes  Ḡ ⊙ B to A  and  Ḡ ⊙ A to B
  power        E = A^∘p       passes  Ḡ ⊙ p A^∘(p-1)
  elementwise  E = f∘A        passes  Ḡ ⊙ f'∘A, f' being SymPy's derivative of f
  power        E = Aᵖ         the product A A … A (p factors)
Each identity is SymPy's own at symbolic sizes where SymPy can differentiate the small form
(tests/test_matrix_proofs.py). SymPy 1.14's diff of a whole network fails (it raises
"contracting indices of different dimensions" through f∘(W X) followed by another product);
these identities compose where it cannot.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ._ties import _numpy_form

CONSTANT = (sp.MatrixSymbol, sp.OneMatrix, sp.ZeroMatrix, sp.Identity)
PATHS = 400  # the terms grow with the paths from the output down to X: a recurrence's
             # states each read several times make thousands; those are not attempted


class NotMatrixCalculus(Exception):
    """A node of the expression none of the identities covers."""


def matrix_gradient(expr, wrt, up=None):
    """∂ tr(Ḡᵀ E)/∂X, the matrix of X's shape; Ḡ is 1 for a 1×1 E (a whole forward)."""
    terms = []
    for term in _passed(expr, wrt, sp.Identity(1) if up is None else up):
        terms.append(term)
        if len(terms) > PATHS:
            raise NotMatrixCalculus(f"more than {PATHS} paths from the output down to it")
    if not terms:
        return sp.ZeroMatrix(*wrt.shape)
    return terms[0] if len(terms) == 1 else sp.MatAdd(*terms)


def _passed(e, wrt, up):
    """The terms ∂ tr(upᵀ e)/∂wrt, one per path from e down to wrt."""
    if e == wrt:
        yield up
        return
    if isinstance(e, CONSTANT) or not e.has(wrt):
        return
    if isinstance(e, sp.Transpose):
        yield from _passed(e.arg, wrt, sp.Transpose(up))
    elif isinstance(e, sp.MatAdd):
        for arg in e.args:
            yield from _passed(arg, wrt, up)
    elif isinstance(e, sp.MatMul):
        coeff, factors = e.as_coeff_matrices()
        for i, factor in enumerate(factors):
            if not factor.has(wrt):
                continue
            left, right = factors[:i], factors[i + 1:]
            passed = sp.MatMul(coeff, up) if coeff != 1 else up
            if left:
                passed = sp.MatMul(sp.Transpose(_product(left)), passed)
            if right:
                passed = sp.MatMul(passed, sp.Transpose(_product(right)))
            yield from _passed(factor, wrt, passed)
    elif isinstance(e, sp.MatPow) and e.exp.is_Integer and e.exp > 0:  # A A … A, as a product
        p = int(e.exp)
        for i in range(p):
            passed = up
            if i:
                passed = sp.MatMul(sp.Transpose(_power(e.base, i)), passed)
            if p - 1 - i:
                passed = sp.MatMul(passed, sp.Transpose(_power(e.base, p - 1 - i)))
            yield from _passed(e.base, wrt, passed)
    elif isinstance(e, sp.HadamardProduct):
        for i, arg in enumerate(e.args):
            if arg.has(wrt):
                others = e.args[:i] + e.args[i + 1:]
                yield from _passed(arg, wrt, sp.HadamardProduct(up, *others))
    elif isinstance(e, sp.HadamardPower):
        p = e.exp
        slope = sp.MatMul(p, sp.HadamardPower(e.base, p - 1) if p != 2 else e.base)
        yield from _passed(e.base, wrt, sp.HadamardProduct(up, slope))
    elif isinstance(e, ElementwiseApplyFunction):
        d = sp.Dummy("d", real=True)  # entries are real: |d|' is sign(d), not re/im parts
        slope = sp.Lambda(d, sp.diff(e.function(d), d))
        yield from _passed(e.expr, wrt, sp.HadamardProduct(up, ElementwiseApplyFunction(slope, e.expr)))
    else:
        raise NotMatrixCalculus(f"no identity for {type(e).__name__}")


def _power(base, p):
    return base if p == 1 else sp.MatPow(base, p)


def _product(factors):
    return factors[0] if len(factors) == 1 else sp.MatMul(*factors)


def evaluated(expr, values: dict, sizes: dict):
    """A matrix expression's value with NumPy: each MatrixSymbol from `values`, each size symbol
    from `sizes` (a numeric witness where SymPy cannot show two forms equal)."""
    memo: dict = {}  # the tree shares its subexpressions: each is evaluated once

    def ev(e):
        if e not in memo:
            memo[e] = value(e)
        return memo[e]

    def value(e):
        if isinstance(e, sp.MatrixSymbol):
            return values[e]
        if isinstance(e, (sp.OneMatrix, sp.ZeroMatrix, sp.Identity)):
            rows, cols = (int(sp.sympify(s).subs(sizes)) for s in e.shape)
            maker = {sp.OneMatrix: np.ones, sp.ZeroMatrix: np.zeros}.get(type(e))
            return maker((rows, cols)) if maker else np.eye(rows)
        if isinstance(e, sp.Transpose):
            return ev(e.arg).T
        if isinstance(e, sp.MatAdd):
            return sum(ev(a) for a in e.args)
        if isinstance(e, sp.MatMul):
            coeff, factors = e.as_coeff_matrices()
            out = float(coeff.subs(sizes))
            for f in factors:
                out = out @ ev(f) if isinstance(out, np.ndarray) else out * ev(f)
            return out
        if isinstance(e, sp.MatPow) and e.exp.is_Integer and e.exp > 0:
            return np.linalg.matrix_power(ev(e.base), int(e.exp))
        if isinstance(e, sp.HadamardProduct):
            return np.prod([ev(a) for a in e.args], axis=0)
        if isinstance(e, sp.HadamardPower):
            return ev(e.base) ** float(e.exp)
        if isinstance(e, ElementwiseApplyFunction):
            names, f = _numpy_form(e.function.expr)
            if any(s != e.function.variables[0] for s in names):
                raise NotMatrixCalculus(f"a function of several symbols ({e.function})")
            x = ev(e.expr)
            return np.broadcast_to(f(*[x] * len(names)), x.shape).astype(float)
        raise NotMatrixCalculus(f"no identity for {type(e).__name__}")

    return np.asarray(ev(expr), dtype=float)


__all__ = ["NotMatrixCalculus", "evaluated", "matrix_gradient"]
