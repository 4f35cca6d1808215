"""Closed forms: each gradient composed from the nodes' local derivatives along every path.

For a graph of scalars the composition is a SymPy expression, proven equal to differentiating
the whole forward expression at once. For arrays it is written in matrix notation, as the
recursion of the gradients v̄ = ∂f/∂v from the output down (∂L/∂W = z̄ xᵀ and friends); every
product's rule (Ḡ Bᵀ, Aᵀ Ḡ) is proven for every size where SymPy's matrix calculus can
(_matrix_proofs), and each input's whole gradient where it can (_matrix_whole).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..checks._symbolic import _substitute
from ._backward import bar, symbol
from ._onehot import definition as onehot_definition
from ._onehot import onehot_latex, row_labels, softmax_reading
from ._tables import Markdown, View, replace_name

SIMPLIFY_OPS = 40  # closed forms longer than this are shown as composed, not simplified
# ... and so are those with more distinct exp/tanh/... applications than this: simplify() puts a
# sum of several exponentials over one denominator, whose expansion grows as the product of the
# sums (minutes for three sigmoid units feeding one output)
SIMPLIFY_FUNCTIONS = 2


@dataclass
class ScalarClosedForm:
    """One input's gradient: the whole forward expression, the composition, and its simple form."""

    whole: object
    composed: object
    composed_for_proof: object
    simplified: object
    definitions: dict


def scalar_closed_form(staged, rules, wrt) -> dict[str, ScalarClosedForm]:
    """Reverse accumulation in SymPy: v̄ = Σ over v's users c of c̄ · ∂c/∂v, from the output down."""
    definitions = {symbol(n): r.formula for n, r in rules.items()
                   if r.formula is not None and staged[n].differentiable and r.node.rule.kind != "stop"}
    bars = {staged.output: sp.Integer(1)}
    for node in reversed(staged.nodes):
        if node.name not in rules or node.name not in bars:
            continue
        for local in rules[node.name].locals:
            bars[local.input] = bars.get(local.input, sp.Integer(0)) + bars[node.name] * local.expr
    whole = _substitute(symbol(staged.output), definitions)
    out = {}
    for name in wrt:
        composed = bars.get(name, sp.Integer(0))
        for_proof = _without_kink_convention(composed)
        simplified = _simplest(_substitute(for_proof, definitions))
        out[name] = ScalarClosedForm(whole, composed, for_proof, simplified, definitions)
    return out


def _simplest(expr):
    """The shortest of SymPy's simplifications that SymPy can also show equal to `expr`
    (simplify() may return a form, such as cosh(s/2), that the step-by-step prover cannot
    match back; then a plainer form is used)."""
    if sp.count_ops(expr) > SIMPLIFY_OPS or len(expr.atoms(sp.Function)) > SIMPLIFY_FUNCTIONS:
        return expr
    candidates = [sp.simplify(expr), sp.factor(expr), sp.cancel(expr)]
    for candidate in sorted(candidates, key=sp.count_ops):
        if candidate == expr or sp.expand(candidate - expr) == 0 or sp.cancel(candidate - expr) == 0:
            return candidate
    return expr


def _without_kink_convention(expr):
    """Heaviside(u, h) -> Heaviside(u): the value chosen at a kink is a convention (stated in the
    backward table), and the two agree everywhere else, which is what SymPy proves."""
    return expr.replace(lambda e: isinstance(e, sp.Heaviside) and len(e.args) == 2,
                        lambda e: sp.Heaviside(e.args[0]))


def array_closed_form(staged, rules, wrt, values=None, grads=None) -> Markdown:
    """The gradients in matrix notation, each defined from its users' gradients (and, given the
    worked example's values and gradients, a familiar form such gradients have: _onehot).

    In the user's terms: only what carries a differentiated input's gradient has a line (no
    gradient for labels or data, none through stop_gradient); nodes the tables fold (reshapes,
    broadcasts, type conversions, identities) are written into the lines of the values they
    pass on; a gradient that is just its one user's gradient is written as that one."""
    view = View(staged, wrt, rules)
    live = _live(staged, rules, wrt)
    out = view.latex[staged.output]
    branches: dict[str, list[str]] = {}
    same: dict[str, str] = {}  # a node -> the gradient its own equals, written instead
    order = []
    for node in reversed(staged.nodes):
        rule = rules.get(node.name)
        if rule is None or node.name not in live or node.name in view.folded:
            continue
        up = _bar_tex(node.name, view)
        for local in rule.locals:
            if local.input not in live:
                continue
            term, target = _branch(node, rule, local, staged, up, view), local.input
            while target in view.folded:  # down through a reshape or broadcast to the user's value
                term, target = _through(staged[target], term, staged), view.origin[target][0]
            branches.setdefault(target, []).append(term)
            if target not in order:
                order.append(target)
    lines = [rf"\bar{{{out}}} &= 1"]
    bars = {_bar_tex(n, view) for n in live}
    for name in order:  # users come before the values they use: a chain resolves to its top
        if _unnamed(name) and len(branches[name]) == 1 and branches[name][0] in bars:
            same[name] = _renamed(branches[name][0], same, view)
    for name in order:
        if name in same:
            continue
        rhs = _sum_of([_renamed(t, same, view) for t in branches[name]])
        lhs = _bar_tex(name, view)
        lines.append(rf"{lhs} &= \boxed{{{rhs}}}" if name in wrt else rf"{lhs} &= {rhs}")
    text = "closed form (matrix notation, shown in the notebook) for: " + ", ".join(
        f"d{staged.output}/d{n}" for n in order if n in wrt)
    markdown = ("#### Closed form\n\nEach gradient $\\bar v = \\partial " + out + "/\\partial v$ "
                "is the sum over $v$'s users of what each passes down: the chain rule written "
                "out once per node, so that every input's gradient (boxed) reads off the ones "
                "above it. $\\odot$ is the elementwise product, $\\mathbf{1}$ a vector of ones, "
                "and $\\sum_{\\text{axis } k}$ sums along axis $k$ (counted from 0)"
                + "".join(dict.fromkeys(f"; {onehot_definition(n, staged)}" for n in staged.nodes
                                        if n.name in live and row_labels(n, staged) is not None))
                + ".\n\n"
                "$$\\begin{aligned}" + " \\\\\n".join(lines) + "\\end{aligned}$$")
    reading = softmax_reading(staged, [n for n in order if n not in same], values, grads) if (
        values is not None and grads is not None) else ""
    return Markdown(markdown + (f"\n\n{reading}" if reading else ""), text)


def _live(staged, rules, wrt) -> set[str]:
    """The nodes whose gradient reaches a differentiated input: reached from the output through
    local derivatives, and fed by a differentiated input through them."""
    fed = set(wrt)
    for node in staged.nodes:
        rule = rules.get(node.name)
        if rule is not None and any(local.input in fed for local in rule.locals):
            fed.add(node.name)
    reached = {staged.output}
    for node in reversed(staged.nodes):
        rule = rules.get(node.name)
        if rule is not None and node.name in reached:
            reached |= {local.input for local in rule.locals}
    return fed & reached


def _unnamed(name: str) -> bool:
    """A name staging made up (v12): its gradient may be written as the one it equals; a name
    the user gave (an input, h, logits) keeps its own line."""
    return name[:1] == "v" and name[1:].isdigit()


def _sum_of(terms: list[str]) -> str:
    """Terms added up, a negative one written as subtracted (a - b, not a + -b)."""
    out = terms[0]
    for term in terms[1:]:
        out += f" - {term[1:]}" if term.startswith("-") else f" + {term}"
    return out


def _bar_tex(name: str, view) -> str:
    return rf"\bar{{{view.latex[name]}}}"


def _renamed(term: str, same: dict, view) -> str:
    """A term with every gradient that equals another written as that other."""
    for name, other in same.items():
        term = replace_name(term, _bar_tex(name, view), other)
    return term


def _through(folded, term: str, staged) -> str:
    """What a folded node passes down to the value it reshapes: a broadcast sums its copies
    back; a reshape, squeeze, expand_dims, conversion or identity passes the gradient on."""
    axes = _broadcast_axes(folded, staged) if folded.op == "broadcast_in_dim" else []
    return rf"{_sum_over(axes, len(folded.shape))} {_paren(term)}" if axes else term


def _broadcast_axes(node, staged) -> list[int]:
    """The axes a broadcast copies along: new axes and size-1 axes stretched (a new axis of
    size 1 copies nothing)."""
    ref = next(r for r in node.inputs if isinstance(r, str))
    dims = tuple(node.eqn.params["broadcast_dimensions"])
    before = staged[ref].shape
    return sorted([k for k in range(len(node.shape)) if k not in dims and node.shape[k] != 1]
                  + [d for d, size in zip(dims, before) if size == 1 and node.shape[d] != 1])


def _stretched_axes(before, after) -> list[int]:
    """The axes along which an operand of shape `before` is used at shape `after` (a scalar:
    every axis; otherwise its size-1 axes)."""
    if len(before) != len(after):
        return list(range(len(after)))
    return [k for k, (b, a) in enumerate(zip(before, after)) if b == 1 and a != 1]


def _sum_over(axes, ndim: int) -> str:
    if not axes or len(axes) == ndim:
        return r"\textstyle\sum"
    return rf"\textstyle\sum_{{\text{{axis {', '.join(map(str, axes))}}}}}"


def _copied(up: str, axes, shape) -> str:
    """A sum's gradient: the upstream gradient copied along the summed axes (written with a
    vector of ones where the shapes allow it: ȳ 1ᵀ for a row sum, 1 ȳ for a column sum)."""
    if not axes:
        return up
    if len(axes) == len(shape):
        return rf"{up}\,\mathbf{{1}}"
    if len(shape) == 2:
        return rf"{up}\,\mathbf{{1}}^{{\mathsf{{T}}}}" if list(axes) == [1] else rf"\mathbf{{1}}\,{up}"
    return rf"{up}\ \text{{copied along axis {', '.join(map(str, axes))}}}"


def _branch(node, rule, local, staged, up, view) -> str:
    """What `node` passes down to `local.input`, written with the upstream gradient `up`."""
    own = sp.latex(bar(node.name))
    kind = node.rule.kind
    if kind == "dot":
        return view.tex(local.latex.replace(own, up))
    if kind == "sum":
        return _copied(up, tuple(node.eqn.params["axes"]), staged[local.input].shape)
    if kind == "max":
        return rf"{up}\,\mathbb{{1}}[\arg\max]"
    if kind == "copy":
        prim = node.eqn.primitive.name
        if prim == "transpose" and len(node.shape) == 2:
            return rf"{up}^{{\mathsf{{T}}}}"
        if prim == "broadcast_in_dim":
            axes = _broadcast_axes(node, staged)
            return rf"{_sum_over(axes, len(node.shape))} {_paren(up)}" if axes else up
        if prim in ("reshape", "squeeze", "expand_dims"):
            return up
        if prim == "gather" and row_labels(node, staged) is not None:  # logp[arange(n), y]
            return rf"{onehot_latex(row_labels(node, staged))} \odot {up}\,\mathbf{{1}}^{{\mathsf{{T}}}}"
        if prim == "transpose":  # a script inside \operatorname is not TeX: MathML converters refuse it
            return rf"\operatorname{{transpose}}^{{-1}}({up})"
        back = {"slice": "unslice", "rev": "rev",
                "pad": "unpad", "dynamic_slice": "unslice", "gather": r"scatter\_add",
                "concatenate": "split", "stack": "unstack"}.get(prim, r"sum\_back")
        return rf"\operatorname{{{back}}}({up})"
    if kind == "scatter_add":
        return up if local.input == node.inputs[0] else rf"\operatorname{{gather}}({up})"
    if kind == "window":
        how = node.eqn.primitive.name.split("_")[-1].replace("cum", "")
        return (rf"\operatorname{{window\_sum\_back}}({up})" if how == "sum" else
                rf"\operatorname{{to\_arg{how}}}({up})")
    if kind == "prod":
        return rf"{_copied(up, tuple(node.eqn.params['axes']), staged[local.input].shape)} \odot \prod_{{\text{{others}}}}"
    if kind == "conv":
        return view.tex(local.latex.split(",")[0].replace(own, up))
    slope = view.tex(local.latex)
    if local.expr == 1:
        product = up
    elif local.expr == -1:
        product = f"-{up}"
    else:
        product = rf"{up} \cdot {_paren(slope)}" if node.shape == () else rf"{up} \odot {_paren(slope)}"
    axes = _stretched_axes(staged[local.input].shape, node.shape)
    if axes:  # a scalar or a size-1 axis used on an array: summed over its uses
        return rf"{_sum_over(axes, len(node.shape))} {_paren(product)}"
    return product


def _paren(latex: str) -> str:
    return latex if all(c not in latex for c in "+-") else rf"\left({latex}\right)"


def prove_dot_rules(claim, staged, rules, wrt=None) -> None:
    """Prove each product's gradient rule, and each input's whole gradient (of `wrt`, else of
    every floating input), for every size where SymPy's matrix calculus can; else say what
    holds at which sizes (_matrix_proofs, _matrix_whole)."""
    from ._matrix_proofs import prove_product_rules
    from ._matrix_whole import prove_whole_gradients

    prove_product_rules(claim, staged, rules)
    prove_whole_gradients(claim, staged, rules, wrt)


__all__ = ["array_closed_form", "prove_dot_rules", "scalar_closed_form"]
