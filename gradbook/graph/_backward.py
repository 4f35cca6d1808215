"""The backward pass of a staged function, node by node, from SymPy-derived local derivatives.

For every node, SymPy derives the local derivative of the node's formula with respect to each
input (elementwise nodes), or the gradient rule of a product (dot nodes, by matrix calculus);
these are compiled once to JAX functions, so the same backward pass gives the worked example's
numbers and serves as the claimed gradient at any other point.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .._float64 import jax, jnp
from ._stage import Constant, Node, Staged
from ._trace import _bind


@dataclass
class Local:
    """One input's local derivative at one node: SymPy's expression and its compiled form."""

    input: str
    expr: object           # SymPy: ∂node/∂input (elementwise), or the rule with Ḡ (dot)
    latex: str
    evaluate: object = None  # (values, upstream) -> downstream contribution, shaped like input


@dataclass
class NodeRule:
    """A node's formula (SymPy and LaTeX) and its local derivatives, one per input it reads."""

    node: Node
    formula: object
    latex: str
    locals: list[Local] = field(default_factory=list)
    note: str = ""


def symbol(name: str) -> sp.Symbol:
    """The SymPy symbol that stands for a node's value."""
    return sp.Symbol(name, real=True)


def bar(name: str) -> sp.Symbol:
    """The symbol for the gradient of the output with respect to a node: v̄ = ∂f/∂v."""
    return sp.Symbol(rf"\bar{{{sp.latex(symbol(name))}}}", real=True)


def derive_rules(staged: Staged) -> dict[str, NodeRule]:
    """Every operation node's formula and SymPy-derived local derivatives."""
    rules: dict[str, NodeRule] = {}
    for node in staged.nodes:
        if node.op in ("input", "const"):
            continue
        kind = node.rule.kind
        rules[node.name] = {"elementwise": _elementwise, "dot": _dot, "sum": _sum, "max": _max,
                            "copy": _copy, "stop": _stop}[kind](node, staged, rules)
    return rules


def _argument(ref, staged: Staged, rules):
    """How a node's input appears in its formula: a symbol, a number, or a condition."""
    if isinstance(ref, Constant):
        from ._rules import _number

        return _number(ref.value)
    node = staged[ref]
    if node.differentiable or node.op in ("input", "const"):
        return symbol(ref)
    return rules[ref].formula  # a condition (x > 0): written out where it is used


def _elementwise(node: Node, staged: Staged, rules) -> NodeRule:
    args = [_argument(r, staged, rules) for r in node.inputs]
    formula = node.rule.template(args)
    rule = NodeRule(node, formula, _latex(formula))
    if not node.differentiable:
        return rule
    names = [n for n in dict.fromkeys(r for r in node.inputs if isinstance(r, str))
             if staged[n].differentiable]
    for name in _with_condition_inputs(names, node, staged, formula):
        local = local_derivative(formula, symbol(name))
        if node.rule.kink is not None:
            local = local.replace(lambda e: isinstance(e, sp.Heaviside),
                                  lambda e: sp.Heaviside(e.args[0], node.rule.kink))
        rule.locals.append(Local(name, local, _latex(local),
                                 _compile_elementwise(local, staged[name].shape)))
    if node.rule.kink is not None:
        rule.note = (f"{node.op} has slope {node.rule.kink} at its kink (its own derivative "
                     "rule in JAX, the convention notebook 06 states)")
    elif formula.has(sp.Max, sp.Min):
        rule.note = "at a tie of max or min each side gets half (JAX's convention)"
    elif formula.has(sp.Abs):
        rule.note = "|u| has slope sign(u), which is 0 at u = 0 (JAX's convention)"
    return rule


def local_derivative(formula, x):
    """∂formula/∂x, derived by SymPy (the one place an elementwise node's slope comes from)."""
    return sp.diff(formula, x)


def _with_condition_inputs(names, node, staged, formula):
    """Inputs read through a condition (where(x > 0, x, ...)) are derived too: SymPy's
    derivative of the piecewise formula is then 0 through the condition itself."""
    extra = [s.name for s in formula.free_symbols
             if s.name not in names and s.name in staged.by_name and staged[s.name].differentiable]
    return names + sorted(extra)


def _compile_elementwise(local, shape):
    symbols = sorted(local.free_symbols, key=lambda s: s.name)
    fn = sp.lambdify(symbols, local, "jax")
    names = [s.name for s in symbols]

    def evaluate(values, upstream):
        slope = fn(*[values[n] for n in names]) if names else float(local)
        return _unbroadcast(upstream * slope, shape)

    return evaluate


def _unbroadcast(g, shape):
    """Sum a contribution down to its input's shape (a scalar or a size-1 axis used on an array)."""
    shape = tuple(shape)
    g = jnp.asarray(g)
    if g.shape == shape:
        return g
    g = jnp.broadcast_to(g, jnp.broadcast_shapes(g.shape, shape))
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    ones = tuple(k for k, d in enumerate(shape) if d == 1 and g.shape[k] != 1)
    return g.sum(axis=ones, keepdims=True).reshape(shape)


def _dot(node: Node, staged: Staged, rules) -> NodeRule:
    (ca, cb), (ba, bb) = node.eqn.params["dimension_numbers"]
    a_ref, b_ref = node.inputs
    shapes = [np.shape(_value(r, staged)) for r in (a_ref, b_ref)]
    if ba or bb or len(ca) > 1 or any(len(s) > 2 for s in shapes):
        raise _error(node, "dot_general with batch dimensions or arrays of more than 2 axes")
    a, a_t = _as_matrix(a_ref, shapes[0], tuple(ca), "left", staged)
    b, b_t = _as_matrix(b_ref, shapes[1], tuple(cb), "right", staged)
    product = a_t * b_t
    g = sp.MatrixSymbol(sp.latex(bar(node.name)), *product.shape)
    rule = NodeRule(node, product, _latex(product))
    objective = sp.Trace(g.T * product)
    for position, (ref, matrix) in enumerate(((a_ref, a), (b_ref, b))):
        if not isinstance(ref, str) or not staged[ref].differentiable or (
                position == 1 and b_ref == a_ref):  # x·x: one symbol, both uses in one rule
            continue
        grad = sp.diff(objective, matrix)  # SymPy's matrix calculus: ∂ tr(Ḡᵀ A B) / ∂A
        plain = [sp.MatrixSymbol(f"m{k}", *m.shape) for k, m in enumerate((a, b, g))]
        fn = sp.lambdify(plain, grad.xreplace(dict(zip((a, b, g), plain))), "jax")
        rule.locals.append(Local(ref, grad, _latex(grad), _compile_dot(
            fn, position, (a_ref, b_ref), shapes, a.shape, b.shape, g.shape)))
    return rule


def _as_matrix(ref, shape, contract, side, staged):
    """The operand as a matrix symbol, and the form in which it enters the product."""
    name = sp.latex(symbol(ref)) if isinstance(ref, str) else "c"
    if len(shape) == 0:
        m = sp.MatrixSymbol(name, 1, 1)
        return m, m
    if len(shape) == 1:
        if side == "left":  # a vector on the left: a row if contracted, else a column
            m = sp.MatrixSymbol(name, shape[0], 1)
            return m, (m.T if contract else m)
        m = sp.MatrixSymbol(name, shape[0], 1)
        return m, (m if contract else m.T)
    m = sp.MatrixSymbol(name, *shape)
    if side == "left":
        return m, (m if contract in ((1,), ()) else m.T)
    return m, (m if contract in ((0,), ()) else m.T)


def _compile_dot(fn, position, refs, shapes, a_shape, b_shape, g_shape):
    """The gradient rule for operand `position` of a product, on arrays of the node's shapes."""
    a_ref, b_ref = refs

    def evaluate(values, upstream):
        a = jnp.reshape(_value_at(a_ref, values), a_shape)
        b = jnp.reshape(_value_at(b_ref, values), b_shape)
        g = jnp.reshape(upstream, g_shape)
        return jnp.reshape(jnp.asarray(fn(a, b, g)), shapes[position])

    return evaluate


def _sum(node: Node, staged: Staged, rules) -> NodeRule:
    (ref,) = node.inputs
    axes = tuple(node.eqn.params["axes"])
    shape = np.shape(_value(ref, staged))
    i = sp.Symbol("i", integer=True)
    term = sp.Indexed(sp.IndexedBase(sp.latex(symbol(ref))), i)
    n = int(np.prod([shape[a] for a in axes])) if axes else 1
    formula = sp.Sum(term, (i, 1, n))
    local = sp.diff(sum(sp.Symbol(f"u{k}") for k in range(n)), sp.Symbol("u0"))  # = 1
    rule = NodeRule(node, formula, _reduction_latex(r"\sum", ref, shape, axes))

    def evaluate(values, upstream):
        g = jnp.reshape(upstream, [1 if k in axes else d for k, d in enumerate(shape)])
        return jnp.broadcast_to(g * float(local), shape)

    if isinstance(ref, str) and staged[ref].differentiable:
        rule.locals.append(Local(ref, local, f"{sp.latex(local)}\\ \\text{{for every summed element}}",
                                 evaluate))
    return rule


def _max(node: Node, staged: Staged, rules) -> NodeRule:
    (ref,) = node.inputs
    axes = tuple(node.eqn.params["axes"])
    shape = np.shape(_value(ref, staged))
    rule = NodeRule(node, None, _reduction_latex(r"\max", ref, shape, axes),
                    note="the maximum's slope is 1 at the largest element and 0 elsewhere; "
                         "tied largest elements share it equally (JAX's convention)")
    keep = [1 if k in axes else d for k, d in enumerate(shape)]

    def evaluate(values, upstream):
        x = _value_at(ref, values)
        top = jnp.reshape(values[node.name], keep)
        hit = (x == top).astype(jnp.float64)
        share = hit / jnp.sum(hit, axis=axes, keepdims=True)
        return jnp.reshape(upstream, keep) * share

    if isinstance(ref, str) and staged[ref].differentiable:
        rule.locals.append(Local(ref, None, r"\mathbb{1}[\text{largest}] / \#\text{ties}", evaluate))
    return rule


def _copy(node: Node, staged: Staged, rules) -> NodeRule:
    """Broadcast, reshape, transpose, squeeze, slice: outputs are copies of input elements."""
    (ref, *rest) = node.inputs
    shape = np.shape(_value(ref, staged))
    size = int(np.prod(shape)) if shape else 1
    # Which input element each output element copies: the operation applied to the indices.
    index = np.asarray(_bind(node.eqn, [np.arange(size, dtype=np.float64).reshape(shape)]
                             + [_value(r, staged) for r in rest])[0]).astype(np.int64)
    rule = NodeRule(node, None, _copy_latex(node, ref, shape))

    def evaluate(values, upstream):
        g = jnp.zeros(size).at[index.ravel()].add(jnp.ravel(upstream))
        return jnp.reshape(g, shape)

    if isinstance(ref, str) and staged[ref].differentiable:
        rule.locals.append(Local(ref, sp.Integer(1),
                                 r"1\ \text{for each copied element (gathered back)}", evaluate))
    return rule


def _stop(node: Node, staged: Staged, rules) -> NodeRule:
    (ref,) = node.inputs
    x = sp.latex(symbol(ref)) if isinstance(ref, str) else "c"
    return NodeRule(node, None, rf"\operatorname{{stop\_gradient}}({x})",
                    note="stop_gradient: treated as a constant, so no gradient flows back through it")


def backward(staged: Staged, rules: dict[str, NodeRule], values: dict) -> tuple[dict, dict]:
    """∂output/∂every node (summed over its uses), and each use's own branch, at `values`."""
    grads = {staged.output: jnp.asarray(1.0)}
    branches: dict[str, dict] = {}  # input -> {user: what that user passes down}
    for node in reversed(staged.nodes):
        if node.name not in rules or node.name not in grads:
            continue
        for local in rules[node.name].locals:
            part = local.evaluate(values, grads[node.name])
            branches.setdefault(local.input, {})[node.name] = part
            grads[local.input] = grads[local.input] + part if local.input in grads else part
    return grads, branches


def forward(staged: Staged, args: dict) -> dict:
    """Every node's value at another point (inputs by name), by the same operations."""
    values = {}
    for node in staged.nodes:
        if node.op == "input":
            values[node.name] = jnp.asarray(args[node.name], dtype=jnp.float64)
        elif node.op == "const":
            values[node.name] = node.value
        else:
            values[node.name] = _bind(node.eqn, [_value_at(r, values) for r in node.inputs])[0]
    return values


def jax_gradients(staged: Staged, args: dict) -> dict:
    """JAX's ∂output/∂every node in one backward pass: a zero added to each node, differentiated."""
    keys = [n.name for n in staged.nodes if n.differentiable and n.op != "const"]

    def perturbed(eps):
        env = {}
        for node in staged.nodes:
            if node.op == "input":
                v = jnp.asarray(args[node.name], dtype=jnp.float64)
            elif node.op == "const":
                v = node.value
            else:
                v = _bind(node.eqn, [_value_at(r, env) for r in node.inputs])[0]
            env[node.name] = v + eps[node.name] if node.name in eps else v
        return env[staged.output]

    zeros = {k: jnp.zeros(staged[k].shape) for k in keys}
    return jax.grad(perturbed)(zeros)


def _value(ref, staged):
    """A constant's value, or a node's value at the example (or zeros of its shape, before
    values are known: the index maps of copies need only the shape)."""
    if isinstance(ref, Constant):
        return ref.value
    node = staged[ref]
    return node.value if node.value is not None else np.zeros(node.shape, node.aval.dtype)


def _value_at(ref, values):
    return ref.value if isinstance(ref, Constant) else values[ref]


def _latex(expr) -> str:
    from ..checks._symbolic import latex

    return latex(expr)


def _reduction_latex(op, ref, shape, axes) -> str:
    x = sp.latex(symbol(ref)) if isinstance(ref, str) else "c"
    if len(axes) == len(shape):
        return rf"{op}_{{i}} {x}_{{i}}"
    return rf"{op}_{{\text{{axis {', '.join(map(str, axes))}}}}} {x}"


def _copy_latex(node, ref, shape) -> str:
    x = sp.latex(symbol(ref)) if isinstance(ref, str) else "c"
    prim = node.eqn.primitive.name
    out = "×".join(map(str, node.shape)) or "scalar"
    if prim == "transpose" and len(shape) == 2:
        return rf"{x}^{{\mathsf{{T}}}}"
    words = {"broadcast_in_dim": "copied to shape", "reshape": "reshaped to",
             "squeeze": "squeezed to", "expand_dims": "expanded to", "slice": "sliced to",
             "transpose": "axes permuted, shape"}[prim]
    return rf"{x}\ \text{{{words} {out}}}"


def _error(node, what):
    from ._stage import DeriveError

    where = f", made at {node.line}" if node.line else ""
    return DeriveError(f"cannot derive {what} (node {node.name}{where}); "
                       "supported: vector and matrix products without batch dimensions")
