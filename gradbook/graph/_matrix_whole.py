"""The whole gradient of each input, proven at symbolic sizes by matrix calculus.

The forward is written as one matrix expression of MatrixSymbols whose sizes are symbols (the
example's sizes made n, m, k, …; a size 1 stays 1): products, sums (1ᵀ M, M 1), broadcasts
(b 1ᵀ), transposes and elementwise functions (f∘M, A ⊙ B). That expression is differentiated as
a whole by the identities of matrix calculus (_matrix_calculus: from the forward as written,
never from the backward pass's rules), and must equal the gradient composed from the nodes'
rules, from the output down. Where the two cannot be shown equal, the gradient is proven entry
by entry at capped sizes, or else compared at a random point (a difference fails the claim), and
the page says which gradients are proven as a whole and which only rule by rule.
"""
from __future__ import annotations

import itertools

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .._display import Result
from ..checks._ledger import fail, record
from ._backward import symbol
from ._matrix_calculus import NotMatrixCalculus, evaluated, matrix_gradient
from ._matrix_equal import equal, forget
from ._onehot import onehot_latex, row_labels
from ._tables import Markdown

NAMES = "n m k p q r s t u w".split()
WHOLE_SIZE = 2  # where the forms cannot be shown equal at symbolic sizes: each size capped at this
EXPLICIT_OPS = 400  # a whole forward longer than this, written out, is not proven entry by entry
WHOLE_NODES = 400  # larger forwards are not attempted (the expression tree grows with each path)
COMPARED_NODES = 5000  # larger forms multiply out into more terms than SymPy compares quickly
CAPPED_NODES = 12  # written out entry by entry, a larger forward takes SymPy minutes
WITNESS_TOLERANCE = 1e-9  # relative, of float64 evaluations of two forms of one gradient
RESHAPES = ("reshape", "squeeze", "expand_dims", "convert_element_type", "copy", "copy_p")
DERIVED = "the whole forward differentiated by matrix calculus"


class Unsupported(Exception):
    """A node the matrix expression cannot be written with (said on the page)."""


def prove_whole_gradients(claim, staged, rules, wrt=None) -> None:
    """Prove each input's composed gradient equal to the whole output's derivative."""
    from .._display import show

    wrt = wrt or [n.name for n in staged.nodes if n.op == "input" and n.differentiable]
    operations = sum(1 for n in staged.nodes if n.name in rules)
    if operations > WHOLE_NODES:
        show(_note(wrt, f"not attempted on {operations} operations, more than {WHOLE_NODES}"))
        return
    try:
        writer = _Writer(staged, rules, wrt)
        output = writer.value(staged.output)
        bars = writer.composed(wrt)
    except Unsupported as why:
        show(_note(wrt, f"the forward uses {why}, which is not written here as a matrix "
                        "expression"))
        return
    proven, capped, refused = [], {}, {}
    forget()  # the gradients share the forward's subexpressions: their entries are kept
    for name in [n for n in wrt if n in bars]:
        why = _symbolic_gap(claim, writer, output, name, bars[name])
        if why is None:
            proven.append(name)
        elif operations <= CAPPED_NODES and _proven_capped(claim, writer, output, name,
                                                           bars[name], why):
            capped[name] = why
        else:
            refused[name] = why
    if proven:
        _show(claim, staged.output, [writer.values[n] for n in proven], r"\text{for every size: }",
              "for every size")
    for name, why in capped.items():
        _show(claim, staged.output, [writer.values[name].subs(writer.capped())],
              r"\text{entry by entry at sizes }",
              f"at sizes capped at {WHOLE_SIZE} only: at symbolic sizes, {why}",
              rf"\text{{ only: at symbolic sizes, {why}}}")
    if refused:
        whys = set(refused.values())
        show(_note(list(refused), whys.pop() if len(whys) == 1 else
                   "; ".join(f"${sp.latex(writer.values[n])}$: {why}" for n, why in refused.items())))


def _symbolic_gap(claim, writer, output, name, composed) -> str | None:
    """None if the whole output's derivative equals the composed gradient at symbolic sizes,
    else why not (a phrase for the page); a numeric difference between the two fails the claim."""
    operand = writer.values[name]
    try:
        derived = matrix_gradient(output, operand)
    except NotMatrixCalculus as why:
        return f"its derivative is not taken here ({why})"
    try:
        large = max(_size(derived), _size(composed))
        if large > COMPARED_NODES:
            why = f"the two forms are too large (over {COMPARED_NODES} nodes) to compare symbolically"
        elif equal(derived, composed, fresh=False):
            return None
        else:
            why = "SymPy cannot show the derivative equal to the composed one"
    except Exception as error:  # noqa: BLE001 - SymPy fails on some forms (|x - c| entry by entry)
        why = f"SymPy cannot compare the two forms ({type(error).__name__}: {error})"
    if _witness(claim, writer, name, derived, composed):
        why += "; at a random point of the example's sizes the two agree"
    return why


def _size(expr) -> int:
    """The expression's size as a tree, counted up to just past COMPARED_NODES."""
    return sum(1 for _ in itertools.islice(sp.preorder_traversal(expr), COMPARED_NODES + 1))


def _matrix_symbols(expr) -> set:
    """The MatrixSymbols in an expression, each shared subexpression visited once (atoms()
    walks the tree: minutes on a recurrence's gradient)."""
    seen, found, stack = set(), set(), [expr]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, sp.MatrixSymbol):
            found.add(e)
        elif isinstance(e, sp.MatrixExpr):
            stack.extend(e.args)
    return found


def _witness(claim, writer, name, derived, composed) -> None:
    """The two forms of one gradient evaluated at a random point of the example's sizes: a
    difference fails the claim (a wrong composition is never left as only 'not shown')."""
    rng = np.random.default_rng(0)
    sizes = {sym: int(size) for size, sym in writer.sizes.items() if isinstance(sym, sp.Symbol)}
    symbols = _matrix_symbols(derived) | _matrix_symbols(composed)
    values = {m: rng.uniform(0.5, 1.5, tuple(int(sp.sympify(d).subs(sizes)) for d in m.shape))
              for m in symbols}
    try:
        a, b = (evaluated(e, values, sizes) for e in (derived, composed))
    except Exception:  # noqa: BLE001 - a form NumPy cannot evaluate is left 'not shown'
        return False
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)), 1.0)
    gap = np.max(np.abs(a - b))
    if not gap <= WITNESS_TOLERANCE * scale:
        fail(claim, "sym", f"the gradient of {name} composed from the rules differs from "
                           f"{DERIVED} (by {gap:.6g} at a random point of the example's sizes)")
    return True


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
                               f"SymPy's derivative of the whole forward written out at sizes capped at "
                               f"{WHOLE_SIZE} (by {value.real:.6g} at a point; {why} at "
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
    """The proven whole gradients, and the sizes they are proven for (three to a line, so the
    page fits a notebook's width)."""
    sizes = [rf"{sp.latex(v)} \in \mathbb{{R}}^{{{sp.latex(v.rows)}\times {sp.latex(v.cols)}}}"
             for v in values]
    lines = [r",\ ".join(sizes[i:i + 3]) for i in range(0, len(sizes), 3)]
    out = sp.latex(symbol(output))
    grads = r",\ ".join(rf"\bar{{{sp.latex(v)}}}" for v in values)
    latex = (rf"\begin{{aligned}}&{grads}\quad(\bar{{v}} = \partial {out}/\partial v)"
             rf"\\&\text{{composed from the rules = {DERIVED}}}"
             rf"\\&{where}" + r",\\&\quad ".join(lines) + rf"{after}\end{{aligned}}")
    listed = ", ".join(f"$\\partial f/\\partial {sp.latex(v)}$" for v in values)
    Result([record(claim, "sym", True, f"the whole gradient {listed}, composed node by node, "
                   f"equals {DERIVED} (its product, transpose, Hadamard and elementwise chain "
                   f"rules), {said}")], latex=latex)


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

    def __init__(self, staged, rules, wrt):
        self.staged, self.rules = staged, rules
        self.live = set(wrt)  # the nodes some input in wrt reaches; the rest are constants
        for node in staged.nodes:
            if any(isinstance(r, str) and r in self.live for r in node.inputs):
                self.live.add(node.name)
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

    def _parts(self, node):
        if not all(isinstance(r, str) for r in node.inputs) or len(node.shape) > 2:
            raise Unsupported(f"concatenate of a constant or of arrays of 3 axes ({node.name})")
        return node.inputs

    def _placement(self, i, node):
        """Eᵢ: the whole × part-i matrix that puts part i of a concatenation in its place
        (any matrix of that shape in the comparison: both gradients are linear in it)."""
        axis, part = node.eqn.params["dimension"], self.staged[node.inputs[i]].shape
        return sp.MatrixSymbol(f"E_{{{node.name},{i + 1}}}", self.size(node.shape[axis]),
                               self.size(part[axis]))

    def _placed(self, i, value, node):
        if node.eqn.params["dimension"] == 0:
            return _mul(self._placement(i, node), value)
        return _mul(value, _t(self._placement(i, node)))

    def onehot(self, node):
        """onehot(y) of a row-wise pick, as a constant matrix of the picked matrix's shape."""
        return sp.MatrixSymbol(onehot_latex(row_labels(node, self.staged)),
                               *self.shape(self.staged[node.inputs[0]].shape))

    def value(self, name):
        if name not in self.values:
            self.values[name] = self._write(self.staged[name])
        return self.values[name]

    def _write(self, node):
        if (node.op == "input" or node.rule is None or node.rule.kind == "stop"
                or node.name not in self.live):  # data, or computed from data only
            return sp.MatrixSymbol(sp.latex(symbol(node.name)), *self.shape(node.shape))
        if row_labels(node, self.staged) is not None:  # x[i, y_i]: (onehot(y) ⊙ x) 1
            x = node.inputs[0]
            return _mul(sp.HadamardProduct(self.onehot(node), self.value(x)),
                        self.ones(self.staged[x].shape[1], 1))
        kind, rule = node.rule.kind, self.rules[node.name]
        if node.op == "concatenate":  # [a; b] = E₁ a + E₂ b, Eᵢ placing part i in the whole
            return sp.MatAdd(*[self._placed(i, self.value(ref), node)
                               for i, ref in enumerate(self._parts(node))])
        if kind == "elementwise":
            return self._elementwise(rule.formula, node)
        if kind == "dot" and not rule.note:
            product = rule.formula.xreplace({m: self._operand(m, node)
                                             for m in rule.formula.atoms(sp.MatrixSymbol)})
            return _t(product) if product.shape != self.shape(node.shape) else product
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
                return value if value.shape == self.shape_of(m) else _t(value)
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
                return _mul(e, sp.OneMatrix(*shape)) if e != 0 else sp.ZeroMatrix(*shape)
            if isinstance(e, sp.Add):
                return sp.MatAdd(*[write(a) for a in e.args])
            if isinstance(e, sp.Mul):
                coeff, factors = e.as_coeff_mul()
                parts = [write(f) for f in factors]
                product = parts[0] if len(parts) == 1 else sp.HadamardProduct(*parts)
                return product if coeff == 1 else _mul(coeff, product)
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
            value = _mul(sp.OneMatrix(shape[0], 1), value)
        if value.cols != shape[1]:
            value = _mul(value, sp.OneMatrix(1, shape[1]))
        if value.shape != shape:
            raise Unsupported(f"a broadcast inside {node.op} ({node.name})")
        return value

    @staticmethod
    def _summed_back(term, shape):
        """A gradient summed back over the axes its value was copied along."""
        if term.rows != shape[0]:
            term = _mul(sp.OneMatrix(1, term.rows), term)
        if term.cols != shape[1]:
            term = _mul(term, sp.OneMatrix(term.cols, 1))
        return term

    def _summed(self, value, shape, axes):
        """reduce_sum as products with vectors of ones: 1ᵀ M (a column), M 1, 1ᵀ M 1."""
        rows, cols = (list(shape) + [1, 1])[:2]
        if len(shape) == 2 and axes == (0,):
            return _mul(_t(value), self.ones(rows, 1))
        if len(shape) == 2 and axes == (1,):
            return _mul(value, self.ones(cols, 1))
        return _mul(self.ones(1, rows), value, self.ones(cols, 1))

    def _copied(self, node, value, before):
        """broadcast_in_dim, reshape and transpose as matrix expressions."""
        prim, after = node.eqn.primitive.name, node.shape
        if prim == "transpose":
            return _t(value) if len(after) == 2 else value
        if prim == "broadcast_in_dim":
            dims = tuple(node.eqn.params["broadcast_dimensions"])
            aligned = _t(value) if len(before) == 1 and len(after) == 2 and dims == (1,) else value
            rows, cols = self.shape(after)
            if len(before) == 0 and len(after) == 1:
                return _mul(self.ones(after[0], 1), value)
            if aligned.rows != rows:
                aligned = _mul(sp.OneMatrix(rows, 1), aligned)
            if aligned.cols != cols:
                aligned = _mul(aligned, sp.OneMatrix(1, cols))
            return aligned
        if prim in RESHAPES:
            target = self.shape(after)
            if value.shape == target:
                return value
            if value.shape[::-1] == target and 1 in target:
                return _t(value)
        raise Unsupported(f"{prim} ({node.name})")

    def composed(self, wrt) -> dict:
        """Each value's gradient from the output down, from the nodes' rules."""
        for name in wrt:
            self.value(name)
        bars = {self.staged.output: sp.Identity(1)}
        for node in reversed(self.staged.nodes):
            if (node.name not in bars or node.name not in self.rules or node.rule.kind == "stop"
                    or node.name not in self.live):
                continue
            for ref, term in self._passed_down(node, bars[node.name]):
                if ref not in self.live:
                    continue
                bars[ref] = term if ref not in bars else sp.MatAdd(bars[ref], term)
        return bars

    def _passed_down(self, node, up):
        rule, kind = self.rules[node.name], node.rule.kind
        if row_labels(node, self.staged) is not None:  # the pick's rule: onehot(y) ⊙ ḡ 1ᵀ
            x = node.inputs[0]
            yield x, sp.HadamardProduct(self.onehot(node),
                                        _mul(up, self.ones(1, self.staged[x].shape[1])))
            return
        if node.op == "concatenate":  # part i gets Eᵢᵀ ḡ (rows) or ḡ Eᵢ (columns)
            for i, ref in enumerate(self._parts(node)):
                placement = self._placement(i, node)
                yield ref, (_mul(_t(placement), up) if node.eqn.params["dimension"] == 0
                            else _mul(up, placement))
            return
        for local in rule.locals:
            ref = local.input
            before = self.staged[ref].shape
            if kind == "elementwise":
                if local.expr == 0:
                    continue
                slope = self._elementwise(local.expr, node)
                term = _mul(local.expr, up) if local.expr.is_number else sp.HadamardProduct(up, slope)
                yield ref, self._summed_back(term, self.value(ref).shape)
            elif kind == "dot":
                g = next(m for m in local.expr.atoms(sp.MatrixSymbol) if m.name.startswith(r"\bar"))
                at = {m: self._operand(m, node)
                      for m in local.expr.atoms(sp.MatrixSymbol) if m != g}
                at[g] = up if up.shape == self.shape_of(g) else _t(up)
                term = local.expr.xreplace(at)
                yield ref, term if term.shape == self.value(ref).shape else _t(term)
            elif kind == "sum":
                rows, cols = (list(before) + [1, 1])[:2]
                axes = tuple(node.eqn.params["axes"])
                if len(before) == 2 and axes == (0,):
                    yield ref, _mul(self.ones(rows, 1), _t(up))
                elif len(before) == 2 and axes == (1,):
                    yield ref, _mul(up, self.ones(1, cols))
                else:
                    yield ref, _mul(self.ones(rows, 1), up, self.ones(1, cols))
            elif kind == "copy":
                yield ref, self._uncopied(node, up, before)
            else:
                raise Unsupported(f"{node.op} ({node.name})")

    def _uncopied(self, node, up, before):
        """What a broadcast, reshape or transpose passes down: copies summed back."""
        prim, after = node.eqn.primitive.name, node.shape
        if prim == "transpose":
            return _t(up) if len(after) == 2 else up
        target = self.shape(before)
        if prim == "broadcast_in_dim":
            dims = tuple(node.eqn.params["broadcast_dimensions"])
            if len(before) == 0 and len(after) == 1:
                return _mul(self.ones(1, after[0]), up)
            rows, cols = (target[::-1] if len(before) == 1 and len(after) == 2 and dims == (1,)
                          else target)
            if up.rows != rows:
                up = _mul(sp.OneMatrix(1, up.rows), up)
            if up.cols != cols:
                up = _mul(up, sp.OneMatrix(up.cols, 1))
            return up if up.shape == target else _t(up)
        return up if up.shape == target else _t(up)


def _mul(*factors):
    """A product left as written (SymPy's `*` simplifies each product: seconds on a network)."""
    return sp.MatMul(*factors)


def _t(matrix):
    """A transpose left as written (`.T` pushes it into the expression: seconds)."""
    return sp.Transpose(matrix)


__all__ = ["prove_whole_gradients"]
