"""Picking each row's labelled entry, `logp[jnp.arange(n), y]` or
`jnp.take_along_axis(logp, y[:, None], axis=1)`: a gather whose backward a lecture writes with the
one-hot matrix of the labels, onehot(y) ⊙ ḡ 1ᵀ, rather than as a scatter-add."""
from __future__ import annotations

import re

import numpy as np
import sympy as sp

from ..checks._quick_jit import quick_jit
from ._stage import Constant
from ._trace import _bind

DEFINITION = (r"$\operatorname{{onehot}}({y})$ is the {n}×{c} matrix whose row $i$ is 1 at "
              r"column ${y_i}$ and 0 elsewhere")


def row_labels(node, staged) -> str | None:
    """The integer input y if `node` is x[i, y_i] for each row i of a matrix x (its indices
    computed from y alone, negative labels wrapped as JAX wraps them), else None. Found once
    per node of a staged graph (its indices evaluated then), and kept on the staged graph."""
    found = staged.__dict__.setdefault("_row_labels", {})
    if id(node) not in found:  # the node kept with its answer: an id is not reused while held
        found[id(node)] = (node, _labels_node(node, staged))
    label = found[id(node)][1]
    return None if label is None else label.name  # its name now (nodes are renamed after staging)


def _labels_node(node, staged):
    """row_labels' answer as the input node itself, or None."""
    if node.op != "gather" or len(node.inputs) != 2 or not isinstance(node.inputs[0], str):
        return None
    x_ref, index_ref = node.inputs
    if len(staged[x_ref].shape) != 2 or int(np.prod(node.shape, dtype=np.int64)) != staged[x_ref].shape[0]:
        return None
    n, c = staged[x_ref].shape
    inputs = [r for r in _ancestors(index_ref, staged) if staged[r].op == "input"]
    if len(inputs) != 1 or staged[inputs[0]].shape != (n,) or staged[inputs[0]].differentiable:
        return None
    ids = np.arange(n * c, dtype=np.float64).reshape(n, c)  # each entry's own position
    # the indices and the pick in one compiled function: eagerly, each operation of the index
    # arithmetic compiles on its own (0.3 s for logp[jnp.arange(n), y])
    picked = np.ravel(np.asarray(quick_jit(
        lambda: _bind(node.eqn, [ids, _evaluated(index_ref, staged)])[0])()))
    labels = np.mod(np.asarray(staged[inputs[0]].value), c)
    return staged[inputs[0]] if np.array_equal(picked, np.arange(n) * c + labels) else None


def onehot_latex(label: str) -> str:
    from ._backward import symbol

    return rf"\operatorname{{onehot}}({sp.latex(symbol(label))})"


def definition(node, staged) -> str:
    """What onehot(y) is, for the gather `node` that picks by y: a sentence, formulas in $…$."""
    from ._backward import symbol

    n, c = staged[node.inputs[0]].shape
    y = sp.latex(symbol(row_labels(node, staged)))
    return DEFINITION.format(y=y, n=n, c=c, y_i=indexed(y, "i"))


def picked_latex(x: str, label: str) -> str:
    """The forward formula: row i's entry at the column its label names."""
    from ._backward import symbol

    entry = indexed(x, r"i,\," + indexed(sp.latex(symbol(label)), "i"))
    return rf"{entry}\ \text{{in each row }} i"


def indexed(tex: str, index: str) -> str:
    """A name with an index: y_{i}, and (v_{17})_{i} for a name that has one already."""
    plain = re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+|\\mathrm\{[^{}]*\}", tex)
    return f"{tex}_{{{index}}}" if plain else rf"\left({tex}\right)_{{{index}}}"


def _ancestors(ref, staged) -> list[str]:
    """The nodes `ref` is computed from, itself included, in staging order."""
    if isinstance(ref, Constant):
        return []
    seen, todo = set(), [ref]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [r for r in staged[name].inputs if isinstance(r, str)]
    return [n.name for n in staged.nodes if n.name in seen]


def _evaluated(ref, staged):
    """A value at the worked example, computed from the inputs and constants it depends on."""
    if isinstance(ref, Constant):
        return ref.value
    values = {}
    for name in _ancestors(ref, staged):
        node = staged[name]
        values[name] = node.value if node.op in ("input", "const") else _bind(
            node.eqn, [r.value if isinstance(r, Constant) else values[r] for r in node.inputs])[0]
    return values[ref]


def softmax_reading(staged, names, values, grads) -> str:
    """For a loss that picks each row's label after a log-softmax: the gradient of the logits
    in its familiar form, s (softmax(z) − onehot(y)), for the first of `names` (in the order
    staged) whose gradient at the worked example (`values`, `grads`) is that for a scalar s
    that is a short fraction; '' when none is."""
    picks = [n for n in staged.nodes if row_labels(n, staged) is not None]
    if len(picks) != 1:
        return ""
    label, shape = row_labels(picks[0], staged), staged[picks[0].inputs[0]].shape
    onehot = np.eye(shape[1])[np.mod(np.asarray(staged[label].value), shape[1])]
    for node in staged.nodes:
        if node.name not in set(names) or node.shape != shape or node.name not in grads:
            continue
        z = np.asarray(values[node.name], dtype=np.float64)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        d = p / p.sum(axis=1, keepdims=True) - onehot
        g = np.asarray(grads[node.name], dtype=np.float64)
        s = float(np.sum(g * d) / np.sum(d * d))
        scale = _fraction_latex(s) if s != 0 else None
        if scale is not None and np.max(np.abs(g - s * d)) <= 1e-9 * np.max(np.abs(g)):
            return _reading(node.name, label, scale)
    return ""


def _reading(name: str, label: str, scale: str) -> str:
    from ._backward import symbol

    z = sp.latex(symbol(name))
    return (rf"Composed, these lines give the familiar softmax minus one-hot: "
            rf"$\overline{{{z}}} = {scale}\left(\operatorname{{softmax}}({z}) - "
            rf"{onehot_latex(label)}\right)$, the softmax taken along each row (found by the "
            "numbers: at the worked example the two agree to rounding).")


def _fraction_latex(value: float) -> str | None:
    """A scale as a short fraction (\\frac{1}{5}, -\\frac{1}{2}, nothing for 1), or None."""
    from fractions import Fraction

    fraction = Fraction(value).limit_denominator(10_000)
    if abs(float(fraction) - value) > 1e-12 * abs(value):
        return None
    sign = "-" if fraction < 0 else ""
    p, q = abs(fraction.numerator), fraction.denominator
    return sign + ("" if p == q == 1 else str(p) if q == 1 else rf"\frac{{{p}}}{{{q}}}")
