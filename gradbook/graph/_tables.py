"""The forward and backward tables of a derived workbook, as Markdown with LaTeX (and text)."""
from __future__ import annotations

import numpy as np
import sympy as sp

from ._backward import bar, symbol


class Markdown:
    """A block of Markdown for a notebook, with a plain-text form for scripts."""

    def __init__(self, markdown: str, text: str):
        self.markdown, self.text = markdown, text

    def _repr_markdown_(self) -> str:
        return self.markdown

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


def forward_table(staged, rules, values) -> Markdown:
    """One row per node in evaluation order: name, operation, formula, value."""
    rows = ["#### Forward pass", "", "| node | operation | formula | value |", "|---|---|---|---|"]
    text = ["forward pass:"]
    for node in staged.nodes:
        name = sp.latex(symbol(node.name))
        if node.op in ("input", "const"):
            formula = r"\text{given}" if node.op == "input" else r"\text{a constant}"
        else:
            formula = rules[node.name].latex
        value = number(values[node.name]) if node.differentiable else "(a condition)"
        rows.append(f"| ${name}$ | {node.op} | ${name} = {formula}$ | {value} |")
        text.append(f"  {node.name:<8} {node.op:<18} {value}")
    return Markdown("\n".join(rows), "\n".join(text))


def backward_table(staged, rules, values, grads, branches) -> Markdown:
    """Node by node in reverse: upstream gradient × SymPy's local derivative = downstream."""
    out = sp.latex(symbol(staged.output))
    rows = ["#### Backward pass", "",
            rf"Each row multiplies a node's upstream gradient $\bar v = \partial {out}/\partial v$ "
            "by the local derivative SymPy derives from the node's formula, giving what flows "
            "down to one of its inputs.", "",
            "| node | upstream $\\bar v$ | input | local derivative | downstream | number |",
            "|---|---|---|---|---|---|"]
    text = ["backward pass:"]
    notes = []
    for node in reversed(staged.nodes):
        rule = rules.get(node.name)
        if rule is None or node.name not in grads:
            continue
        v, up = sp.latex(symbol(node.name)), number(grads[node.name])
        for local in rule.locals:
            x = sp.latex(symbol(local.input))
            part = branches[local.input][node.name]
            if node.rule.kind == "dot":  # a product's rule already contains its upstream gradient
                slope, down = r"\text{matrix calculus}", local.latex
            else:
                slope, down = local.latex, rf"\bar{{{v}}} \times {_local_name(v, x)}"
            rows.append(f"| ${v}$ | {up} | ${x}$ | ${slope}$ | ${down}$ | {number(part)} |")
            text.append(f"  {node.name:<8} -> {local.input:<8} {number(part)}")
        if rule.note:
            notes.append(f"- ${v}$: {rule.note}")
    fan_out = [_fan_out(name, parts) for name, parts in branches.items() if len(parts) > 1]
    if fan_out:
        rows += ["", "Where a value is used more than once, its gradient is the sum of its branches:",
                 ""] + fan_out
        text += [f"  fan-out at {name}: " + " + ".join(number(p) for p in parts.values())
                 + f" = {number(sum(np.asarray(p, dtype=np.float64) for p in parts.values()))}"
                 for name, parts in branches.items() if len(parts) > 1]
    if notes:
        rows += ["", "Kinks and conventions:", ""] + notes
    return Markdown("\n".join(rows), "\n".join(text))


def _local_name(v: str, x: str) -> str:
    return rf"\frac{{\partial {v}}}{{\partial {x}}}"


def _fan_out(name, parts: dict) -> str:
    x = sp.latex(bar(name))
    terms = " + ".join(number(p) for p in parts.values())
    total = number(sum(np.asarray(p, dtype=np.float64) for p in parts.values()))
    via = ", ".join(f"${sp.latex(symbol(n))}$" for n in parts)
    return f"- ${x}$ = {terms} = **{total}** (through {via})"
