"""Closed forms: each gradient composed from the nodes' local derivatives along every path.

For a graph of scalars the composition is a SymPy expression, proven equal to differentiating
the whole forward expression at once. For arrays it is written in matrix notation, as the
recursion of the gradients v̄ = ∂f/∂v from the output down (∂L/∂W = z̄ xᵀ and friends), and
every product's rule (Ḡ Bᵀ, Aᵀ Ḡ) is proven element by element at the sizes it is used at.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..checks._symbolic import _substitute, prove_equal
from ._backward import bar, symbol
from ._tables import Markdown

PROOF_SIZE = 3  # products are proven element by element with each size capped at this
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


def array_closed_form(staged, rules, wrt) -> Markdown:
    """The gradients in matrix notation, each defined from its users' gradients."""
    out = sp.latex(symbol(staged.output))
    branches: dict[str, list[str]] = {}
    order = []
    for node in reversed(staged.nodes):
        rule = rules.get(node.name)
        if rule is None:
            continue
        for local in rule.locals:
            branches.setdefault(local.input, []).append(_branch(node, rule, local, staged))
            if local.input not in order:
                order.append(local.input)
    lines = [rf"\bar{{{out}}} &= 1"]
    for name in order:
        lhs = sp.latex(bar(name))
        rhs = " + ".join(branches[name])
        lines.append(rf"{lhs} &= \boxed{{{rhs}}}" if name in wrt else rf"{lhs} &= {rhs}")
    text = "closed form (matrix notation, shown in the notebook) for: " + ", ".join(
        f"d{staged.output}/d{n}" for n in order if n in wrt)
    markdown = ("#### Closed form\n\nEach gradient $\\bar v = \\partial " + out + "/\\partial v$ "
                "is the sum over $v$'s users of what each passes down: the chain rule written "
                "out once per node, so that every input's gradient (boxed) reads off the ones "
                "above it. $\\odot$ is the elementwise product.\n\n$$\\begin{aligned}"
                + " \\\\\n".join(lines) + "\\end{aligned}$$")
    return Markdown(markdown, text)


def _branch(node, rule, local, staged) -> str:
    up = sp.latex(bar(node.name))
    kind = node.rule.kind
    if kind == "dot":
        return local.latex
    if kind == "sum":
        return rf"\operatorname{{broadcast}}({up})"
    if kind == "max":
        return rf"{up}\,\mathbb{{1}}[\arg\max]"
    if kind == "copy":
        prim = node.eqn.primitive.name
        if prim == "transpose" and len(node.shape) == 2:
            return rf"{up}^{{\mathsf{{T}}}}"
        if prim == "broadcast_in_dim":
            return rf"\textstyle\sum_{{\text{{copies}}}} {up}"
        if prim in ("reshape", "squeeze", "expand_dims"):
            return rf"\operatorname{{reshape}}({up})"
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
        return rf"\operatorname{{broadcast}}({up}) \odot \prod_{{\text{{others}}}}"
    if kind == "conv":
        return local.latex.split(",")[0]
    product = up if local.expr == 1 else (
        rf"{up} \cdot {_paren(local.latex)}" if node.shape == () else rf"{up} \odot {_paren(local.latex)}")
    if staged[local.input].shape != node.shape:  # a scalar or a size-1 axis used on an array
        return rf"\textstyle\sum {_paren(product)}"
    return product


def _paren(latex: str) -> str:
    return latex if all(c not in latex for c in "+-") else rf"\left({latex}\right)"


def prove_dot_rules(claim, staged, rules) -> None:
    """Prove each product's gradient rule element by element, once per form and shape.

    Sizes above PROOF_SIZE are capped at it (the same size always maps to the same one, so
    the product still fits): the rule's form does not depend on the size, and element-wise
    proofs grow with the number of entries.
    """
    seen = set()
    for node in staged.nodes:
        if node.rule is None or node.rule.kind not in ("dot", "conv") or node.name not in rules:
            continue
        rule = rules[node.name]
        capped = {m: sp.MatrixSymbol(m.name, *[min(int(d), PROOF_SIZE) for d in m.shape])
                  for m in rule.formula.atoms(sp.MatrixSymbol)}
        product = rule.formula.xreplace(capped)
        shapes = tuple(tuple(m.shape) for m in product.atoms(sp.MatrixSymbol))
        form = _form(product, [sp.latex(symbol(local.input)) for local in rule.locals])
        if form in seen:  # the same rule at the same sizes (another step of a loop): proven once
            continue
        seen.add(form)
        for local in rule.locals:
            g_full = next(m for m in local.expr.atoms(sp.MatrixSymbol) if m.name == sp.latex(bar(node.name)))
            local_expr = local.expr.xreplace({**capped, g_full: sp.MatrixSymbol(
                g_full.name, *[min(int(d), PROOF_SIZE) for d in g_full.shape])})
            operand = next(m for m in product.atoms(sp.MatrixSymbol)
                           if m.name == sp.latex(symbol(local.input)))
            g = next(m for m in local_expr.atoms(sp.MatrixSymbol) if m.name == sp.latex(bar(node.name)))
            explicit = {m: _explicit(m) for m in product.atoms(sp.MatrixSymbol) | {g}}
            objective = (explicit[g].T * _multiplied_out(product.xreplace(explicit))).trace()
            derivatives = explicit[operand].applyfunc(lambda e: sp.Derivative(objective, e))
            claimed = _multiplied_out(local_expr.xreplace(explicit))
            prove_equal(claim, derivatives, sp.Matrix(claimed), box=False,
                        shown=_identity(rf"\frac{{\partial\, \operatorname{{tr}}({sp.latex(bar(node.name))}^{{\mathsf{{T}}}}{rule.latex})}}{{\partial {sp.latex(symbol(local.input))}}}",
                                        local.latex, shapes),
                        lhs=rf"\frac{{\partial\, \operatorname{{tr}}({sp.latex(bar(node.name))}^{{\mathsf{{T}}}}"
                            rf"{rule.latex})}}{{\partial {sp.latex(symbol(local.input))}}}"
                            rf"\ \text{{at sizes }}{_sizes(shapes)}")


def _identity(lhs: str, rhs: str, shapes) -> str:
    """A product rule as proven, on two aligned lines so that it fits the page: the identity,
    then what the rule's note says of it (a convolution's flipped kernel) and at which sizes."""
    formula, _, note = rhs.partition(r",\ \text{")
    said = rf"\text{{{note.removesuffix('}')} " if note else r"\text{"
    return (rf"\begin{{aligned}}&{lhs} = {formula}\\&{said}(entry by entry at sizes }}"
            rf"{_sizes(shapes)})\end{{aligned}}")


def _form(product, derived: list[str]) -> str:
    """A product's rule up to its operands' names: operands renamed in order of appearance,
    with their sizes, and which of them are differentiated."""
    names = {}
    for e in sp.preorder_traversal(product):
        if isinstance(e, sp.MatrixSymbol) and e not in names:
            names[e] = sp.MatrixSymbol(f"M{len(names)}{'*' if e.name in derived else ''}", *e.shape)
    return sp.srepr(product.xreplace(names))


def _multiplied_out(expr):
    """A product of explicit matrices as one explicit matrix (as_explicit() would build each
    entry as a symbolic sum and evaluate it: seconds per product)."""
    done = expr.doit()
    return done if isinstance(done, sp.MatrixBase) else expr.as_explicit()


def _explicit(m):
    """A matrix symbol written out as a matrix of scalar symbols, one per entry."""
    base = m.name.replace("\\bar{", "g").replace("}", "").replace("{", "").replace("_", "")
    return sp.Matrix(*m.shape, lambda i, j: sp.Symbol(f"{base}_{{{i + 1}{j + 1}}}", real=True))


def _sizes(shapes) -> str:
    return ",\\ ".join("×".join(map(str, s)) for s in dict.fromkeys(shapes))


__all__ = ["array_closed_form", "prove_dot_rules", "scalar_closed_form"]
