"""Equality of two matrix expressions at symbolic sizes, up to how elementwise parts are split.

SymPy writes f'∘(W X) ⊙ Y where a composition writes Y ⊙ (1 - tanh²∘(W X)); both are one
elementwise function of the same products. Each elementwise part is written as a scalar
expression in one symbol per product or matrix it reads (a product's symbol named by its
factors, so the same product is the same symbol), and the two are compared by SymPy.
"""
from __future__ import annotations

import itertools

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

SIMPLIFIED_OPS = 60  # a difference longer than this is only expanded, not simplified
TERMS = 4096  # a product of sums multiplied out past this is not compared
ELEMENTWISE = (sp.HadamardProduct, sp.MatAdd, ElementwiseApplyFunction, sp.OneMatrix,
               sp.ZeroMatrix, sp.HadamardPower)


def equal(left, right, fresh: bool = True) -> bool:
    """True when SymPy shows the two matrix expressions equal entry by entry, at any size.
    `fresh=False` keeps the entries worked out by earlier comparisons since forget() (several
    gradients of one forward share most of their subexpressions)."""
    if left.shape != right.shape:
        return False
    if fresh:
        forget()
    difference = _entry(left, False) - _entry(right, False)
    expanded = sp.expand(difference)
    if expanded == 0:
        return True
    rational = _exponentials_as_powers(expanded)
    if rational is not None and sp.cancel(rational) == 0:
        return True
    small = sp.count_ops(difference) <= SIMPLIFIED_OPS  # simplify() on more can take minutes
    return small and any(rewrite(difference) == 0 for rewrite in (sp.cancel, sp.simplify))


def _exponentials_as_powers(e):
    """e with each exp(c·s) written T_s^c (one positive symbol per s, c rational), when e has
    no other function: a rational function, which cancel() settles quickly (a sigmoid's and a
    log-loss's derivatives, written two ways, differ by such a form); else None."""
    exps = e.atoms(sp.exp)
    if not exps or e.atoms(sp.Function) != exps:
        return None
    mapping = {}
    for a in exps:
        c, rest = a.args[0].as_coeff_Mul()
        if not (isinstance(rest, sp.Symbol) and c.is_Rational):
            return None
        mapping[a] = sp.Symbol(f"exp({rest.name})", positive=True) ** c
    return e.xreplace(mapping)


def forget() -> None:
    """Start a new set of comparisons: the names and entries of earlier ones are dropped."""
    _ATOMS.clear()
    _IDS.clear()
    _ENTRIES.clear()


def _entry(e, flipped: bool, keep: bool = False):
    """A generic entry of `e` (of eᵀ when flipped): a scalar expression in symbols that stand
    for the entries of the products and matrices it is made of. With `keep`, a product stays a
    symbol of all its factors (it is about to be a factor of a longer product)."""
    key = (e, flipped, keep)
    if key not in _ENTRIES:
        _ENTRIES[key] = _entry_of(e, flipped, keep)
    return _ENTRIES[key]


def _entry_of(e, flipped: bool, keep: bool):
    if isinstance(e, sp.Transpose):
        return _entry(e.arg, not flipped, keep)
    if isinstance(e, sp.OneMatrix):
        return _atoms_symbol(sp.Integer(1), [_ones(e, flipped)]) if keep else sp.Integer(1)
    if isinstance(e, sp.Identity) and e.shape == (1, 1):
        return sp.Integer(1)
    if isinstance(e, sp.ZeroMatrix):
        return sp.Integer(0)
    if isinstance(e, sp.HadamardProduct):
        return sp.Mul(*[_entry(a, flipped) for a in e.args])
    if isinstance(e, sp.HadamardPower):
        return _entry(e.base, flipped) ** e.exp
    if isinstance(e, sp.MatAdd):
        return sp.Add(*[_entry(a, flipped, keep) for a in e.args])
    if isinstance(e, ElementwiseApplyFunction):
        return e.function(_entry(e.expr, flipped))
    if isinstance(e, (sp.MatMul, sp.MatPow)):
        return sp.Add(*[number * (_atoms_symbol(scalar, atoms) if keep
                                  else scalar * _atoms_entry(atoms))
                        for number, scalar, atoms in _product_terms(e, flipped)])
    return sp.Symbol(f"T({_key(e)})" if flipped else _key(e))


def _product_terms(e, flipped: bool):
    """A product multiplied out into (scale, factors) terms: (A + B) C is A C + B C, a 1×1
    factor is a scalar wherever it stands, a product inside a product is spliced in, and
    adjacent ones merge (1ₐₓ₍b₎ 1₍b₎ₓ꜀ = b 1ₐₓ꜀), so products the chain rule groups differently
    get the same factors."""
    coeff, matrices = e.as_coeff_matrices() if isinstance(e, sp.MatMul) else (sp.Integer(1), [e])
    matrices = [f for m in matrices for f in _factors(m)]
    matrices = list(reversed(matrices)) if flipped else list(matrices)
    scalar = sp.Mul(*[_entry(m, flipped) for m in matrices if m.shape == (1, 1)])
    choices = [[(c, *_ATOMS.get(t, (sp.Integer(1), (("term", _id(t), t),)))) for c, t in
                (term.as_coeff_Mul() for term in
                 sp.Add.make_args(sp.expand(_entry(m, flipped, keep=True))))]
               for m in matrices if m.shape != (1, 1)]
    if np.prod([len(c) for c in choices], dtype=float) > TERMS:
        raise OverflowError(f"a product multiplies out into more than {TERMS} terms")
    terms = []
    for picked in itertools.product(*choices):
        atoms = []
        number = coeff * sp.Mul(*[c for c, _, _ in picked])
        factor = scalar * sp.Mul(*[s for _, s, _ in picked])
        for atom in (a for _, _, group in picked for a in group):
            if atoms and atoms[-1][0] == "ones" and atom[0] == "ones":
                factor *= atom[1]
                atom = ("ones", atoms.pop()[1], atom[2])
            atoms.append(atom)
        terms.append((number, factor, tuple(atoms)))
    return terms


def _factors(m) -> list:
    """A positive integer power of a matrix as that many factors; any other matrix as itself."""
    if isinstance(m, sp.MatPow) and m.exp.is_Integer and m.exp > 0:
        return [m.base] * int(m.exp)
    return [m]


def _ones(m, flipped: bool):
    """A matrix of ones as a factor, with its shape (its entry, 1, would lose it)."""
    rows, cols = m.shape[::-1] if flipped else m.shape
    return ("ones", rows, cols)


def _atoms_symbol(scalar, atoms):
    """One symbol standing for a scalar times a product of these factors (registered, to be
    spliced into a longer product)."""
    name = "*".join([_id(scalar)] + [f"1[{a[1]},{a[2]}]" if a[0] == "ones" else a[1]
                                     for a in atoms])
    symbol = sp.Symbol(name)
    _ATOMS.setdefault(symbol, (scalar, tuple(atoms)))
    return symbol


def _atoms_entry(atoms):
    """A product's generic entry: a column of ones first or a row of ones last only copies
    (1ₐₓ₁ r is r on every row), a lone factor is its own entry, all ones is 1."""
    atoms = list(atoms)
    if len(atoms) > 1 and atoms[0][0] == "ones" and atoms[0][2] == 1:
        atoms.pop(0)
    if len(atoms) > 1 and atoms[-1][0] == "ones" and atoms[-1][1] == 1:
        atoms.pop()
    if len(atoms) <= 1:
        return atoms[0][2] if atoms and atoms[0][0] == "term" else sp.Integer(1)
    return _atoms_symbol(sp.Integer(1), atoms)


_ATOMS: dict = {}  # for one comparison: a product's symbol -> (scalar, its factors: ("ones", rows, cols) or ("term", key, entry))


def _key(e) -> str:
    """A name for a matrix that is the same for equal products and transposes."""
    if isinstance(e, sp.Transpose):
        return f"T({_key(e.arg)})"
    if isinstance(e, sp.MatrixSymbol):
        return f"{e.name}[{e.rows},{e.cols}]"
    if isinstance(e, (sp.OneMatrix, sp.Identity, sp.ZeroMatrix)):
        return f"{type(e).__name__}[{e.rows},{e.cols}]"
    return _id(sp.expand(_entry(e, False)))


def _id(expr) -> str:
    """A short name for a scalar expression, the same for equal expressions (a name built from
    the expression's text would double its escapes at each level of nesting)."""
    return _IDS.setdefault(expr, f"#{len(_IDS)}")


_IDS: dict = {}  # an expression -> its short name, for one comparison
_ENTRIES: dict = {}  # (matrix expression, flipped, keep) -> its entry, for one comparison


__all__ = ["equal", "forget"]
