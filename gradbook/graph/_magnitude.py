"""How large the numbers summed into each gradient are: the scale of its float64 rounding.

A gradient is a sum of terms, upstream gradient × local derivative, over every path from the
output. When the terms cancel (log-softmax's max-subtraction has true gradient 0), the sum is
rounding noise whose size is set by the terms, not by the sum; a comparison relative to the
sum would then reject two equally right answers. This is the same backward pass with every
term replaced by its absolute value: |v̄| ≤ magnitude(v) entry by entry, and float64 rounding
in either backward pass is a few ulps of it (see checks/_tolerance.autodiff_bound_summed).
"""
from __future__ import annotations

import sympy as sp

from .._float64 import jnp

# Kinds whose backward is a product of the upstream gradient with the operands' values (Ḡ·Bᵀ,
# a correlation with the kernel): their terms' sizes are those products taken with |values|.
BILINEAR = {"dot", "conv"}


def magnitudes(staged, rules, values) -> dict:
    """Σ over paths of |upstream| × |local derivative|, for every node the output depends on."""
    sizes = {staged.output: jnp.asarray(1.0)}
    absolute = None
    for node in reversed(staged.nodes):
        if node.name not in rules or node.name not in sizes:
            continue
        kind = node.rule.kind
        if kind in BILINEAR and absolute is None:
            absolute = {k: jnp.abs(v) if jnp.issubdtype(jnp.asarray(v).dtype, jnp.floating) else v
                        for k, v in values.items()}
        for local in rules[node.name].locals:
            part = _term_sizes(node, local, staged, values, absolute, sizes[node.name])
            sizes[local.input] = sizes[local.input] + part if local.input in sizes else part
    return sizes


def _term_sizes(node, local, staged, values, absolute, upstream):
    """What one use passes down, with every term made positive before it is summed."""
    upstream = jnp.abs(upstream)
    kind = node.rule.kind
    if kind == "elementwise" and tuple(staged[local.input].shape) != tuple(node.shape):
        return _broadcast_terms(local, staged[local.input].shape, values, upstream)
    if kind in BILINEAR:
        return jnp.abs(local.evaluate(absolute, upstream))
    # elementwise without broadcasting: one term per entry; the rest (copies, sums, maxima,
    # windows, gathers) weight the upstream entries by numbers ≥ 0
    return jnp.abs(local.evaluate(values, upstream))


def _broadcast_terms(local, shape, values, upstream):
    """An input broadcast over a larger node (a bias, a scalar): Σ |upstream × slope| over the copies."""
    from ._backward import _unbroadcast

    symbols = sorted(local.expr.free_symbols, key=lambda s: s.name)
    slope = (sp.lambdify(symbols, local.expr, "jax")(*[values[s.name] for s in symbols])
             if symbols else float(local.expr))
    return _unbroadcast(jnp.abs(upstream * slope), shape)


__all__ = ["BILINEAR", "magnitudes"]
