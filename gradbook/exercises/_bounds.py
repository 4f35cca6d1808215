"""How large the numbers and arrays of a formula may get, checked before they are made.

A student's answer is evaluated in the grader's own process, by SymPy and by NumPy/JAX. Some
short formulas would make that process compute for hours or fill its memory in one call no
time limit can interrupt: `9**99999999` (an exact integer of 300 million bits),
`(a + b + c)**1000` (expanded by SymPy term by term), `outer(ones(10**5), ones(10**5))`
(80 GB). Each is refused here, by size, before it is computed.
"""
from __future__ import annotations

import math

import numpy as np

MAX_EXPONENT = 1000      # |n| in x**n: the powers of a gradient are small (x**2, s**-1, h**3)
MAX_BITS = 10_000        # an exact number SymPy makes (2**10000 has 3011 digits)
MAX_EXPANSION = 2_000    # terms of (a + b + ...)**n written out, as SymPy's expand would
MAX_ENTRIES = 10**6      # entries of one array in float64 (an exercise's arrays have dozens)
MAX_WORK = 10**8         # multiplications of one product of arrays (@, outer, einsum, corr)
MAX_SYMBOLIC_ENTRIES = 10_000  # entries of one array of SymPy expressions
MAX_SYMBOLIC_WORK = 10**5      # multiplications of one product of arrays of SymPy expressions


class TooLarge(ValueError):
    """A number or an array larger than a formula may make: what, and the bound."""


def exponent(value: float) -> None:
    """Refuse a power whose exponent is larger than MAX_EXPONENT in absolute value."""
    if not math.isfinite(value) or abs(value) > MAX_EXPONENT:
        if not math.isfinite(value):
            shown = "beyond float64's range"
        elif value == int(value) and abs(value) < 1e15:
            shown = str(int(value))
        else:
            shown = f"{value:.4g}"
        raise TooLarge(f"the answer raises to the power {shown}, larger in size than the "
                       f"{MAX_EXPONENT} allowed")


def exact_power(base_bits: int, n: float) -> None:
    """Refuse an exact power (an integer or a fraction to a whole power) of more than MAX_BITS."""
    if base_bits * abs(n) > MAX_BITS:
        raise TooLarge(f"the answer raises a number to a power that makes a number of about "
                       f"{int(base_bits * abs(n))} bits, more than the {MAX_BITS} allowed")


def expansion(terms: int, n: int) -> None:
    """Refuse (t_1 + ... + t_terms)**n when written out it has more than MAX_EXPANSION terms."""
    if terms > 1 and math.comb(abs(n) + terms - 1, terms - 1) > MAX_EXPANSION:
        raise TooLarge(f"a sum of {terms} terms to the power {n} would expand into more than "
                       f"{MAX_EXPANSION} terms")


def array(entries: int, work: int, symbolic: bool) -> None:
    """Refuse an array of more entries, or a product of more multiplications, than allowed
    (fewer for SymPy, whose every entry is an expression)."""
    most, most_work = (MAX_SYMBOLIC_ENTRIES, MAX_SYMBOLIC_WORK) if symbolic else \
        (MAX_ENTRIES, MAX_WORK)
    if entries > most:
        raise TooLarge(f"it makes an array of {entries} entries, more than {most} entries "
                       "(the most allowed: an exercise's arrays are small)")
    if work > most_work:
        raise TooLarge(f"it takes {work} multiplications, more than {most_work} (the most "
                       "allowed: an exercise's arrays are small)")


def shape(value) -> tuple[int, ...] | None:
    """The concrete shape of a value (a number's is ()), or None where it is symbolic."""
    dims = getattr(value, "shape", ())
    try:
        return tuple(int(d) for d in dims)
    except TypeError:  # a matrix symbol of symbolic size
        return None


def count(dims) -> int:
    """The number of entries of an array of shape `dims` (exact, however large)."""
    return math.prod(int(d) for d in dims)


def broadcast(*shapes) -> tuple[int, ...] | None:
    """NumPy's broadcast shape, or None where the shapes do not fit (the operation says so)."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def matmul(a: tuple, b: tuple) -> tuple[int, int] | None:
    """(entries, multiplications) of a @ b, or None where the shapes do not fit."""
    if not a or not b:
        return None
    m, k = (1, a[0]) if len(a) == 1 else a[-2:]
    k2, n = (b[0], 1) if len(b) == 1 else b[-2:]
    batch = broadcast(a[:-2], b[:-2])
    if k != k2 or batch is None:
        return None
    return count(batch) * m * n, count(batch) * m * k * n


def einsum(subscripts: str, shapes: list) -> tuple[int, int] | None:
    """(entries, multiplications) of a naive einsum: the product of the output's index sizes,
    and of every index's size (and the largest `...` part), or None where they do not fit."""
    inputs, arrow, output = subscripts.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        return None
    sizes: dict[str, int] = {}
    ellipsis = 1
    for term, dims in zip(terms, shapes):
        before, dots, after = term.partition("...")
        letters = list(before) + list(after)
        if len(letters) > len(dims) or not dots and len(letters) != len(dims):
            return None
        named = list(dims[:len(before)]) + list(dims[len(dims) - len(after):] if after else [])
        if dots:
            ellipsis = max(ellipsis, count(dims[len(before):len(dims) - len(after)]))
        for letter, n in zip(letters, named):
            sizes[letter] = max(sizes.get(letter, 1), int(n))
    if not arrow:  # NumPy's implicit output: the indices that appear once
        output = "".join(c for c in sizes if inputs.count(c) == 1)
    kept = count(sizes.get(c, 1) for c in output.replace("...", ""))
    return kept * ellipsis, count(sizes.values()) * ellipsis
