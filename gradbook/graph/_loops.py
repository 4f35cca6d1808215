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
from ._tables import Markdown, View, number


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


def step_counterparts(staged) -> dict[str, tuple[str, int]]:
    """Each node of a later step -> (the same node in the first step, its step counted from 1):
    what the pages write a node the tables hide as (v_{12} at step 3: v_{12}^{(3)})."""
    out = {}
    for steps in _steps(staged).values():
        if _same_body(steps):
            first = steps[next(iter(steps))]
            for t in list(steps)[1:]:
                out.update({n.name: (f.name, t + 1) for n, f in zip(steps[t], first)})
    return out


def step_latex(name: str, t: str) -> str | None:
    """A node named by its step (h_1, z_1: see _source_names) written at step `t` (h_{t}), or
    None for a name without a step."""
    base, _, step = name.rpartition("_")
    tex = sp.latex(symbol(name))
    if not base or not step.isdigit() or not tex.endswith(f"_{{{step}}}"):
        return None
    return tex[: -len(f"_{{{step}}}")] + f"_{{{t}}}"


def _at_step(tex: str, name: str, kind: str) -> str:
    """A carried value's column head: h_{t} for a value named by its step, else "v at step t"."""
    at = step_latex(name, "t")
    if at is None:
        return f"${tex}$ at step $t$"
    return rf"$\overline{{{at}}}$" if kind == "bar" else f"${at}$"


def _later_names(first, steps: int) -> str:
    """How the pages write the later steps' nodes: by their step (z_{t}), or an unnamed one as
    its first-step node with the step above it."""
    unnamed = next((n.name for n in reversed(first) if n.name[:1] == "v" and n.name[1:].isdigit()),
                   None)
    if unnamed is None:
        return ""
    v = sp.latex(symbol(unnamed))
    return (f" (the closed form writes a node of a later step that has no name of its own as its "
            f"first-step node with the step above it: ${v}^{{({steps})}}$ is ${v}$ at step {steps})")


def _same_body(steps: dict) -> bool:
    """Whether every step staged the same operations (it does, unless a cond inside differs)."""
    shapes = [[(n.op, n.shape) for n in nodes] for nodes in steps.values()]
    return len(shapes) > 1 and all(s == shapes[0] for s in shapes)


def recurrence_table(staged, grads, values, branches, wrt=None) -> Markdown | None:
    """For each unrolled loop: the first step's rows stand for all; one row per step here.
    Given `wrt`, only values a differentiated input feeds have a column for their gradient."""
    parts, text = [], []
    fed = View(staged, wrt).fed if wrt is not None else None
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
        outside = [x for x in outside if x not in names_second and (fed is None or x in fed)]
        heads = ([_at_step(sp.latex(symbol(first[k].name)), first[k].name, "") for k in carried]
                 + [_at_step(sp.latex(bar(first[k].name)), first[k].name, "bar") for k in carried]
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
            rows.append(f"| {t + 1} | " + " | ".join(cells) + " |")
            text.append(f"  step {t + 1}: " + "; ".join(cells))
        parts.append(
            f"#### The loop `{loop}` as a recurrence\n\n"
            f"The loop runs {len(order)} steps, each with the same {len(first)} nodes; the "
            f"tables above show step {order[0] + 1}'s rows in full, and every other step's local "
            f"derivatives are the same formulas at its own numbers{_later_names(first, len(order))}. "
            "Per step: the values it "
            "carries to the next step, their gradients (what flows back from the later "
            "steps and the loss), and what the step adds to the gradient of each value from "
            "outside the loop; summed over the steps, with the uses outside the loop, those "
            "make the whole gradients.\n\n" + "\n".join(rows))
    if not parts:
        return None
    return Markdown("\n\n".join(parts), "\n".join(text))
