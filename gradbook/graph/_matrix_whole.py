"""The whole gradient of each input, proven at symbolic sizes where SymPy's matrix calculus can.

The forward is written as one matrix expression of MatrixSymbols whose sizes are symbols (the
example's sizes made n, m, k, …; a size 1 stays 1): products, sums (1ᵀ M, M 1), broadcasts
(b 1ᵀ), transposes and elementwise functions (f∘M, A ⊙ B). SymPy differentiates the whole
scalar output, and that must equal the gradient composed from the nodes' rules, from the output
down. Where SymPy cannot (another operation, or its matrix calculus gives no matrix), the page
says which gradients are proven as a whole and which only rule by rule.
"""
from __future__ import annotations

import warnings

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .._display import Result
from ..checks._ledger import fail, record
from ._backward import symbol
from ._matrix_equal import equal
from ._tables import Markdown

NAMES = "n m k p q r s t u w".split()
WHOLE_SIZE = 2  # where SymPy cannot at symbolic sizes: each size capped at this
EXPLICIT_OPS = 400  # a whole forward longer than this, written out, is not proven entry by entry
WHOLE_NODES = 12  # larger forwards are not attempted: SymPy takes seconds on them, and fails
RESHAPES = ("reshape", "squeeze", "expand_dims", "convert_element_type", "copy", "copy_p")


class Unsupported(Exception):
    """A node the matrix expression cannot be written with (said on the page)."""


def prove_whole_gradients(claim, staged, rules, wrt=None) -> None:
    """Prove each input's composed gradient equal to SymPy's derivative of the whole output."""
    from .._display import show

    wrt = wrt or [n.name for n in staged.nodes if n.op == "input" and n.differentiable]
    operations = sum(1 for n in staged.nodes if n.name in rules)
    if operations > WHOLE_NODES:
        show(_note(wrt, f"not attempted on {operations} operations, more than {WHOLE_NODES}: "
                        "SymPy's matrix calculus takes seconds on such a forward and, in SymPy "
                        "1.14, fails through an elementwise function of a product followed by "
                        "another product"))
        return
    try:
        writer = _Writer(staged, rules)
        output = writer.value(staged.output)
        bars = writer.composed(wrt)
    except Unsupported as why:
        show(_note(wrt, f"the forward uses {why}, which is not written here as a matrix "
                        "expression"))
        return
    proven, capped, refused = [], {}, {}
    for name in [n for n in wrt if n in bars]:
        why = _symbolic_gap(output, writer.values[name], bars[name])
        if why is None:
            proven.append(name)
        elif _proven_capped(claim, writer, output, name, bars[name], why):
            capped[name] = why
        else:
            refused[name] = why
    if proven:
        _show(claim, staged.output, [writer.values[n] for n in proven], r"\text{for every size: }",
              "for every size")
    for name, why in capped.items():
        _show(claim, staged.output, [writer.values[name].subs(writer.capped())],
              r"\text{entry by entry at sizes }",
              f"at sizes capped at {WHOLE_SIZE} only: at symbolic sizes, SymPy {why}",
              rf"\text{{ only: at symbolic sizes, SymPy {why}}}")
    if refused:
        show(_note(list(refused), "; ".join(f"${sp.latex(writer.values[n])}$: SymPy {why}"
                                            for n, why in refused.items())))


def _symbolic_gap(output, operand, composed) -> str | None:
    """None if SymPy's derivative of the whole output equals the composed gradient at symbolic
    sizes, else what SymPy cannot do."""
    try:
        with warnings.catch_warnings():  # SymPy warns of its own deprecated internals here
            warnings.simplefilter("ignore")
            derived = sp.diff(sp.Trace(output), operand)
    except Exception as error:  # noqa: BLE001 - any refusal of SymPy's is a limit to state
        return f"cannot differentiate the whole forward ({type(error).__name__})"
    if not isinstance(derived, sp.MatrixExpr):
        return "leaves an array expression, not a matrix"
    try:
        if equal(derived, composed):
            return None
    except Exception as error:  # noqa: BLE001 - SymPy fails on some forms (|x - c| entry by entry)
        return f"cannot compare its derivative with the composed one ({type(error).__name__})"
    return "cannot show its derivative equal to the composed one"


def _proven_capped(claim, writer, output, name, composed, why) -> bool:
    """The whole gradient entry by entry with every size capped at WHOLE_SIZE: a point where
    the two differ fails the claim; True if SymPy shows every entry equal."""
    at = writer.capped()
    try:
        whole, mine = (_written_out(e.subs(at)) for e in (output, composed))
    except Exception:  # noqa: BLE001 - a form SymPy cannot write out is left unproven
        return False
    whole, operand = whole[0, 0], _written_out(writer.values[name].subs(at))
    if sp.count_ops(whole) > EXPLICIT_OPS:
        return False
    gaps = [sp.diff(whole, operand[i, j]) - mine[i, j]
            for i in range(operand.rows) for j in range(operand.cols)]
    if all(sp.expand(g) == 0 for g in gaps):
        return True
    entries = sorted(set().union(*[g.free_symbols for g in gaps]), key=str)
    point = [0.37 + 0.11 * k for k in range(len(entries))]
    for g in gaps:
        value = complex(sp.lambdify(entries, g, "math")(*point))
        if abs(value) > 1e-9 * (1 + max(point)):
            fail(claim, "sym", f"the gradient of {name} composed from the rules differs from "
                               f"SymPy's derivative of the whole forward at sizes capped at "
                               f"{WHOLE_SIZE} (by {value.real:.6g} at a point; SymPy {why} at "
                               "symbolic sizes)")
    return False


def _written_out(expr):
    """A matrix expression at numeric sizes as an explicit matrix: each matrix symbol a matrix
    of entry symbols, products multiplied out (as_explicit() sums symbolically: seconds)."""
    def entry(m, i, j):
        return sp.Symbol(f"{m.name}[{i},{j}]", real=True)

    entries = {m: sp.ImmutableMatrix(*m.shape, lambda i, j, m=m: entry(m, i, j))
               for m in expr.atoms(sp.MatrixSymbol)}
    ones = {o: sp.ImmutableMatrix.ones(*o.shape) for o in expr.atoms(sp.OneMatrix)}
    done = expr.xreplace({**entries, **ones}).doit()
    return done if isinstance(done, sp.MatrixBase) else done.as_explicit()


def _show(claim, output, values, where, said, after="") -> None:
    """The proven whole gradients, and the sizes they are proven for."""
    sizes = r",\ ".join(rf"{sp.latex(v)} \in \mathbb{{R}}^{{{sp.latex(v.rows)}\times "
                        rf"{sp.latex(v.cols)}}}" for v in values)
    out = sp.latex(symbol(output))
    grads = r",\ ".join(rf"\bar{{{sp.latex(v)}}} = \frac{{\partial {out}}}"
                        rf"{{\partial {sp.latex(v)}}}" for v in values)
    latex = (rf"\begin{{aligned}}&{grads}\text{{: composed from the rules = SymPy's derivative of "
             rf"the whole forward}}\\&{where}{sizes}{after}\end{{aligned}}")
    listed = ", ".join(f"$\\partial f/\\partial {sp.latex(v)}$" for v in values)
    Result([record(claim, "sym", True, f"the whole gradient {listed}, composed node by node, "
                   f"equals SymPy's derivative of the whole forward, {said}")], latex=latex)


def _note(left, why) -> Markdown:
    """What is not proven as a whole at symbolic sizes, and why."""
    names = ", ".join(f"$\\bar{{{sp.latex(symbol(n))}}}$" for n in left)
    text = (f"Not proven as a whole at symbolic sizes: {names} ({why}). Each product's "
            "rule above holds for every size, each elementwise node's local derivative is "
            "SymPy's derivative of its formula (the same at any size), and the composed "
            "gradient is checked against jax.grad below.")
    return Markdown(text, text)


class _Writer:
    """The staged function's values as matrix expressions at symbolic sizes, and the gradients
    composed from its rules."""

    def __init__(self, staged, rules):
        self.staged, self.rules = staged, rules
        self.sizes: dict[int, object] = {1: sp.Integer(1)}
        self.values: dict[str, object] = {}
        for node in staged.nodes:  # sizes named in the order the inputs show them: W is n×m
            if node.op == "input" and len(node.shape) <= 2:
                self.shape(node.shape)

    def size(self, n: int):
        if n not in self.sizes:
            if len(self.sizes) > len(NAMES):
                raise Unsupported("more distinct sizes than names")
            self.sizes[n] = sp.Symbol(NAMES[len(self.sizes) - 1], integer=True, positive=True)
        return self.sizes[n]

    def capped(self) -> dict:
        """Each size symbol at the example's size, capped at WHOLE_SIZE."""
        return {sym: sp.Integer(min(size, WHOLE_SIZE)) for size, sym in self.sizes.items()
                if isinstance(sym, sp.Symbol)}

    def shape(self, shape):
        """A node's shape as a matrix: () is 1×1, (n,) a column n×1."""
        if len(shape) > 2:
            raise Unsupported(f"an array of {len(shape)} axes")
        dims = list(shape) + [1] * (2 - len(shape))
        return tuple(self.size(int(d)) for d in dims)

    def ones(self, rows, cols):
        return sp.OneMatrix(self.size(rows), self.size(cols))

    def value(self, name):
        if name not in self.values:
            self.values[name] = self._write(self.staged[name])
        return self.values[name]

    def _write(self, node):
        if node.op == "input" or node.rule is None or node.rule.kind == "stop":
            return sp.MatrixSymbol(sp.latex(symbol(node.name)), *self.shape(node.shape))
        kind, rule = node.rule.kind, self.rules[node.name]
        if kind == "elementwise":
            return self._elementwise(rule.formula, node)
        if kind == "dot" and not rule.note:
            product = rule.formula.xreplace({m: self._operand(m, node)
                                             for m in rule.formula.atoms(sp.MatrixSymbol)})
            return product.T if product.shape != self.shape(node.shape) else product
        if kind == "sum":
            (ref,) = node.inputs
            return self._summed(self.value(ref), self.staged[ref].shape,
                                tuple(node.eqn.params["axes"]))
        if kind == "copy":
            (ref, *_) = node.inputs
            return self._copied(node, self.value(ref), self.staged[ref].shape)
        raise Unsupported(f"{node.op} ({node.name})")

    def _operand(self, m, node):
        for ref in node.inputs:
            if isinstance(ref, str) and sp.latex(symbol(ref)) == m.name:
                value = self.value(ref)
                return value if value.shape == self.shape_of(m) else value.T
        raise Unsupported(f"a constant operand of {node.op}")

    def shape_of(self, m):
        return tuple(self.size(int(d)) for d in m.shape)

    def _elementwise(self, expr, node):
        """A scalar formula in the inputs' symbols as a matrix expression of the inputs."""
        names = {symbol(r): r for r in node.inputs if isinstance(r, str)}
        shape = self.shape(node.shape)

        def write(e):
            free = [s for s in e.free_symbols if s in names]
            if e in names:
                return self._stretched(self.value(names[e]), shape, node)
            if not free:
                return e * sp.OneMatrix(*shape) if e != 0 else sp.ZeroMatrix(*shape)
            if isinstance(e, sp.Add):
                return sp.MatAdd(*[write(a) for a in e.args]).doit()
            if isinstance(e, sp.Mul):
                coeff, factors = e.as_coeff_mul()
                parts = [write(f) for f in factors]
                product = parts[0] if len(parts) == 1 else sp.HadamardProduct(*parts)
                return product if coeff == 1 else coeff * product
            if len(free) == 1:
                d = sp.Dummy("d")
                plain = e.replace(lambda h: isinstance(h, sp.Heaviside) and len(h.args) == 2,
                                  lambda h: sp.Heaviside(h.args[0]))
                return ElementwiseApplyFunction(sp.Lambda(d, plain.xreplace({free[0]: d})),
                                                write(free[0]))
            raise Unsupported(f"{node.op} of several arrays inside one function ({node.name})")

        return write(expr)

    @staticmethod
    def _stretched(value, shape, node):
        """An operand of an elementwise node, its size-1 axes copied to the node's shape."""
        if value.rows != shape[0]:
            value = sp.OneMatrix(shape[0], 1) * value
        if value.cols != shape[1]:
            value = value * sp.OneMatrix(1, shape[1])
        if value.shape != shape:
            raise Unsupported(f"a broadcast inside {node.op} ({node.name})")
        return value

    @staticmethod
    def _summed_back(term, shape):
        """A gradient summed back over the axes its value was copied along."""
        if term.rows != shape[0]:
            term = sp.OneMatrix(1, term.rows) * term
        if term.cols != shape[1]:
            term = term * sp.OneMatrix(term.cols, 1)
        return term

    def _summed(self, value, shape, axes):
        """reduce_sum as products with vectors of ones: 1ᵀ M (a column), M 1, 1ᵀ M 1."""
        rows, cols = (list(shape) + [1, 1])[:2]
        if len(shape) == 2 and axes == (0,):
            return value.T * self.ones(rows, 1)
        if len(shape) == 2 and axes == (1,):
            return value * self.ones(cols, 1)
        return self.ones(1, rows) * value * self.ones(cols, 1)

    def _copied(self, node, value, before):
        """broadcast_in_dim, reshape and transpose as matrix expressions."""
        prim, after = node.eqn.primitive.name, node.shape
        if prim == "transpose":
            return value.T if len(after) == 2 else value
        if prim == "broadcast_in_dim":
            dims = tuple(node.eqn.params["broadcast_dimensions"])
            aligned = value.T if len(before) == 1 and len(after) == 2 and dims == (1,) else value
            rows, cols = self.shape(after)
            if len(before) == 0 and len(after) == 1:
                return self.ones(after[0], 1) * value
            if aligned.rows != rows:
                aligned = sp.OneMatrix(rows, 1) * aligned
            if aligned.cols != cols:
                aligned = aligned * sp.OneMatrix(1, cols)
            return aligned
        if prim in RESHAPES:
            target = self.shape(after)
            if value.shape == target:
                return value
            if value.shape[::-1] == target and 1 in target:
                return value.T
        raise Unsupported(f"{prim} ({node.name})")

    def composed(self, wrt) -> dict:
        """Each value's gradient from the output down, from the nodes' rules."""
        for name in wrt:
            self.value(name)
        bars = {self.staged.output: sp.Identity(1)}
        for node in reversed(self.staged.nodes):
            if node.name not in bars or node.name not in self.rules or node.rule.kind == "stop":
                continue
            for ref, term in self._passed_down(node, bars[node.name]):
                bars[ref] = term if ref not in bars else sp.MatAdd(bars[ref], term)
        return bars

    def _passed_down(self, node, up):
        rule, kind = self.rules[node.name], node.rule.kind
        for local in rule.locals:
            ref = local.input
            before = self.staged[ref].shape
            if kind == "elementwise":
                if local.expr == 0:
                    continue
                slope = self._elementwise(local.expr, node)
                term = local.expr * up if local.expr.is_number else sp.HadamardProduct(up, slope)
                yield ref, self._summed_back(term, self.value(ref).shape)
            elif kind == "dot":
                g = next(m for m in local.expr.atoms(sp.MatrixSymbol) if m.name.startswith(r"\bar"))
                at = {m: self._operand(m, node)
                      for m in local.expr.atoms(sp.MatrixSymbol) if m != g}
                at[g] = up if up.shape == self.shape_of(g) else up.T
                term = local.expr.xreplace(at)
                yield ref, term if term.shape == self.value(ref).shape else term.T
            elif kind == "sum":
                rows, cols = (list(before) + [1, 1])[:2]
                axes = tuple(node.eqn.params["axes"])
                if len(before) == 2 and axes == (0,):
                    yield ref, self.ones(rows, 1) * up.T
                elif len(before) == 2 and axes == (1,):
                    yield ref, up * self.ones(1, cols)
                else:
                    yield ref, self.ones(rows, 1) * up * self.ones(1, cols)
            elif kind == "copy":
                yield ref, self._uncopied(node, up, before)
            else:
                raise Unsupported(f"{node.op} ({node.name})")

    def _uncopied(self, node, up, before):
        """What a broadcast, reshape or transpose passes down: copies summed back."""
        prim, after = node.eqn.primitive.name, node.shape
        if prim == "transpose":
            return up.T if len(after) == 2 else up
        target = self.shape(before)
        if prim == "broadcast_in_dim":
            dims = tuple(node.eqn.params["broadcast_dimensions"])
            if len(before) == 0 and len(after) == 1:
                return self.ones(1, after[0]) * up
            rows, cols = (target[::-1] if len(before) == 1 and len(after) == 2 and dims == (1,)
                          else target)
            if up.rows != rows:
                up = sp.OneMatrix(1, up.rows) * up
            if up.cols != cols:
                up = up * sp.OneMatrix(up.cols, 1)
            return up if up.shape == target else up.T
        return up if up.shape == target else up.T


__all__ = ["prove_whole_gradients"]
