"""Each matrix product's gradient rule, proven by SymPy's matrix calculus for every size.

A product's rule (Ḡ Bᵀ, Aᵀ Ḡ) is derived again as ∂ tr(Ḡᵀ A B)/∂A with MatrixSymbols
of symbolic sizes n, m, k, and must equal the rule the backward pass uses, written at those sizes.
Where SymPy cannot (its matrix calculus refuses the form, or cannot show the two equal), the
rule is proven entry by entry at sizes capped at PROOF_SIZE, and the page says so.
"""
from __future__ import annotations

import sympy as sp
from sympy.tensor.array.expressions import convert_matrix_to_array

from .._display import Result
from ..checks._ledger import record
from ..checks._symbolic import prove_equal
from ._backward import bar, symbol

PROOF_SIZE = 3  # the capped proof: each size above this is proven at this
SIZES = sp.symbols("n m k", integer=True, positive=True)  # rows, contracted, columns


def prove_product_rules(claim, staged, rules) -> None:
    """Prove every product's rule once per form (names aside), for every size where SymPy can."""
    forms: dict[str, list] = {}
    for node in staged.nodes:
        if node.rule is None or node.rule.kind not in ("dot", "conv") or node.name not in rules:
            continue
        rule = rules[node.name]
        derived = [sp.latex(symbol(local.input)) for local in rule.locals]
        sizes = _symbolic(rule.formula)
        product = rule.formula.xreplace(sizes) if sizes else rule.formula
        forms.setdefault(_form(product, derived), []).append(rule)
    for same in forms.values():
        for local in same[0].locals:
            prove_rule(claim, same[0], local, also=[r.latex for r in same[1:]])


def prove_rule(claim, rule, local, also=()) -> None:
    """One operand's rule: for every size by matrix calculus, else entry by entry at capped
    sizes (and why, on the page)."""
    g_name, x_name = sp.latex(bar(rule.node.name)), sp.latex(symbol(local.input))
    lhs = (rf"\frac{{\partial\, \operatorname{{tr}}({g_name}^{{\mathsf{{T}}}}{rule.latex})}}"
           rf"{{\partial {x_name}}}")
    formula, _, note = local.latex.partition(r",\ \text{")
    why = _for_every_size(rule, local, g_name, x_name)
    if isinstance(why, dict):
        first = rule.node.inputs[0]
        first = sp.latex(symbol(first)) if isinstance(first, str) else ""
        patches = {first: rf"P({first})"} if rule.node.rule.kind == "conv" else {}
        sizes = r",\ ".join(rf"{patches.get(sp.latex(m), sp.latex(m))} \in \mathbb{{R}}^{{"
                            rf"{sp.latex(m.rows)}\times {sp.latex(m.cols)}}}" for m in why.values())
        said = rf"\text{{{note.removesuffix('}')}}}\\&" if note else ""  # a line of its own: fits
        shown = (rf"\begin{{aligned}}&{lhs} = {formula}\\&{said}\text{{for every size: }}{sizes}"
                 r"\end{aligned}")
        used = "; the same rule holds for $" + r",\ ".join(also) + "$" if also else ""
        names = ", ".join(sorted({sp.latex(d) for m in why.values() for d in m.shape
                                  if isinstance(d, sp.Symbol)}))
        sized = f"for every size (symbolic ${names}$)" if names else "(every size here is 1)"
        Result([record(claim, "sym", True, f"proven by SymPy's matrix calculus {sized}{used}")],
               latex=shown)
        return
    _prove_capped(claim, rule, local, lhs, formula, note, why)


def _for_every_size(rule, local, g_name, x_name):
    """The operands at symbolic sizes if SymPy's ∂ tr(Ḡᵀ A B)/∂A equals the rule there, else
    why not (a sentence for the page)."""
    sizes = _symbolic(rule.formula)
    if sizes is None:
        return ("SymPy's matrix calculus cannot differentiate this form (not a product of two "
                "matrices)")
    product = rule.formula.xreplace(sizes)
    rows, cols = product.shape
    g = sp.MatrixSymbol(g_name, rows, cols)
    at = {**sizes, **{m: g for m in local.expr.atoms(sp.MatrixSymbol) if m.name == g_name}}
    operand = next(m for m in sizes.values() if m.name == x_name)
    try:
        derived = sp.diff(sp.Trace(g.T * product), operand)
    except Exception as error:  # noqa: BLE001 - any refusal of SymPy's is a form it cannot do
        return f"SymPy's matrix calculus cannot differentiate it ({type(error).__name__})"
    claimed = local.expr.xreplace({m: at.get(m, m) for m in local.expr.atoms(sp.MatrixSymbol)})
    if not isinstance(derived, sp.MatrixExpr):
        return "SymPy's matrix calculus gives no matrix for it"
    if _fits(claimed) and claimed.shape == operand.shape and _same(derived, claimed):
        return {**sizes, g: g}
    return "SymPy's matrix calculus gives a form it cannot show equal to the rule at symbolic sizes"


def _symbolic(product):
    """Each operand of a product of two matrices (each perhaps transposed) at symbolic sizes:
    rows n, contracted m, columns k (a size 1 stays 1: a vector stays a vector); None if
    `product` is not such a product."""
    factors = product.args if isinstance(product, sp.MatMul) else ()
    if len(factors) != 2 or not all(isinstance(_base(f), sp.MatrixSymbol) for f in factors):
        return None
    (a, b), (n, m, k) = factors, SIZES
    roles = [(a, (n, m)), (b, (m, k))]
    shapes, same = {}, {}
    for factor, dims in roles:
        base = _base(factor)
        dims = dims[::-1] if isinstance(factor, sp.Transpose) else dims
        dims = tuple(d if int(c) != 1 else sp.Integer(1) for d, c in zip(dims, base.shape))
        if base in shapes:  # one matrix used twice (xᵀx): its sizes are the same both times
            same.update({d: e for d, e in zip(dims, shapes[base]) if d != e})
        else:
            shapes[base] = dims
    return {m: sp.MatrixSymbol(m.name, *[sp.sympify(d).xreplace(same) for d in dims])
            for m, dims in shapes.items()}


def _base(factor):
    return factor.arg if isinstance(factor, sp.Transpose) else factor


def _fits(expr) -> bool:
    """Every product and sum in a matrix expression has operands whose sizes fit together."""
    for e in sp.preorder_traversal(expr):
        if isinstance(e, sp.MatMul):
            mats = [a for a in e.args if isinstance(a, sp.MatrixExpr)]
            if any(x.cols != y.rows for x, y in zip(mats, mats[1:])):
                return False
        if isinstance(e, (sp.MatAdd, sp.HadamardProduct)) and len({a.shape for a in e.args}) > 1:
            return False
    return True


def _same(derived, claimed) -> bool:
    """Equal as matrix expressions: as written, after doit(), or as SymPy's array contractions."""
    if derived == claimed or (derived - claimed).doit() == sp.ZeroMatrix(*derived.shape):
        return True
    try:
        return convert_matrix_to_array(derived.doit()) == convert_matrix_to_array(claimed.doit())
    except Exception:  # noqa: BLE001 - a form SymPy cannot convert is not shown equal
        return False


def _prove_capped(claim, rule, local, lhs, formula, note, why) -> None:
    """The rule entry by entry, each size capped at PROOF_SIZE, with why not for every size."""
    capped = {m: sp.MatrixSymbol(m.name, *[min(int(d), PROOF_SIZE) for d in m.shape])
              for m in rule.formula.atoms(sp.MatrixSymbol) | local.expr.atoms(sp.MatrixSymbol)}
    product, claimed = rule.formula.xreplace(capped), local.expr.xreplace(capped)
    g_name, x_name = sp.latex(bar(rule.node.name)), sp.latex(symbol(local.input))
    g = next(m for m in claimed.atoms(sp.MatrixSymbol) if m.name == g_name)
    operand = next(m for m in product.atoms(sp.MatrixSymbol) if m.name == x_name)
    explicit = {m: _explicit(m) for m in product.atoms(sp.MatrixSymbol) | {g}}
    objective = (explicit[g].T * _multiplied_out(product.xreplace(explicit))).trace()
    derivatives = explicit[operand].applyfunc(lambda e: sp.Derivative(objective, e))
    shapes = tuple(tuple(m.shape) for m in product.atoms(sp.MatrixSymbol))
    sizes = ",\\ ".join(r"\times ".join(map(str, s)) for s in dict.fromkeys(shapes))
    said = rf"\text{{{note.removesuffix('}')}; }}" if note else ""
    shown = (rf"\begin{{aligned}}&{lhs} = {formula}\\&{said}\text{{entry by entry at sizes }}"
             rf"{sizes}\text{{ only: {_escaped(why)}}}\end{{aligned}}")
    prove_equal(claim, derivatives, sp.Matrix(_multiplied_out(claimed.xreplace(explicit))),
                box=False, shown=shown, lhs=rf"{lhs}\ \text{{at sizes }}{sizes}")


def _escaped(text: str) -> str:
    return "".join("\\" + c if c in "#%&_" else c for c in text)


def _multiplied_out(expr):
    """A product of explicit matrices as one explicit matrix (as_explicit() would build each
    entry as a symbolic sum and evaluate it: seconds per product)."""
    done = expr.doit()
    return done if isinstance(done, sp.MatrixBase) else expr.as_explicit()


def _explicit(m):
    """A matrix symbol written out as a matrix of scalar symbols, one per entry."""
    base = m.name.replace("\\mathrm", "").replace("\\text", "").replace("\\bar{", "g")
    base = base.replace("}", "").replace("{", "").replace("_", "").replace("\\", "")
    return sp.Matrix(*m.shape, lambda i, j: sp.Symbol(f"{base}_{{{i + 1}{j + 1}}}", real=True))


def _form(product, derived: list[str]) -> str:
    """A product's rule up to its operands' names: operands renamed in order of appearance,
    with their sizes, and which of them are differentiated."""
    names = {}
    for e in sp.preorder_traversal(product):
        if isinstance(e, sp.MatrixSymbol) and e not in names:
            names[e] = sp.MatrixSymbol(f"M{len(names)}{'*' if e.name in derived else ''}", *e.shape)
    return sp.srepr(product.xreplace(names))


__all__ = ["PROOF_SIZE", "prove_product_rules", "prove_rule"]
