"""The forward and backward tables of a derived workbook, as Markdown with LaTeX (and text)."""
from __future__ import annotations

import re

import numpy as np
import sympy as sp

from .._notation import tidy_markdown
from ._backward import symbol
from ._source_names import source_files, source_line


class Markdown:
    """A block of Markdown for a notebook, with a plain-text form for scripts."""

    def __init__(self, markdown: str, text: str):
        self.markdown, self.text = markdown, text

    def _repr_markdown_(self) -> str:
        return tidy_markdown(self.markdown)

    def __repr__(self) -> str:
        return self.text


class Section:
    """A heading followed by Markdown paragraphs, shown when flushed."""

    def __init__(self, title: str):
        self.parts, self.title = [f"### {title}"], title

    def markdown(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        from .._display import show

        show(Markdown("\n\n".join(self.parts), f"== {self.title} =="))
        self.parts = []


def number(x) -> str:
    """A value as the tables print it: 4 significant digits, arrays by their first entries."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return _scalar(float(a))
    flat = [_scalar(v) for v in a.ravel()[:4]]
    more = ", …" if a.size > 4 else ""
    return f"[{', '.join(flat)}{more}] ({'×'.join(map(str, a.shape))})"


def _scalar(v: float) -> str:
    if not np.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.4g}"


# Operations that only move or retype numbers: folded into the formulas of their users.
SHAPE_ONLY = {"broadcast_in_dim", "reshape", "squeeze", "expand_dims", "convert_element_type"}
FOLD_ROWS = 12  # a backward table longer than this is folded, opened on demand
# What the tables call an operation (the primitive's name where it reads well as it is).
OPERATIONS = {"dot_general": "matrix product", "integer_pow": "power", "reduce_sum": "sum",
              "reduce_max": "max", "logistic": "sigmoid", "sub": "subtract", "mul": "multiply",
              "div": "divide", "neg": "negate", "add": "add", "pow": "power", "log1p": "log(1+·)",
              "select_n": "select", "transpose": "transpose"}


class View:
    """What the tables show of a staged function: which nodes are folded into their users,
    each node's LaTeX name, and which nodes a differentiated input feeds.

    Folded: shape-only operations, and operations whose formula is one of their inputs (the
    max with -inf that jnp.max(..., initial=-inf) adds): each is written as the value it
    passes on."""

    def __init__(self, staged, wrt=None, rules=None):
        users = {}
        for n in staged.nodes:
            for ref in n.inputs:
                if isinstance(ref, str):
                    users.setdefault(ref, []).append(n.name)
        self.folded, self.origin, self.latex, self.broadcast = set(), {}, {}, set()
        self.renamed = _at_later_steps(staged)
        for n in staged.nodes:
            self.latex[n.name] = self.renamed.get(n.name) or sp.latex(symbol(n.name))
            source = _passed_on(n, rules)
            if source is not None and len(users.get(n.name, [])) == 1 and n.name != staged.output:
                self.folded.add(n.name)
                self.origin[n.name] = self.origin.get(source, (source, n.name))
                if n.op == "broadcast_in_dim" or source in self.broadcast:
                    self.broadcast.add(n.name)  # the chain down to the user's value broadcasts
                self.latex[n.name] = self.latex[source]
        names = [n.name for n in staged.nodes if n.op == "input"]
        wanted = set(names if wrt is None else ([wrt] if isinstance(wrt, str) else wrt))
        fed = {n for n in names if n in wanted}
        for n in staged.nodes:
            if any(isinstance(r, str) and r in fed for r in n.inputs):
                fed.add(n.name)
        self.fed = fed

    def tex(self, latex: str) -> str:
        """A formula with every folded node written as the value it reshapes, and a later
        loop step's unnamed node as its first-step node at that step."""
        for name in self.folded | set(self.renamed):
            latex = replace_name(latex, sp.latex(symbol(name)), self.latex[name])
        return latex


def _passed_on(node, rules) -> str | None:
    """The input a node only passes on (reshaped, retyped, or unchanged), or None."""
    refs = [r for r in node.inputs if isinstance(r, str)]
    if node.op in SHAPE_ONLY and len(node.inputs) == 1 and refs:
        return refs[0]
    rule = (rules or {}).get(node.name)
    formula = getattr(rule, "formula", None)
    if node.op not in ("input", "const") and isinstance(formula, sp.Symbol):
        return next((r for r in refs if formula == symbol(r)), None)
    return None


_WORDS = re.compile(r"(\\(?:text|operatorname)\{[^{}]*\})")


def replace_name(latex: str, old: str, new: str) -> str:
    """`old` (a name's LaTeX) replaced by `new` where it stands as a whole name: not inside a
    longer name (v_{1} in v_{12}, h in \\tanh) nor in the words of \\text{...}."""
    pattern = re.compile(r"(?<![A-Za-z\\.])" + re.escape(old) + r"(?![A-Za-z0-9])")
    parts = _WORDS.split(latex)
    return "".join(part if k % 2 else pattern.sub(lambda m: new, part)
                   for k, part in enumerate(parts))


def forward_table(staged, rules, values, wrt=None) -> Markdown:
    """One row per node the user wrote, in evaluation order and grouped by their source line:
    name, operation, formula, shape, value (reshapes and broadcasts folded into formulas)."""
    view = View(staged, wrt, rules)
    rows = ["#### Forward pass", "",
            "Grouped by the line of the function that computes them; broadcasts, reshapes and "
            "type conversions are folded into the formulas that use them.", "",
            "| node | operation | formula | shape | value |", "|---|---|---|---|---|"]
    text = ["forward pass:"]
    line = None
    hidden = _later_steps(staged)
    files = source_files(staged)
    constants = []  # a constant's row waits for the line of the node that uses it
    for node in staged.nodes:
        if node.name in view.folded or node.name in hidden:
            continue
        name = view.latex[node.name]
        if node.op in ("input", "const"):
            formula = r"\text{given}" if node.op == "input" else r"\text{a constant}"
        else:
            formula = view.tex(rules[node.name].latex)
            here = source_line(node, files)
            if here and here != line:
                rows.append(f"| | | `{_cell(here)}` | | |")
            line = here or line
            rows += constants
            constants = []
        value = _values(values[node.name], False) if node.differentiable else "(a condition)"
        op = OPERATIONS.get(node.op, node.op)
        row = f"| ${name}$ | {op} | ${name} = {formula}$ | {_shape(node.shape)} | {value} |"
        (constants if node.op == "const" and line is not None else rows).append(row)
        text.append(f"  {node.name:<8} {node.op:<18} {number(values[node.name]) if node.differentiable else value}")
    return Markdown("\n".join(rows + constants), "\n".join(text))


def backward_table(staged, rules, values, grads, branches, wrt=None) -> Markdown:
    """Node by node in reverse: upstream gradient × SymPy's local derivative = downstream.

    Only what a differentiated input feeds has rows; a reshape or broadcast has none of its own:
    its row goes straight to the value it reshapes, with that value's gradient."""
    view = View(staged, wrt, rules)
    out = view.latex[staged.output]
    rows = ["#### Backward pass", "",
            rf"Each row multiplies a node's upstream gradient $\bar v = \partial {out}/\partial v$ "
            "by the local derivative SymPy derives from the node's formula, giving what flows "
            "down to one of its inputs.", "",
            "| node | upstream $\\bar v$ | input | local derivative | downstream | number |",
            "|---|---|---|---|---|---|"]
    text = ["backward pass:"]
    notes = []
    hidden = _later_steps(staged)
    for node in reversed(staged.nodes):
        rule = rules.get(node.name)
        if rule is None or node.name not in grads or node.name in view.folded or node.name in hidden:
            continue
        v, up = view.latex[node.name], _values(grads[node.name])
        for local in rule.locals:
            target, part = local.input, branches[local.input][node.name]
            through = ""
            if target in view.folded:  # down through the reshape to the value the user wrote
                target, last = view.origin[target]
                part = branches[target][last]
                if local.input in view.broadcast:
                    through = r",\ \text{summed over the broadcast}"
            if target not in view.fed:
                continue
            x = view.latex[target]
            if node.rule.kind == "dot":  # a product's rule already contains its upstream gradient
                slope, down = r"\text{matrix calculus}", view.tex(local.latex)
            else:
                slope, down = view.tex(local.latex) + through, rf"\bar{{{v}}} \times {_local_name(v, x)}"
            rows.append(f"| ${v}$ | {up} | ${x}$ | ${slope}$ | ${down}$ | {_values(part)} |")
            text.append(f"  {node.name:<8} -> {target:<8} {number(part)}")
        if rule.note:
            notes.append(f"- ${v}$: {rule.note}")
    count = len(rows) - 6
    if count > FOLD_ROWS:  # the structure (closed form) shows; the numbers open on demand
        rows[4:4] = ["<details><summary>The backward pass node by node: "
                     f"{count} rows (click to open)</summary>", ""]
        rows += ["", "</details>"]
    fans = {name: parts for name, parts in branches.items()
            if len(parts) > 1 and name in view.fed and name not in view.folded
            and name not in hidden}
    if fans:
        rows += ["", "Where a value is used more than once, its gradient is the sum of its branches:",
                 ""] + [_fan_out(name, parts, view) for name, parts in fans.items()]
        text += [f"  fan-out at {name}: " + " + ".join(number(p) for p in parts.values())
                 + f" = {number(sum(np.asarray(p, dtype=np.float64) for p in parts.values()))}"
                 for name, parts in fans.items()]
    if notes:
        rows += ["", "Kinks and conventions:", ""] + notes
    return Markdown("\n".join(rows), "\n".join(text))


def _at_later_steps(staged) -> dict[str, str]:
    """A later loop step's node that has no name of its own, written as the first step's node
    with the step above it (v_{27} -> v_{12}^{(2)}): the tables show the first step only."""
    from ._loops import step_counterparts

    return {name: f"{{{sp.latex(symbol(first))}^{{({t})}}}}"
            for name, (first, t) in step_counterparts(staged).items()
            if _unnamed(name) and _unnamed(first)}


def _unnamed(name: str) -> bool:
    return name[:1] == "v" and name[1:].isdigit()


def _later_steps(staged) -> set:
    """An unrolled loop's steps after the first: shown as a recurrence (see _loops)."""
    from ._loops import later_steps

    return later_steps(staged)


def _values(x, shape: bool = True) -> str:
    """A value for a table cell: a scalar, or an array's first entries (and its shape, labelled)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return _scalar(float(a))
    flat = [_scalar(v) for v in a.ravel()[:4]]
    more = ", …" if a.size > 4 else ""
    return f"[{', '.join(flat)}{more}]" + (f" (shape {_shape(a.shape)})" if shape else "")


def _shape(shape) -> str:
    return "scalar" if not shape else "×".join(map(str, shape))


def _cell(code: str) -> str:
    return code.replace("|", "\\|").replace("`", "'")


def _local_name(v: str, x: str) -> str:
    return rf"\frac{{\partial {v}}}{{\partial {x}}}"


def _fan_out(name, parts: dict, view: View) -> str:
    x = rf"\bar{{{view.latex[name]}}}"
    terms = " + ".join(_values(p) for p in parts.values())
    total = _values(sum(np.asarray(p, dtype=np.float64) for p in parts.values()))
    via = ", ".join(f"${view.latex[n]}$" for n in parts)
    return f"- ${x}$ = {terms} = **{total}** (through {via})"
