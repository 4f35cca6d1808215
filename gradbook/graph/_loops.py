"""Unrolled loops shown as a recurrence: one step's rows in full, then one row per step.

Staging unrolls lax.scan, fori_loop and static while loops into their steps (each node keeps
its step in Node.step). Every step has the same nodes and the same local derivatives, each
evaluated at its own numbers, so the tables show the first step's rows once, and this module
adds a compact table: per step, the carried values and their gradients (what flows back from
the later steps) and what the step adds to each outside input's gradient.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ._backward import bar, symbol
from ._tables import Markdown, number


def _steps(staged) -> dict:
    """loop -> {step number: its nodes, in evaluation order}, loops and steps in the order run."""
    loops: dict = {}
    for node in staged.nodes:
        if node.step:
            loop, t = node.step[0]
            loops.setdefault(loop, {}).setdefault(t, []).append(node)
    return loops


def later_steps(staged) -> set[str]:
    """The nodes of every step but the first one run: the tables show one step in full."""
    hidden = set()
    for steps in _steps(staged).values():
        if _same_body(steps):
            hidden |= {n.name for t in list(steps)[1:] for n in steps[t]}
    return hidden


def _same_body(steps: dict) -> bool:
    """Whether every step staged the same operations (it does, unless a cond inside differs)."""
    shapes = [[(n.op, n.shape) for n in nodes] for nodes in steps.values()]
    return len(shapes) > 1 and all(s == shapes[0] for s in shapes)


def recurrence_table(staged, grads, values, branches) -> Markdown | None:
    """For each unrolled loop: the first step's rows stand for all; one row per step here."""
    parts, text = [], []
    for loop, steps in _steps(staged).items():
        if not _same_body(steps):
            continue
        order = list(steps)
        first, second = steps[order[0]], steps[order[1]]
        names_second = {n.name for n in second}
        carried = [k for k, n in enumerate(first)
                   if any(n.name in user.inputs for user in second) and n.differentiable]
        inside = {n.name for nodes in steps.values() for n in nodes}
        outside = sorted({ref for n in first for ref in n.inputs if isinstance(ref, str)
                          and ref not in inside and staged[ref].differentiable
                          and ref in branches and ref in grads},
                         key=[n.name for n in staged.nodes].index)
        outside = [x for x in outside if x not in names_second]
        heads = ([f"${sp.latex(symbol(first[k].name))}$ at step $t$" for k in carried]
                 + [rf"${sp.latex(bar(first[k].name))}$ at step $t$" for k in carried]
                 + [rf"step $t$'s part of ${sp.latex(bar(x))}$" for x in outside])
        rows = ["| step $t$ | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
        text.append(f"{loop}, {len(order)} steps:")
        for t in order:
            nodes = steps[t]
            shares = [sum((np.asarray(branches[x][n.name]) for n in nodes if n.name in branches[x]),
                          np.zeros(staged[x].shape)) for x in outside]
            cells = ([number(values[nodes[k].name]) for k in carried]
                     + [number(grads.get(nodes[k].name, 0.0)) for k in carried]
                     + [number(s) for s in shares])
            rows.append(f"| {t} | " + " | ".join(cells) + " |")
            text.append(f"  step {t}: " + "; ".join(cells))
        parts.append(
            f"#### The loop `{loop}` as a recurrence\n\n"
            f"The loop runs {len(order)} steps, each with the same {len(first)} nodes; the "
            f"tables above show step {order[0]}'s rows in full, and every other step's local "
            "derivatives are the same formulas at its own numbers. Per step: the values it "
            "carries to the next step, their gradients (what flows back from the later "
            "steps and the loss), and what the step adds to the gradient of each value from "
            "outside the loop; summed over the steps, with the uses outside the loop, those "
            "make the whole gradients.\n\n" + "\n".join(rows))
    if not parts:
        return None
    return Markdown("\n\n".join(parts), "\n".join(text))
