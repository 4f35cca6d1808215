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
from ._numpy_copies import numpy_copy
from ._onehot import definition as onehot_definition
from ._onehot import onehot_latex, picked_latex, row_labels
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
    """The SymPy symbol that stands for a node's value (its LaTeX: _notation.name_latex)."""
    from .._notation import NameSymbol

    return NameSymbol(name, real=True)


def bar(name: str) -> sp.Symbol:
    """The symbol for the gradient of the output with respect to a node: v̄ = ∂f/∂v."""
    return sp.Symbol(rf"\bar{{{sp.latex(symbol(name))}}}", real=True)


def derive_rules(staged: Staged) -> dict[str, NodeRule]:
    """Every operation node's formula and SymPy-derived local derivatives."""
    rules: dict[str, NodeRule] = {}
    said = set()
    for node in staged.nodes:
        if node.op in ("input", "const"):
            continue
        kind = node.rule.kind
        rules[node.name] = {"elementwise": _elementwise, "dot": _dot, "sum": _sum, "max": _max,
                            "copy": _copy, "stop": _stop, "prod": _prod, "window": _window,
                            "conv": _conv, "scatter_add": _scatter_add, "data": _data,
                            "convert": _convert}[kind](node, staged, rules)
        if node.branch and node.branch not in said:  # a cond: its first node says which branch
            said.add(node.branch)
            rule = rules[node.name]
            rule.note = "; ".join(filter(None, [f"from here on: {node.branch}", rule.note]))
    return rules


def _argument(ref, staged: Staged, rules):
    """How a node's input appears in its formula: a symbol, a number, or a condition."""
    if isinstance(ref, Constant):
        from ._rules import _number

        return _number(ref.value)
    node = staged[ref]
    if node.differentiable or node.op in ("input", "const") or rules[ref].formula is None:
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
        local, computed = _slopes(formula, symbol(name), node.rule.kink, node.rule.inner_abs)
        rule.locals.append(Local(name, local, _latex(local),
                                 _compile_elementwise(computed, staged[name].shape)))
    if node.rule.kink is not None:
        from ._rules import tie_words

        rule.note = tie_words(node.op)
    elif formula.has(sp.Max, sp.Min):
        rule.note = "at a tie of max or min each side gets half (JAX's convention)"
    elif formula.has(sp.Abs) and node.rule.inner_abs:
        rule.note = "|u| has slope sign(u), and 1 at u = 0 (JAX's convention; checked at ties below)"
    elif formula.has(sp.Abs):
        rule.note = "|u| has slope sign(u), which is 0 at u = 0 (checked at ties below)"
    return rule


def _slopes(formula, x, kink, inner_abs=False):
    """∂formula/∂x as shown, and as computed (with JAX's slope at a kink), derived once per
    formula up to the names of its symbols: a formula met before (a·b, tanh(a)) reuses its
    derivation and its compiled function."""
    order = sorted(formula.free_symbols, key=lambda s: s.name)
    canonical = {s: sp.Symbol(f"_s{k}", **s.assumptions0) for k, s in enumerate(order)}
    abs_slope = _abs_slope() if inner_abs and formula.has(sp.Abs) else None
    key = (formula.xreplace(canonical), canonical.get(x, x), kink, abs_slope, local_derivative)
    if key not in _DERIVED:
        _DERIVED[key] = _derive_slopes(*key)
    back = {c: s for s, c in canonical.items()}
    local, computed, compiled = _DERIVED[key]
    return local.xreplace(back), _Computed(computed.xreplace(back), compiled, back)


_DERIVED: dict = {}  # (canonical formula, variable, kink, abs slope, derivation) -> slopes, compiled


@dataclass(frozen=True)
class _Computed:
    """A slope to compute: its expression, and its compiled form over canonical symbols."""

    expr: object
    compiled: tuple  # (function, canonical symbols in argument order)
    names: dict      # canonical symbol -> the node's symbol


def _derive_slopes(formula, x, kink, abs_slope, derivation):
    local = derivation(formula, x)
    # sign() and the like are flat except at a jump, where SymPy puts a DiracDelta: JAX's
    # slope there is 0, and the jump is measure zero (noted as a kink)
    local = local.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    computed = local
    if abs_slope is not None:  # |u| inside a plain jitted helper: abs's own slope at 0, as JAX's
        as_jax = lambda e: e.args[0] * (2 * sp.Heaviside(e.args[0], abs_slope) - 1)  # noqa: E731
        computed = derivation(formula.replace(lambda e: isinstance(e, sp.Abs), as_jax), x)
        computed = computed.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    if kink is not None:  # JAX's slope at the kink (see _rules.TIES)
        local = local.replace(lambda e: isinstance(e, sp.Heaviside),
                              lambda e: sp.Heaviside(e.args[0], kink))
        # sign(u) is shown (what SymPy proves away from 0), computed as 2·Heaviside(u) - 1
        computed = local.replace(lambda e: isinstance(e, sp.sign),
                                 lambda e: 2 * sp.Heaviside(e.args[0], kink) - 1)
    symbols = sorted(computed.free_symbols, key=lambda s: s.name)
    return local, computed, (sp.lambdify(symbols, computed, "jax"), symbols)


def _abs_slope():
    """abs's slope at 0 (_rules.TIES): |u| is computed as u·(2·Heaviside(u) - 1) with it, the
    same value everywhere, whose SymPy derivative is JAX's (1 at u = 0, not sign(0) = 0)."""
    from ._rules import TIES

    return TIES["abs"]


def local_derivative(formula, x):
    """∂formula/∂x, derived by SymPy (the one place an elementwise node's slope comes from)."""
    return sp.diff(formula, x)


def _with_condition_inputs(names, node, staged, formula):
    """Inputs read through a condition (where(x > 0, x, ...)) are derived too: SymPy's
    derivative of the piecewise formula is then 0 through the condition itself."""
    extra = [s.name for s in formula.free_symbols
             if s.name not in names and s.name in staged.by_name and staged[s.name].differentiable]
    return names + sorted(extra)


def _compile_elementwise(computed: _Computed, shape):
    fn, symbols = computed.compiled
    names = [computed.names[s].name for s in symbols]
    constant = None if names else float(computed.expr)

    def evaluate(values, upstream):
        slope = fn(*[values[n] for n in names]) if names else constant
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
        return _batched_dot(node, staged)
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


def _batched_dot(node: Node, staged: Staged) -> NodeRule:
    """Any dot_general (einsum, a vmapped product): per batch element, the operands arranged as
    matrices (rows × contracted, contracted × columns), and SymPy's rules Ḡ Bᵀ and Aᵀ Ḡ."""
    (ca, cb), (ba, bb) = node.eqn.params["dimension_numbers"]
    a_ref, b_ref = node.inputs
    sa, sb = (np.shape(_value(r, staged)) for r in (a_ref, b_ref))
    fa = [d for d in range(len(sa)) if d not in ba and d not in ca]
    fb = [d for d in range(len(sb)) if d not in bb and d not in cb]
    perm_a, perm_b = [*ba, *fa, *ca], [*bb, *cb, *fb]
    nb, m, k, n = (int(np.prod([shape[d] for d in dims], dtype=np.int64))
                   for shape, dims in ((sa, ba), (sa, fa), (sa, ca), (sb, fb)))
    names = [sp.latex(symbol(r)) if isinstance(r, str) else "c" for r in (a_ref, b_ref)]
    if names[0] == names[1]:
        names[1] += "'"
    a, b = sp.MatrixSymbol(names[0], m, k), sp.MatrixSymbol(names[1], k, n)
    g = sp.MatrixSymbol(sp.latex(bar(node.name)), m, n)
    product = a * b
    per = rf"\ \text{{for each of the {nb} batch elements}}" if nb > 1 else ""
    rule = NodeRule(node, product, _latex(product) + per,
                    note=f"operands arranged as matrices: ${names[0]}$ as rows × contracted "
                         f"({m}×{k}), ${names[1]}$ as contracted × columns ({k}×{n})"
                         + (f", once per batch element ({nb})" if nb > 1 else ""))
    objective = sp.Trace(g.T * product)
    parts = []
    for position, (ref, matrix) in enumerate(((a_ref, a), (b_ref, b))):
        if not isinstance(ref, str) or not staged[ref].differentiable:
            continue
        grad = sp.diff(objective, matrix)
        plain = [sp.MatrixSymbol(f"m{j}", *x.shape) for j, x in enumerate((a, b, g))]
        fn = jax.vmap(sp.lambdify(plain, grad.xreplace(dict(zip((a, b, g), plain))), "jax"))
        parts.append((ref, grad, fn, position))

    def arrange(values, upstream):
        a_v = jnp.transpose(_value_at(a_ref, values), perm_a).reshape(nb, m, k)
        b_v = jnp.transpose(_value_at(b_ref, values), perm_b).reshape(nb, k, n)
        return a_v, b_v, jnp.reshape(upstream, (nb, m, n))

    def back(fn, position):
        perm, shape = (perm_a, sa) if position == 0 else (perm_b, sb)

        def evaluate(values, upstream):
            out = fn(*arrange(values, upstream))
            return jnp.transpose(out.reshape([shape[d] for d in perm]), np.argsort(perm))

        return evaluate

    if len(parts) == 2 and a_ref == b_ref:  # x with itself: both uses in one rule
        (_, g0, f0, _), (_, g1, f1, _) = parts
        e0, e1 = back(f0, 0), back(f1, 1)
        rule.locals.append(Local(a_ref, g0, f"{_latex(g0)} + {_latex(g1)}",
                                 lambda v, u: e0(v, u) + e1(v, u)))
        return rule
    for ref, grad, fn, position in parts:
        rule.locals.append(Local(ref, grad, _latex(grad), back(fn, position)))
    return rule


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
    from ._rules import TIES, tie_words

    prim = node.eqn.primitive.name
    which = "max" if prim == "reduce_max" else "min"
    tie = TIES[prim]
    rule = NodeRule(node, None, _reduction_latex(rf"\{which}", ref, shape, axes),
                    note=f"the {which}imum's slope is 1 at the {'largest' if which == 'max' else 'smallest'} "
                         f"element and 0 elsewhere; {tie_words(prim)}")
    keep = [1 if k in axes else d for k, d in enumerate(shape)]
    moved = [d for d in range(len(shape)) if d not in axes] + list(axes)

    def evaluate(values, upstream):
        x = _value_at(ref, values)
        top = jnp.reshape(values[node.name], keep)
        hit = (x == top).astype(jnp.float64)
        if tie == "first":  # only the first tied element, in row-major order over the axes
            flat = jnp.transpose(hit, moved).reshape([shape[d] for d in moved[:len(moved) - len(axes)]] + [-1])
            first = (jnp.cumsum(flat, axis=-1) == 1) * flat
            hit = jnp.transpose(first.reshape([shape[d] for d in moved]), np.argsort(moved))
        elif tie != "share":
            raise _error(node, f"{prim} with the tie convention {tie!r}", "share, first")
        share = hit / jnp.sum(hit, axis=axes, keepdims=True)
        return jnp.reshape(upstream, keep) * share

    if isinstance(ref, str) and staged[ref].differentiable:
        rule.locals.append(Local(ref, None, rf"\mathbb{{1}}[\text{{{'largest' if which == 'max' else 'smallest'}}}] / \#\text{{ties}}",
                                 evaluate))
    return rule


def _copy(node: Node, staged: Staged, rules) -> NodeRule:
    """An index map (broadcast, reshape, slice, concatenate, pad, rev, gather, ...): every output
    element is one input element or a constant. Which one is found by applying the operation to
    the input elements' numbers (1, 2, 3, ...; a constant's elements get 0); each copied element
    has derivative 1, so the gradient is summed back along the same map."""
    refs = node.inputs
    rule = NodeRule(node, None, _copy_latex(node, refs[0], np.shape(_value(refs[0], staged)), staged),
                    note=_copy_note(node, staged))
    if not node.differentiable:
        return rule
    moved = [k for k, r in enumerate(refs) if _floating(r, staged)]  # operands whose elements move
    shapes = {k: np.shape(_value(refs[k], staged)) for k in moved}
    sizes = {k: int(np.prod(shapes[k], dtype=np.int64)) for k in moved}
    offsets = dict(zip(moved, np.cumsum([0] + [sizes[k] for k in moved])[:-1].tolist()))
    derived = [k for k in moved if isinstance(refs[k], str) and staged[refs[k]].differentiable]

    def index_map(values, xp=jnp):
        args = [(xp.arange(1, sizes[k] + 1, dtype=xp.float64) + offsets[k]).reshape(shapes[k])
                if k in derived else xp.zeros(shapes[k]) if k in moved else _value_at(r, values)
                for k, r in enumerate(refs)]
        copied = numpy_copy(node.eqn, args) if xp is np else None
        ids = xp.ravel(xp.asarray((copied or _bind(node.eqn, args))[0]))
        return xp.where(xp.isnan(ids), 0, ids).astype(xp.int64) - 1  # -1: a constant element

    static = all(isinstance(r, Constant) for k, r in enumerate(refs) if k not in moved)
    # indices known now: one map for all points, in NumPy but for the operation itself (one
    # compiled map per node cost a compilation each)
    fixed = index_map({}, np) if static else None

    def back(k):
        def evaluate(values, upstream):
            index = fixed if static else index_map(values)
            return _sum_back(jnp.ravel(upstream), index - offsets[k], sizes[k]).reshape(shapes[k])
        return evaluate

    for k in derived:
        rule.locals.append(Local(refs[k], sp.Integer(1), _copied_latex(node, staged), back(k)))
    return rule


def _sum_back(g, index, size):
    """Σ of the entries of g over the positions whose index names each input element (an index
    outside 0..size-1 names none): the transpose of gathering g's entries from that input."""
    ok = (index >= 0) & (index < size)
    return jax.ops.segment_sum(jnp.where(ok, g, 0.0), jnp.where(ok, index, size),
                               num_segments=size + 1)[:size]


def _floating(ref, staged) -> bool:
    value = ref.value if isinstance(ref, Constant) else None
    dtype = np.asarray(value).dtype if value is not None else (
        staged[ref].aval.dtype if staged[ref].aval is not None else np.asarray(staged[ref].value).dtype)
    return np.issubdtype(dtype, np.floating)


def _scatter_add(node: Node, staged: Staged, rules) -> NodeRule:
    """x.at[i].add(u): out = x + (each element of u added to the element of x its index names).
    So ∂out/∂x = 1 element by element, and each u element has derivative 1 at the one output
    element it is added to: its gradient is that element's upstream gradient, read back with
    the same indices (the gather that picks, for every u element, where it went)."""
    x_ref, i_ref, u_ref = node.inputs
    p = node.eqn.params
    dn = p["dimension_numbers"]
    x_shape, u_shape = (np.shape(_value(r, staged)) for r in (x_ref, u_ref))
    x, u = (sp.latex(symbol(r)) if isinstance(r, str) else "c" for r in (x_ref, u_ref))
    rule = NodeRule(node, None, rf"{x} + \operatorname{{scatter\_add}}({u})")
    windows = iter(u_shape[d] for d in dn.update_window_dims)
    sizes = tuple(1 if d in dn.inserted_window_dims or d in dn.operand_batching_dims else next(windows)
                  for d in range(len(x_shape)))
    where = jax.lax.GatherDimensionNumbers(
        offset_dims=tuple(dn.update_window_dims), collapsed_slice_dims=tuple(dn.inserted_window_dims),
        start_index_map=tuple(dn.scatter_dims_to_operand_dims),
        operand_batching_dims=tuple(dn.operand_batching_dims),
        start_indices_batching_dims=tuple(dn.scatter_indices_batching_dims))

    def to_updates(values, upstream):
        return jax.lax.gather(jnp.reshape(upstream, x_shape), _value_at(i_ref, values), where, sizes,
                              mode=p["mode"], fill_value=0)

    if isinstance(x_ref, str) and staged[x_ref].differentiable:
        rule.locals.append(Local(x_ref, sp.Integer(1), r"1\ \text{element by element}",
                                 lambda values, upstream: jnp.reshape(upstream, x_shape)))
    if isinstance(u_ref, str) and staged[u_ref].differentiable:
        rule.locals.append(Local(u_ref, sp.Integer(1), r"1\ \text{at the element it is added to}",
                                 to_updates))
    return rule


def window_index(shape, window, strides, padding, base_dilation, window_dilation) -> np.ndarray:
    """For every output element of a windowed reduction, the flat indices of the input elements
    in its window, shape (output shape..., window size); -1 where the window covers padding or
    a hole of a dilated input."""
    per_dim = []
    for n, w, s, (lo, hi), bd, wd in zip(shape, window, strides, padding, base_dilation,
                                         window_dilation):
        dilated = (n - 1) * bd + 1 if n else 0
        out = max(0, (lo + dilated + hi - ((w - 1) * wd + 1)) // s + 1)
        pos = np.arange(out)[:, None] * s + np.arange(w)[None, :] * wd - lo
        ok = (pos >= 0) & (pos < dilated) & (pos % bd == 0)
        per_dim.append((np.where(ok, pos // bd, 0), ok))
    d = len(shape)
    stride = np.cumprod((1,) + tuple(shape[:0:-1]))[::-1]
    flat, valid = np.zeros([1] * 2 * d, np.int64), np.ones([1] * 2 * d, bool)
    for i, (ix, ok) in enumerate(per_dim):
        grid = [1] * 2 * d
        grid[2 * i: 2 * i + 2] = ix.shape
        flat, valid = flat + ix.reshape(grid) * stride[i], valid & ok.reshape(grid)
    flat = np.where(valid, flat, -1).transpose(list(range(0, 2 * d, 2)) + list(range(1, 2 * d, 2)))
    return flat.reshape(flat.shape[:d] + (-1,))


def _window(node: Node, staged: Staged, rules) -> NodeRule:
    """reduce_window (sum, max, min: pooling) and cumsum, cummax, cummin: each output element
    reduces a window of input elements (a cumulative one reduces a window reaching back to the
    start). A summed element has derivative 1; the window's largest (smallest) 1, the first of
    tied ones taking it, the others 0."""
    from ._rules import WINDOWS

    prim = node.eqn.primitive.name
    (ref,) = node.inputs
    p = node.eqn.params
    shape = np.shape(_value(ref, staged))
    size = int(np.prod(shape, dtype=np.int64))
    if prim.startswith("cum"):
        n, axis = shape[p["axis"]], p["axis"]
        window = [n if a == axis else 1 for a in range(len(shape))]
        padding = [((0, n - 1) if p["reverse"] else (n - 1, 0)) if a == axis else (0, 0)
                   for a in range(len(shape))]
        index = window_index(shape, window, [1] * len(shape), padding, [1] * len(shape),
                             [1] * len(shape))
    else:
        index = window_index(shape, p["window_dimensions"], p["window_strides"], p["padding"],
                             p["base_dilation"], p["window_dilation"])
    how = WINDOWS[prim]
    x = sp.latex(symbol(ref)) if isinstance(ref, str) else "c"
    words = {"sum": "sum", "max": "max", "min": "min", "prod": "prod"}[how]
    rule = NodeRule(node, None, rf"\operatorname{{window\_{words}}}({x})\ \text{{over {index.shape[-1]} elements}}",
                    note="" if how == "sum" else
                    "each factor's slope is the product of its window's other factors (no "
                    "division, so a zero factor is fine)" if how == "prod" else
                    f"a window's {'largest' if how == 'max' else 'smallest'} element has slope 1, "
                    f"the others 0; {_tie_words(prim)}")
    if not (isinstance(ref, str) and staged[ref].differentiable):
        return rule
    terms = sp.symbols("u0:3")
    if how == "sum":
        local = sp.diff(sum(terms), terms[0])  # = 1 for each element of the window

        def evaluate(values, upstream):
            g = jnp.broadcast_to(jnp.reshape(upstream, index.shape[:-1] + (1,)), index.shape)
            return _sum_back(jnp.ravel(g) * float(local), jnp.asarray(index.ravel()), size).reshape(shape)

        latex = r"1\ \text{for each element of each window}"
    elif how == "prod":
        local = sp.diff(sp.Mul(*terms), terms[0])  # u1*u2: the window's other factors

        def evaluate(values, upstream):
            flat = jnp.ravel(_value_at(ref, values))
            windows = jnp.where(index >= 0, flat[np.maximum(index, 0)], 1.0)
            ones = jnp.ones(windows.shape[:-1] + (1,))
            before = jnp.cumprod(jnp.concatenate([ones, windows[..., :-1]], -1), -1)
            after = jnp.flip(jnp.cumprod(jnp.concatenate([ones, jnp.flip(windows, -1)[..., :-1]], -1), -1), -1)
            g = jnp.reshape(upstream, index.shape[:-1] + (1,)) * before * after
            return _sum_back(jnp.ravel(g), jnp.asarray(index.ravel()), size).reshape(shape)

        latex = rf"{sp.latex(local)}\ \text{{(the other factors of each window)}}"
    else:
        from ._rules import TIES

        local = sp.diff(sp.Max(*terms) if how == "max" else sp.Min(*terms), terms[0])
        fill = -jnp.inf if how == "max" else jnp.inf
        tie = TIES[prim]

        def evaluate(values, upstream):
            flat = jnp.ravel(_value_at(ref, values))
            windows = jnp.where(index >= 0, flat[np.maximum(index, 0)], fill)
            top = jnp.reshape(values[node.name], index.shape[:-1] + (1,))
            hit = (windows == top) & (index >= 0)
            if tie == "first":
                hit = hit & (jnp.cumsum(hit, axis=-1) == 1)
            share = hit / jnp.sum(hit, axis=-1, keepdims=True)
            g = jnp.reshape(upstream, index.shape[:-1] + (1,)) * share
            return _sum_back(jnp.ravel(g), jnp.asarray(index.ravel()), size).reshape(shape)

        if tie == "pairwise":
            if not prim.startswith("cum"):
                raise _error(node, f"{prim} with the tie convention 'pairwise'", "share, first")
            evaluate = _prefix_scan_back(ref, p["axis"], p["reverse"], how)
        elif tie not in ("first", "share"):
            raise _error(node, f"{prim} with the tie convention {tie!r}", "share, first, pairwise")

        latex = rf"\mathbb{{1}}[\text{{{'largest' if how == 'max' else 'smallest'} in its window}}]"
        local = None  # SymPy's slope of max(u₀, u₁, u₂) is a step; the table states it in words
    rule.locals.append(Local(ref, local, latex, evaluate))
    return rule


def _tie_words(prim: str) -> str:
    from ._rules import tie_words

    return tie_words(prim)


def _prefix_scan_back(ref, axis, reverse, how):
    """cummax/cummin's backward as JAX differentiates it: through its parallel prefix scan
    (lax.associative_scan) of pairwise maxima c = max(a, b), each passing its slope on with
    SymPy's ∂c/∂a and ∂c/∂b (1/2 each at a tie). The scan is run on (value, weights) pairs,
    the weights being ∂(running maximum)/∂(each input) along the axis."""
    a, b = sp.symbols("a b", real=True)
    pair = sp.Max(a, b) if how == "max" else sp.Min(a, b)
    value = sp.lambdify([a, b], pair, "jax")
    slopes = [sp.lambdify([a, b], local_derivative(pair, s), "jax") for s in (a, b)]

    def combine(left, right):
        (va, wa), (vb, wb) = left, right
        sa, sb = slopes[0](va, vb), slopes[1](va, vb)
        return value(va, vb), sa[..., None] * wa + sb[..., None] * wb

    def interleave(even, odd, dim):
        ev, od = jnp.moveaxis(even, dim, 0), jnp.moveaxis(odd, dim, 0)
        pairs = jnp.stack([ev[:od.shape[0]], od], 1).reshape((-1,) + od.shape[1:])
        out = jnp.concatenate([pairs, ev[od.shape[0]:]], 0)
        return jnp.moveaxis(out, 0, dim)

    def scan(v, w):  # lax.associative_scan's recursion, on values (..., m) and weights (..., m, n)
        m = v.shape[-1]
        if m < 2:
            return v, w
        ov, ow = scan(*combine((v[..., 0:-1:2], w[..., 0:-1:2, :]), (v[..., 1::2], w[..., 1::2, :])))
        head = (ov[..., :-1], ow[..., :-1, :]) if m % 2 == 0 else (ov, ow)
        ev, ew = combine(head, (v[..., 2::2], w[..., 2::2, :]))
        ev, ew = jnp.concatenate([v[..., :1], ev], -1), jnp.concatenate([w[..., :1, :], ew], -2)
        return interleave(ev, ov, -1), interleave(ew, ow, -2)

    def evaluate(values, upstream):
        x = jnp.moveaxis(jnp.asarray(_value_at(ref, values), jnp.float64), axis, -1)
        g = jnp.moveaxis(jnp.asarray(upstream, jnp.float64), axis, -1)
        if reverse:
            x, g = jnp.flip(x, -1), jnp.flip(g, -1)
        n = x.shape[-1]
        _, w = scan(x, jnp.broadcast_to(jnp.eye(n), x.shape + (n,)))
        back = jnp.einsum("...k,...kj->...j", g, w)
        return jnp.moveaxis(jnp.flip(back, -1) if reverse else back, -1, axis)

    return evaluate


def _prod(node: Node, staged: Staged, rules) -> NodeRule:
    """reduce_prod: ∂(u₀u₁⋯)/∂u₀ = the product of the other factors (computed without dividing,
    so a zero factor is no problem)."""
    (ref,) = node.inputs
    axes = tuple(node.eqn.params["axes"])
    shape = np.shape(_value(ref, staged))
    terms = sp.symbols("u0:3")
    local = sp.diff(sp.Mul(*terms), terms[0])  # u1*u2: the other factors
    rule = NodeRule(node, None, _reduction_latex(r"\prod", ref, shape, axes))
    keep = [d for d in range(len(shape)) if d not in axes]

    def evaluate(values, upstream):
        x = jnp.transpose(_value_at(ref, values), keep + list(axes))
        x = x.reshape(x.shape[:len(keep)] + (-1,))
        ones = jnp.ones(x.shape[:-1] + (1,))
        before = jnp.cumprod(jnp.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
        after = jnp.flip(jnp.cumprod(jnp.concatenate([ones, jnp.flip(x, -1)[..., :-1]], axis=-1),
                                     axis=-1), -1)
        g = jnp.reshape(upstream, x.shape[:-1] + (1,)) * before * after
        g = g.reshape([shape[d] for d in keep + list(axes)])
        return jnp.transpose(g, np.argsort(keep + list(axes)))

    if isinstance(ref, str) and staged[ref].differentiable:
        rule.locals.append(Local(ref, local, rf"{sp.latex(local)}\ \text{{(the other factors)}}",
                                 evaluate))
    return rule


def _conv(node: Node, staged: Staged, rules) -> NodeRule:
    """conv_general_dilated, as the matrix product it is: the input's patches P(x) (an index map:
    each patch element is one input element or padding) times the kernel W, once per feature
    group. SymPy's matrix calculus gives P̄ = Ȳ Wᵀ, which summed back over the patches is a full
    correlation of the upstream with the flipped kernel, and W̄ = P(x)ᵀ Ȳ, the input correlated
    with the upstream."""
    p = node.eqn.params
    x_ref, w_ref = node.inputs
    if p["batch_group_count"] != 1:
        raise _error(node, "conv_general_dilated with batch_group_count > 1")
    lhs, rhs, out = p["dimension_numbers"]
    xs, ws = (np.shape(_value(r, staged)) for r in (x_ref, w_ref))
    x_perm, w_perm, out_perm = list(lhs), list(rhs), list(out)
    N, C, spatial = xs[lhs[0]], xs[lhs[1]], [xs[d] for d in lhs[2:]]
    O, I, kernel = ws[rhs[0]], ws[rhs[1]], [ws[d] for d in rhs[2:]]
    G = p["feature_group_count"]
    index = window_index(spatial, kernel, p["window_strides"], p["padding"], p["lhs_dilation"],
                         p["rhs_dilation"])  # (out spatial..., kernel size)
    out_spatial, KK = index.shape[:-1], index.shape[-1]
    L, S = int(np.prod(out_spatial, dtype=np.int64)), int(np.prod(spatial, dtype=np.int64))
    idx = np.reshape(index, (L * KK,))
    names = [sp.latex(symbol(r)) if isinstance(r, str) else "c" for r in (x_ref, w_ref)]
    a = sp.MatrixSymbol(names[0], N * L, I * KK)
    b = sp.MatrixSymbol(names[1], I * KK, O // G)
    g = sp.MatrixSymbol(sp.latex(bar(node.name)), N * L, O // G)
    product = a * b
    groups = f", once per feature group ({G})" if G > 1 else ""
    rule = NodeRule(node, product, rf"P({names[0]})\,{names[1]}",
                    note=f"a convolution is a matrix product: $P({names[0]})$ holds the input's "
                         f"patches ({N * L}×{I * KK}: one row per output position, one column per "
                         f"kernel element), ${names[1]}$ the kernel ({I * KK}×{O // G}){groups}")
    objective = sp.Trace(g.T * product)

    def arrange(values, upstream):
        x = jnp.transpose(_value_at(x_ref, values), x_perm).reshape(N, C, S)
        patches = jnp.where(idx >= 0, x[:, :, np.maximum(idx, 0)], 0.0).reshape(N, G, I, L, KK)
        a_v = jnp.transpose(patches, (1, 0, 3, 2, 4)).reshape(G, N * L, I * KK)
        w = jnp.transpose(_value_at(w_ref, values), w_perm).reshape(G, O // G, I * KK)
        y = jnp.transpose(jnp.reshape(upstream, [node.shape[d] for d in range(len(node.shape))]),
                          out_perm).reshape(N, G, O // G, L)
        return a_v, jnp.transpose(w, (0, 2, 1)), jnp.transpose(y, (1, 0, 3, 2)).reshape(G, N * L, O // G)

    def x_back(fn):
        def evaluate(values, upstream):
            pbar = fn(*arrange(values, upstream)).reshape(G, N, L, I, KK)
            pbar = jnp.transpose(pbar, (1, 0, 3, 2, 4)).reshape(N * C, L * KK)
            ok = idx >= 0
            xbar = jnp.zeros((N * C, S + 1)).at[:, np.where(ok, idx, S)].add(pbar)[:, :S]
            xbar = xbar.reshape([N, C] + spatial)
            return jnp.transpose(xbar, np.argsort(x_perm))
        return evaluate

    def w_back(fn):
        def evaluate(values, upstream):
            wbar = jnp.transpose(fn(*arrange(values, upstream)), (0, 2, 1)).reshape([O, I] + kernel)
            return jnp.transpose(wbar, np.argsort(w_perm))
        return evaluate

    for ref, matrix, back, text in ((x_ref, a, x_back, r"\text{summed back over the patches: a full "
                                     r"correlation with the flipped kernel}"),
                                    (w_ref, b, w_back, r"\text{the input correlated with the upstream}")):
        if not (isinstance(ref, str) and staged[ref].differentiable):
            continue
        grad = sp.diff(objective, matrix)
        plain = [sp.MatrixSymbol(f"m{j}", *m.shape) for j, m in enumerate((a, b, g))]
        fn = jax.vmap(sp.lambdify(plain, grad.xreplace(dict(zip((a, b, g), plain))), "jax"))
        rule.locals.append(Local(ref, grad, rf"{_latex(grad)},\ {text}", back(fn)))
    return rule


def _data(node: Node, staged: Staged, rules) -> NodeRule:
    """argmax, argmin: an integer result, constant between ties, so no gradient flows back."""
    (ref, *_) = node.inputs
    x = sp.latex(symbol(ref)) if isinstance(ref, str) else "c"
    axes = ", ".join(map(str, node.eqn.params.get("axes", ())))
    return NodeRule(node, None, rf"\operatorname{{{node.op}}}_{{\text{{axis {axes}}}}} {x}",
                    note=f"{node.op} is an integer index: piecewise constant, so no gradient flows through it")


def _convert(node: Node, staged: Staged, rules) -> NodeRule:
    """A conversion to or from an integer or a boolean: piecewise constant, no gradient."""
    from ._rules import as_number

    (ref,) = node.inputs
    formula = as_number(_argument(ref, staged, rules))
    dtype = np.dtype(node.eqn.params["new_dtype"]).name
    return NodeRule(node, formula, rf"\operatorname{{{dtype}}}\left({_latex(formula)}\right)",
                    note=f"converted to {dtype}: piecewise constant, so no gradient flows through it")


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
            values[node.name] = _input(node, args)
        elif node.op == "const":
            values[node.name] = jnp.asarray(node.value)  # a JAX array: numpy's would not mix with tracers
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
                v = _input(node, args)
            elif node.op == "const":
                v = node.value
            else:
                v = _bind(node.eqn, [_value_at(r, env) for r in node.inputs])[0]
            env[node.name] = v + eps[node.name] if node.name in eps else v
        return env[staged.output]

    zeros = {k: jnp.zeros(staged[k].shape) for k in keys}
    return jax.grad(perturbed)(zeros)


def _input(node: Node, args: dict):
    """An input's value at a point: floating inputs in float64; integers and booleans (labels,
    indices, masks) keep their type, as data."""
    dtype = np.asarray(node.value).dtype if node.value is not None else np.float64
    return jnp.asarray(args[node.name], dtype=dtype if not np.issubdtype(dtype, np.floating)
                       else jnp.float64)


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


def _copy_latex(node, ref, shape, staged=None) -> str:
    x = sp.latex(symbol(ref)) if isinstance(ref, str) else "c"
    prim = node.eqn.primitive.name
    label = row_labels(node, staged) if staged is not None else None
    if label is not None:  # logp[jnp.arange(n), y]: row i's entry at column y_i
        return picked_latex(x, label)
    out = "×".join(map(str, node.shape)) or "scalar"
    if prim == "transpose" and len(shape) == 2:
        return rf"{x}^{{\mathsf{{T}}}}"
    words = {"broadcast_in_dim": "copied to shape", "reshape": "reshaped to",
             "squeeze": "squeezed to", "expand_dims": "expanded to", "slice": "sliced to",
             "transpose": "axes permuted, shape", "rev": "reversed, shape",
             "pad": "padded to", "dynamic_slice": "sliced (at a computed start) to",
             "gather": "elements picked by index, shape"}.get(prim)
    if words is None or len(node.inputs) > 1 and prim not in ("pad", "dynamic_slice", "gather"):
        args = ", ".join(sp.latex(symbol(r)) for r in node.inputs if isinstance(r, str))
        return rf"\operatorname{{{prim.replace('_', chr(92) + '_')}}}({args})\ \text{{shape {out}}}"
    return rf"{x}\ \text{{{words} {out}}}"


def _copied_latex(node, staged) -> str:
    """An index map's local derivative: 1 for each copied element; for a gather that picks
    each row's labelled entry, the one-hot matrix of the labels (entry i, j of row i)."""
    label = row_labels(node, staged)
    if label is not None:
        return rf"\left[{onehot_latex(label)}\right]_{{i j}}"
    return r"1\ \text{for each copied element (summed back)}"


def _copy_note(node, staged) -> str:
    """The one-hot matrix defined where a gather's backward uses it (else no note)."""
    return onehot_definition(node, staged) if row_labels(node, staged) is not None else ""


def _error(node, what, supported="convolutions with feature groups, one batch group"):
    """A node whose parameters derive does not handle: one line naming it, its line, and what is."""
    from ._stage import DeriveError

    where = f", made at {node.line}" if node.line else ""
    return DeriveError(f"cannot derive {what} (node {node.name}{where}); supported: {supported}")
