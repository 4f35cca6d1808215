"""derive(): a forward function's whole backward pass, staged, derived by SymPy, and checked.

The section it writes into a notebook shows, in order: the function and its graph; a forward
table (one row per node: operation, formula, value); the backward pass node by node in reverse
(upstream gradient × SymPy's local derivative = downstream, with fan-out summed); the closed
form of each gradient (proven by SymPy for scalar graphs, in matrix notation for arrays); and
the checks, recorded in the ledger under one claim.
"""
from __future__ import annotations

import inspect
import textwrap
import zlib
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .._display import Result, show
from ..checks._ledger import active_ledger, fail, record
from ..checks._numeric import check_gradient
from ..checks._printed import check_printed
from ..checks._quick_jit import quick_jit
from ..checks._report import declare_claim
from ..checks._symbolic import prove_chain
from ..checks._tolerance import autodiff_bound_summed
from ._backward import backward, derive_rules, forward, jax_gradients, symbol
from ._closed_form import array_closed_form, prove_dot_rules, scalar_closed_form
from ._inputs import flatten_example, matches
from ._loops import recurrence_table
from ._magnitude import magnitudes
from ._rounding import cleaned, largest
from ._rules import TIES
from ._stage import DeriveError, stage
from ._source_names import name_from_source
from ._tables import Markdown, Section, backward_table, forward_table, number


@dataclass(frozen=True)
class Erratum:
    """A number a document prints wrongly, with the reason (see `erratum`)."""

    printed: str
    because: str


def erratum(printed: str, *, because: str) -> Erratum:
    """Mark a printed number as the document's error: shown with the right value, not failed."""
    if not because:
        raise ValueError("an erratum needs because='why the document is wrong'")
    return Erratum(str(printed), because)


class Workbook:
    """What derive() found: the nodes, their values and gradients, and the closed forms."""

    def __init__(self, staged, rules, values, grads, branches, closed):
        self.staged, self.rules, self.values = staged, rules, values
        self.grads, self.branches, self.closed = grads, branches, closed

    def value(self, name: str) -> np.ndarray:
        """A node's value at the worked example."""
        return np.asarray(self.values[name])

    def grad(self, name: str) -> np.ndarray:
        """∂output/∂node at the worked example, summed over the node's uses."""
        return np.asarray(self.grads[name])

    def __repr__(self) -> str:
        return (f"[derived {self.staged.output}: {len(self.staged.nodes)} nodes, "
                f"inputs {', '.join(self.staged.inputs)}]")


def derive(f, *, at: dict, wrt=None, claim: str | None = None, printed: dict | None = None,
           names: dict | None = None, expand: bool = False, output: str = "f",
           points: int = 3, sample=None, graph: bool = True) -> Workbook:
    """Stage `f` at the example `at`, derive its backward pass node by node, and check it all.

    at: the worked example, parameter name -> number, array, or a pytree of them (dicts,
        lists, tuples, named tuples); each leaf is an input named by its path, params.W1 or
        params.layers[0].W. Integer and boolean arrays (labels, indices) are data.
    wrt: the inputs to differentiate: leaf names, or a name for every floating leaf under it
        ("params"); default: every floating leaf.
    claim: the claim id the checks are recorded under (default: declared as derived.<f>).
    printed: numbers a document prints, as strings: a node's name -> its value (for the
        output and intermediates) or its gradient (for an input); "∂name" always means the
        gradient. A value made with erratum(...) is the document's error, shown as such.
    names: new names for staged nodes ({"v1": "q"}); named(value, "q") inside f does the same.
    expand: stage the operations inside jitted helpers instead of one node per helper.
    points, sample: how many seeded random points the closed form is also checked at, and
        how to draw them (default: near the example; see _near).
    """
    flat = flatten_example(f, at)
    staged = stage(f, at, names=names, output=output, expand=expand)
    name_from_source(staged, keep=names or {})  # h = ... names h (see _source_names)
    wrt = _wrt(f, flat, wrt)
    claim = _claim(claim, f, staged, printed)
    rules = derive_rules(staged)
    example = flat.by_name()
    compute = quick_jit(lambda a: at_example(staged, rules, a))  # compiled once, used at every point
    values, (grads, branches), sizes, theirs = compute(example)
    section = Section(f"Derived by machine: {f.__name__}")
    section.markdown(f"#### The forward function\n\n```python\n{_source(f)}\n```")
    section.flush()
    shown_values, shown_grads, shown_branches = _shown_without_noise(values, grads, branches, sizes)
    if graph:  # drawn from the staged nodes and the numbers above: nothing traced again
        from ._drawing import draw_staged

        draw_staged(staged, shown_values, shown_grads, shown_branches, wrt=wrt)
    show(forward_table(staged, rules, shown_values, wrt))
    show(backward_table(staged, rules, shown_values, shown_grads, shown_branches, wrt))
    loops = recurrence_table(staged, shown_grads, shown_values, shown_branches, wrt=wrt)  # unrolled loops: one row per step
    if loops is not None:
        show(loops)
    _check_nodes(claim, staged, grads, branches, sizes, theirs)
    _check_ties(claim, staged, {k: r for k, r in rules.items() if k in grads}, values)
    if staged.scalar:
        closed = scalar_closed_form(staged, rules, wrt)
        for name in wrt:
            c = closed[name]
            prove_chain(claim, sp.Derivative(c.whole, symbol(name)),
                        (c.composed_for_proof, "the chain rule along every path"),
                        (c.simplified, "simplified"), where=c.definitions,
                        lhs=rf"\frac{{\partial {sp.latex(symbol(output))}}}{{\partial {sp.latex(symbol(name))}}}")
    else:
        closed = None
        show(array_closed_form(staged, rules, wrt, values=values, grads=grads))
        prove_dot_rules(claim, staged, rules, wrt)
    workbook = Workbook(staged, rules, values, grads, branches, closed)
    _check_closed_form(claim, flat.function, staged, rules, values, example, wrt, points, sample,
                       compute)
    _check_printed(claim, workbook, printed or {})
    return workbook


def at_example(staged, rules, args):
    """Values, gradients with their branches, the sizes of the terms summed into each, and
    JAX's own gradient of every node: all derive compares, from one compiled function."""
    values = forward(staged, args)
    return (values, backward(staged, rules, values), magnitudes(staged, rules, values),
            jax_gradients(staged, args))


def _wrt(f, flat, wrt) -> list[str]:
    """The leaves to differentiate: named ones, or every floating leaf under a name given."""
    if wrt is None:
        return flat.floating
    chosen = []
    for w in [wrt] if isinstance(wrt, str) else list(wrt):
        found = [n for n in flat.names if matches(n, w)]
        if not found:
            raise DeriveError(f"wrt names {w!r}, which is not an input of {f.__name__} "
                              f"(inputs: {', '.join(flat.names)})")
        if found == [w] and w not in flat.floating:
            raise DeriveError(f"wrt names {w!r}, which holds integers or booleans: data, "
                              "never differentiated")
        chosen += [n for n in found if n in flat.floating and n not in chosen]
    return chosen


def _claim(claim, f, staged, printed) -> str:
    """The claim to record under; a derivation's own one is declared here when missing."""
    ledger = active_ledger()
    kinds = ["jax", "fd"]
    if staged.scalar or any(
            n.op == "dot_general" for n in staged.nodes):
        kinds.insert(0, "sym")
    if any(not isinstance(v, Erratum) for v in (printed or {}).values()):
        kinds.append("num")
    if claim is None:
        claim = f"derived.{f.__name__}"
    if claim not in ledger.catalog:
        declare_claim(claim, source=f"the forward function {f.__name__}, derived by machine",
                      states=f"the backward pass of {f.__name__}, node by node", kinds=kinds)
    for key, value in (printed or {}).items():
        if isinstance(value, Erratum):
            declare_claim(_erratum_id(claim, key), source=ledger.catalog.cite(claim),
                          states=f"{key} as printed: {value.printed}", kinds=("num",),
                          erratum=True, because=value.because)
    ledger.declare([claim])
    return claim


def _erratum_id(claim: str, key: str) -> str:
    return f"{claim}.erratum.{key.lstrip('∂d') if key.startswith('∂') else key}"


def _shown_without_noise(values, grads, branches, sizes):
    """The tables' numbers, rounding noise shown as 0: a gradient entry measured against the
    terms summed into it, a value or a branch against the largest of its kind (_rounding.py)."""
    scale_v, scale_g = largest(values.values()), largest(grads.values())
    shown_grads = {k: cleaned(g, sizes[k] if k in sizes and np.shape(sizes[k]) == np.shape(g) else scale_g)
                   for k, g in grads.items()}
    shown_branches = {k: {t: cleaned(p, scale_g) for t, p in parts.items()} for k, parts in branches.items()}
    return {k: cleaned(v, scale_v) for k, v in values.items()}, shown_grads, shown_branches


def _check_nodes(claim, staged, grads, branches, sizes, theirs) -> None:
    """Every node's backward number against JAX's (`theirs`, one backward pass over all nodes)."""
    wrong = node_disagreement(staged, grads, branches, sizes, theirs)
    if wrong:
        fail(claim, "jax", wrong)
    Result([record(claim, "jax", True, f"all {len(theirs)} nodes' gradients agree with JAX's "
                                       f"backward pass at the worked example")])


def _check_ties(claim, staged, rules, values) -> None:
    """Each max-like node's tie convention, stated on the page and checked against JAX's
    derivative of its operation at ties constructed for it (see _ties); `rules` holds the
    nodes a gradient reaches (a max behind stop_gradient has no tie to check)."""
    from ._ties import check_ties

    def announce(nodes):
        notes = dict.fromkeys(f"{n.name} ({n.op}): {rules[n.name].note}" if rules[n.name].note
                              else f"{n.name} ({n.op})" for n in nodes)
        text = ("At a tie (equal arguments of a maximum or minimum, a clamp at its bound, "
                "repeated values in a running maximum or a pooling window) the derivative is a "
                "convention. derive uses JAX's, and checks it against JAX's derivative of each "
                "such node at ties constructed for it (random points never land on one); SymPy's "
                "proofs hold away from ties, where every convention gives the same slope:\n\n"
                + "\n".join(f"- {n}" for n in notes))
        show(Markdown(text, text))

    check_ties(claim, staged, rules, values, announce)


def node_disagreement(staged, grads, branches, sizes, theirs) -> str | None:
    """The first node, from the output down, whose gradient differs from JAX's, said in words.

    The autodiff tolerance is taken relative to the absolute values of the terms summed into
    a node's gradient along every path (`sizes`, see _magnitude), so a gradient that cancels
    to 0 is judged by the size of what cancelled, as the tolerance rule states. Going from the
    output down, every gradient above the first wrong one agrees: the culprit is its user.
    """
    for node in reversed(staged.nodes):
        if node.name not in theirs:
            continue
        reference = np.asarray(theirs[node.name], dtype=np.float64)
        mine = np.asarray(grads.get(node.name, np.zeros_like(reference)), dtype=np.float64)
        err = float(np.max(np.abs(mine - reference), initial=0.0))
        bound = autodiff_bound_summed(mine, reference, sizes.get(node.name, 0.0))
        if err > bound:
            users = [staged[user] for user in branches.get(node.name, {})]
            culprits = ", ".join(f"node {u.name} ({u.op}" + (f", made at {u.line})" if u.line else ")")
                                 for u in users) or "no node"
            return (f"∂{staged.output}/∂{node.name}: the backward pass gives {number(mine)} "
                    f"but JAX gives {number(reference)} (largest |Δ| {err:.3g}, allowed "
                    f"{bound:.1e}); every gradient above it agrees, so the local derivative "
                    f"of {culprits} with respect to {node.name} is wrong")
    return None


def _check_closed_form(claim, f, staged, rules, values, example, wrt, points, sample,
                       compute) -> None:
    """The node-by-node backward pass, as a function, against jax.grad and finite differences.

    `compute` is at_example compiled: the points share the example's shapes, so the claimed
    gradient and the sizes of its terms come from the one compilation.
    """
    last = {}  # claimed and magnitude are asked at the same point in turn: computed once

    def gradients_and_sizes(args):
        key = tuple((np.asarray(a).dtype.str, np.shape(a), np.asarray(a).tobytes()) for a in args)
        if key not in last:
            _, (grads, _), sizes, _ = compute(dict(zip(staged.inputs, args)))
            last.clear()
            last[key] = ([grads.get(w, np.zeros(staged[w].shape)) for w in wrt],
                         [sizes.get(w, np.zeros(staged[w].shape)) for w in wrt])
        return last[key]

    def claimed(*args):
        return tuple(gradients_and_sizes(args)[0])

    def magnitude(*args):
        return tuple(gradients_and_sizes(args)[1])

    example = tuple(example.values())
    draw = sample or (lambda rng: tuple(_near(np.asarray(a), rng) for a in example))
    positions = tuple(staged.inputs.index(w) for w in wrt)
    kink = _on_a_kink(rules, values)
    wanted = max(points, 1) if kink else points
    sampler = lambda: draw  # noqa: E731 (a fresh sampler for each check)
    if staged.conds:  # only points taking the staged branches compute the same function
        sampler, wanted = _same_branch_sampler(claim, staged, compute, draw, wanted)
    common = dict(wrt=positions, names=tuple(wrt), magnitude=magnitude)
    if not kink:
        check_gradient(claim, f, claimed, at=example, points=wanted, sample=sampler(), **common)
        return
    # At a kink central differences average the two sides' slopes: there they cannot judge.
    show(Markdown("The worked example sits exactly on a kink, where a central difference "
                  "averages the slopes on either side; finite differences are checked at the "
                  "random points, JAX's autodiff at all of them.", "(on a kink: fd at random points)"))
    check_gradient(claim, f, claimed, at=example, points=0, fd=False,
                   label="the worked example, on a kink", sample=sampler(), **common)
    if wanted:
        check_gradient(claim, f, claimed, at=None, points=wanted, sample=sampler(), **common)


def _same_branch_sampler(claim, staged, compute, draw, wanted, tries_per_point=20):
    """Random points at which every cond takes the worked example's branch, drawn up front
    (seeded by the claim): a draw taking another branch is skipped, and the page says how many
    were, and how many points remain when too few are found. Returns a maker of samplers that
    hand those points out in order, and their number."""
    rng = np.random.default_rng(zlib.crc32(f"{claim}: branches".encode()))
    kept, skipped, tries = [], 0, max(tries_per_point * wanted, tries_per_point)
    while len(kept) < wanted and skipped < tries:
        point = tuple(draw(rng))
        if staged.same_branches(compute(dict(zip(staged.inputs, point)))[0]):
            kept.append(point)
        else:
            skipped += 1
    conds = "; ".join(f"the cond at {line or '?'} takes branch {k} of {n}" for _, k, n, line in staged.conds)
    text = (f"At the worked example {conds}, and which branch depends on the inputs: only the "
            "branch taken is staged, so a point where another is taken computes another function "
            f"and is not compared. {skipped} random draw(s) took another branch and were skipped; "
            f"the random points below are {len(kept)} that take the same branch(es)"
            + (f", fewer than the {wanted} wanted (no more found in {skipped + len(kept)} draws)"
               if len(kept) < wanted else "") + ".")
    show(Markdown(text, text))
    return (lambda: (lambda rng, points=iter(kept): next(points))), len(kept)


def _near(a, rng):
    """A random point near the example: each number scaled by e^(0.2·N(0,1)), so signs and
    domains (log of a positive) are kept, and zeros moved by 0.1·N(0,1), off any kink there.
    Integer and boolean inputs (labels, indices) are data: kept as they are."""
    if not np.issubdtype(a.dtype, np.floating):
        return a
    scaled = a * np.exp(0.2 * rng.standard_normal(a.shape))
    return np.where(a == 0, 0.1 * rng.standard_normal(a.shape), scaled)


def _on_a_kink(rules, values) -> bool:
    """Whether some node's input sits where its slope jumps (ReLU at 0, a tie of max, |0|, a
    tie in a maximum or in a max/min window)."""
    from ._ties import on_a_kink

    for rule in rules.values():
        if any(on_a_kink(local.expr, values) for local in rule.locals):
            return True
        node = rule.node
        if node.rule.kind == "max":
            x = np.asarray(values[node.inputs[0]])
            axes = tuple(node.eqn.params["axes"])
            if np.any((x == np.max(x, axis=axes, keepdims=True)).sum(axis=axes) > 1):
                return True
        if node.rule.kind == "window" and node.op in TIES and isinstance(node.inputs[0], str):
            x = np.asarray(values[node.inputs[0]])
            if x.size != np.unique(x).size:
                return True  # repeated values: maybe tied in a window (a cautious guess)
    return False


def _check_printed(claim, workbook: Workbook, printed: dict) -> None:
    staged = workbook.staged
    for key, value in printed.items():
        gradient = key.startswith("∂") or (key in staged.inputs and key != staged.output)
        name = key.lstrip("∂") if key.startswith("∂") else key
        if name not in staged.by_name:
            raise DeriveError(f"printed names {key!r}, which is not a node "
                              f"(nodes: {', '.join(n.name for n in staged.nodes)})")
        computed = workbook.grad(name) if gradient else workbook.value(name)
        label = f"∂{staged.output}/∂{name}" if gradient else name
        if isinstance(value, Erratum):
            check_printed(_erratum_id(claim, key), f"{label} (the document's erratum: "
                          f"{value.because}; the right value is {number(computed)})", computed,
                          value.printed, erratum=True)
        else:
            check_printed(claim, label, computed, value)


def _source(f) -> str:
    try:
        return textwrap.dedent(inspect.getsource(f)).rstrip()
    except (OSError, TypeError):
        return f"# (the source of {f.__name__} is not available)"


