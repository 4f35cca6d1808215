"""Equality of two matrix expressions at symbolic sizes, up to how elementwise parts are split.

SymPy writes f'∘(W X) ⊙ Y where a composition writes Y ⊙ (1 - tanh²∘(W X)); both are one
elementwise function of the same products. Each elementwise part is written as a scalar
expression in one symbol per product or matrix it reads (a product's symbol named by its
factors, so the same product is the same symbol), and the two are compared by SymPy.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

ELEMENTWISE = (sp.HadamardProduct, sp.MatAdd, ElementwiseApplyFunction, sp.OneMatrix,
               sp.ZeroMatrix, sp.HadamardPower)


def equal(left, right) -> bool:
    """True when SymPy shows the two matrix expressions equal entry by entry, at any size."""
    if left.shape != right.shape:
        return False
    difference = _entry(left.doit(), False) - _entry(right.doit(), False)
    return any(rewrite(difference) == 0 for rewrite in (sp.expand, sp.cancel, sp.simplify))


def _entry(e, flipped: bool):
    """A generic entry of `e` (of eᵀ when flipped): a scalar expression in symbols that stand
    for the entries of the products and matrices it is made of."""
    if isinstance(e, sp.Transpose):
        return _entry(e.arg, not flipped)
    if isinstance(e, sp.OneMatrix) or isinstance(e, sp.Identity) and e.shape == (1, 1):
        return sp.Integer(1)
    if isinstance(e, sp.ZeroMatrix):
        return sp.Integer(0)
    if isinstance(e, sp.HadamardProduct):
        return sp.Mul(*[_entry(a, flipped) for a in e.args])
    if isinstance(e, sp.HadamardPower):
        return _entry(e.base, flipped) ** e.exp
    if isinstance(e, sp.MatAdd):
        return sp.Add(*[_entry(a, flipped) for a in e.args])
    if isinstance(e, ElementwiseApplyFunction):
        return e.function(_entry(e.expr, flipped))
    if isinstance(e, sp.MatMul):
        coeff, matrices = e.as_coeff_matrices()
        if len(matrices) == 1:
            return coeff * _entry(matrices[0], flipped)
        factors = [_key(m) for m in matrices]
        factors = [f"T({f})" for f in reversed(factors)] if flipped else factors
        return coeff * sp.Symbol("*".join(factors))
    return sp.Symbol(f"T({_key(e)})" if flipped else _key(e))


def _key(e) -> str:
    """A name for a matrix that is the same for equal products and transposes."""
    if isinstance(e, sp.Transpose):
        return f"T({_key(e.arg)})"
    if isinstance(e, sp.MatrixSymbol):
        return f"{e.name}[{e.rows},{e.cols}]"
    if isinstance(e, (sp.OneMatrix, sp.Identity, sp.ZeroMatrix)):
        return f"{type(e).__name__}[{e.rows},{e.cols}]"
    return sp.srepr(sp.expand(_entry(e, False)))


__all__ = ["equal"]
