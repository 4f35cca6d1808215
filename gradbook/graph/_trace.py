"""The computational graph of a JAX function: its operations, and the numbers that flow on it.

The graph is read from the function's jaxpr. Every value gets its forward number by evaluating
the jaxpr equation by equation, and its gradient (of the scalar output) from one backward pass:
the jaxpr is re-run with a zero perturbation added to every value where it is made and at every
place it is used, and JAX differentiates the output with respect to all the perturbations at
once. A value used twice thus shows both its branch gradients and their sum.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np

from .._float64 import jax, jnp
from ..checks._quick_jit import quick_jit
from ._rounding import cleaned, largest
from jax.extend.core import Literal

# Operations shown by a symbol rather than their primitive's name.
SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "neg": "neg", "max": "max",
           "min": "min", "exp": "exp", "log": "log", "tanh": "tanh", "logistic": "σ",
           "dot_general": "dot", "reduce_sum": "Σ", "transpose": "ᵀ", "integer_pow": "pow",
           "pow": "pow", "sqrt": "√", "log1p": "log1p", "abs": "abs", "reduce_max": "max",
           "reduce_min": "min", "reduce_prod": "∏", "argmax": "argmax", "argmin": "argmin"}
# Operations that only move or retype numbers: drawn through, not as nodes.
PASS_THROUGH = {"convert_element_type", "copy", "copy_p"}


def named(value, name: str):
    """Give an intermediate value the derivation's name (q, s, ŷ), for the drawn graph."""
    from jax.ad_checkpoint import checkpoint_name

    return checkpoint_name(value, name)


@dataclass
class Node:
    """An input, an operation, a branch point where a value fans out, or the output."""

    id: str
    kind: str
    label: str
    layer: int = 0


@dataclass
class Edge:
    """A value flowing from one node to another, with its forward number and its gradient."""

    source: str
    target: str
    name: str
    value: np.ndarray
    grad: np.ndarray


@dataclass
class TracedGraph:
    """Nodes and edges in drawing order, plus each named value's number and gradient."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)


def trace_graph(f, *args, names=None, output: str = "f") -> TracedGraph:
    """Trace `f` at `args` (a scalar-valued function) into a graph with values and gradients."""
    closed = jax.make_jaxpr(f)(*args)
    jaxpr = closed.jaxpr
    if len(jaxpr.outvars) != 1 or np.shape(closed.out_avals[0]) != ():
        raise ValueError("draw a function with one scalar output (a loss); got "
                         f"{[tuple(a.shape) for a in closed.out_avals]}")
    names = list(names or inspect.signature(f).parameters)[:len(jaxpr.invars)]
    alias, labels = _aliases(jaxpr)
    labels.update({v: n for v, n in zip(jaxpr.invars, names)})
    env, by_var, by_use = _values_and_gradients(closed, args, alias)

    graph = TracedGraph()
    producer = {}
    for var, label in zip(jaxpr.invars, names):
        graph.nodes.append(Node(f"in{len(graph.nodes)}", "input", label))
        producer[var] = graph.nodes[-1].id
    for var in jaxpr.constvars:  # arrays the function closes over: drawn as constants
        graph.nodes.append(Node(f"const{len(graph.nodes)}", "const", "const"))
        producer[var] = graph.nodes[-1].id
    ops = [(i, e) for i, e in enumerate(jaxpr.eqns) if not _is_alias(e)]
    for i, eqn in ops:
        graph.nodes.append(Node(f"op{i}", "op", _op_label(eqn)))
        producer[eqn.outvars[0]] = f"op{i}"
    uses: dict = {}
    for i, eqn in ops:
        for j, v in enumerate(eqn.invars):
            if not _is_literal(v):
                uses.setdefault(alias.get(v, v), []).append((f"op{i}", (i, j)))
    out = alias.get(jaxpr.outvars[0], jaxpr.outvars[0])
    graph.nodes.append(Node("out", "output", output))
    uses.setdefault(out, []).append(("out", None))

    for var, targets in uses.items():
        label = labels.get(var, "")
        value, total = env[var], by_var.get(var)
        source = producer[var]
        if len(targets) > 1:  # fan-out: a branch point, whose incoming edge carries the sum
            graph.nodes.append(Node(f"copy{len(graph.nodes)}", "copy", ""))
            graph.edges.append(Edge(source, graph.nodes[-1].id, label, value, total))
            source = graph.nodes[-1].id
        for target, use in targets:
            grad = total if use is None or len(targets) == 1 else by_use.get(use)
            shown = output if target == "out" else label if len(targets) == 1 else ""
            graph.edges.append(Edge(source, target, shown, value, grad))
        if label:
            graph.values[label], graph.grads[label] = value, total
    graph.values[output], graph.grads[output] = env[out], np.float64(1.0)
    _shown_without_noise(graph.edges)
    _assign_layers(graph)
    return graph


def _shown_without_noise(edges) -> None:
    """The numbers drawn on the edges, with rounding noise shown as 0 (see _rounding.py)."""
    values = largest(e.value for e in edges)
    grads = largest(e.grad for e in edges if e.grad is not None)
    for e in edges:
        e.value = cleaned(e.value, values)
        e.grad = None if e.grad is None else cleaned(e.grad, grads)


def _aliases(jaxpr):
    """Equations that only rename or retype a value: map their output to their input."""
    alias, labels = {}, {}
    for eqn in jaxpr.eqns:
        if _is_alias(eqn):
            source = eqn.invars[0]
            source = alias.get(source, source)
            alias[eqn.outvars[0]] = source
            if eqn.primitive.name == "name":
                labels[source] = eqn.params["name"]
    return alias, labels


def _is_alias(eqn) -> bool:
    return eqn.primitive.name == "name" or (
        eqn.primitive.name in PASS_THROUGH and len(eqn.invars) == 1
        and not _is_literal(eqn.invars[0]))


def _is_literal(v) -> bool:
    return isinstance(v, Literal)


def call_name(eqn, fallback: str | None = None) -> str | None:
    """The name of the function a call or custom-derivative equation runs (relu, softplus)."""
    name = eqn.params.get("name")
    if not name:
        call = eqn.params.get("call_jaxpr") or eqn.params.get("jaxpr") or eqn.params.get("fun_jaxpr")
        info = getattr(getattr(call, "jaxpr", call), "debug_info", None)
        source = getattr(info, "func_src_info", None)
        name = source.split(" ")[0] if source else fallback
    return name


def _op_label(eqn) -> str:
    name = eqn.primitive.name
    label = None
    if name in ("pjit", "jit", "closed_call"):
        label = eqn.params.get("name")
    elif name in ("custom_jvp_call", "custom_vjp_call"):  # e.g. jax.nn.relu: its function's name
        label = call_name(eqn, "custom")
    label = label and ("jit" if label.startswith("<") else label.strip("_"))
    label = label or SYMBOLS.get(name, name)
    if name == "integer_pow":
        label = f"^{eqn.params['y']}"
    literals = [_number(np.asarray(v.val)) for v in eqn.invars if _is_literal(v)]
    if literals and name in ("add", "sub", "mul", "div", "max", "min"):
        literal_first = _is_literal(eqn.invars[0]) and name in ("sub", "div")
        return f"{literals[0]} {label}" if literal_first else f"{label} {literals[0]}"
    return label


def _values_and_gradients(closed, args, alias):
    """Every variable's value, and d output / d every value (at its definition) and / d every
    use, from one compiled pass: the jaxpr re-run with a zero added to each value where it is
    made and where it is used, differentiated with respect to all the zeros at once."""
    jaxpr = closed.jaxpr
    order = list(jaxpr.constvars) + list(jaxpr.invars) + [v for e in jaxpr.eqns for v in e.outvars]
    keys_def = [v for v in order if v not in alias and _real_var(v)]
    keys_use = [(i, j) for i, e in enumerate(jaxpr.eqns) if not _is_alias(e)
                for j, v in enumerate(e.invars) if not _is_literal(v) and _real_var(v)]
    shape = {v: tuple(v.aval.shape) for v in order}
    where = {(i, j): jaxpr.eqns[i].invars[j] for i, j in keys_use}

    def perturbed(d, u):
        eps_def, eps_use = dict(zip(keys_def, d)), dict(zip(keys_use, u))
        env = dict(zip(jaxpr.constvars, closed.consts))
        env.update(zip(jaxpr.invars, args))
        env = {v: x + eps_def[v] if v in eps_def else x for v, x in env.items()}
        for i, eqn in enumerate(jaxpr.eqns):
            invals = [v.val if _is_literal(v) else env[v] for v in eqn.invars]
            if not _is_alias(eqn):
                invals = [x + eps_use[(i, j)] if (i, j) in eps_use else x
                          for j, x in enumerate(invals)]
            for v, x in zip(eqn.outvars, _bind(eqn, invals)):
                env[v] = x + eps_def[v] if v in eps_def else x
        return env[jaxpr.outvars[0]], [env[v] for v in order]

    zeros_def = [np.zeros(shape[k]) for k in keys_def]
    zeros_use = [np.zeros(shape[where[k]]) for k in keys_use]
    (g_def, g_use), values = quick_jit(jax.grad(perturbed, argnums=(0, 1), has_aux=True))(
        zeros_def, zeros_use)  # compiled once: eagerly, each equation is a dispatch
    env = {v: np.asarray(x) for v, x in zip(order, values)}
    by_var = {k: np.asarray(g, dtype=np.float64) for k, g in zip(keys_def, g_def)}
    by_var.update({v: by_var[a] for v, a in alias.items() if a in by_var})
    by_use = {k: np.asarray(g, dtype=np.float64) for k, g in zip(keys_use, g_use)}
    return env, by_var, by_use


def _real_var(v) -> bool:
    return np.issubdtype(v.aval.dtype, np.floating)


def _bind(eqn, invals) -> list:
    """Apply one equation, as jax.core.eval_jaxpr does (custom_jvp_call needs its sub-functions)."""
    bound = eqn.primitive.get_bind_params(eqn.params)  # jax < 0.7 also returns sub-functions
    subfuns, params = bound if isinstance(bound, tuple) else ((), bound)
    outs = eqn.primitive.bind(*subfuns, *invals, **params)
    return outs if eqn.primitive.multiple_results else [outs]


def _assign_layers(graph: TracedGraph) -> None:
    """Layer = longest path from an input; each input then moves up to just before its first
    use (a bias joins where it is added), and the output sits alone in the last layer."""
    layer = {n.id: 0 for n in graph.nodes}
    for _ in graph.nodes:  # relax edges until stable (graphs are small and acyclic)
        changed = False
        for e in graph.edges:
            if layer[e.target] < layer[e.source] + 1:
                layer[e.target], changed = layer[e.source] + 1, True
        if not changed:
            break
    last = max(layer.values())
    for n in graph.nodes:
        if n.kind in ("input", "const"):
            layer[n.id] = min((layer[e.target] for e in graph.edges if e.source == n.id),
                              default=1) - 1
        n.layer = last if n.kind == "output" else layer[n.id]


def _number(x) -> str:
    """A number as the graph prints it: integers plainly, others to 4 significant digits."""
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.4g}"


def staged_graph(staged, values: dict, grads: dict, branches: dict) -> TracedGraph:
    """The graph of derive's staged nodes, named as in its tables, with the values and
    gradients derive computed (no second trace or compilation). Integer and boolean operations
    (index arithmetic, masks) are data, not differentiated: folded into the node they feed, as
    an edge from what they were computed from; integer constants they read are left out."""
    data = {n.name for n in staged.nodes if not n.differentiable and n.op != "input"}
    kept = [n for n in staged.nodes if n.name not in data]
    users: dict[str, dict[str, None]] = {}  # a kept node -> the kept nodes that read it
    feeds: dict[str, dict[str, None]] = {}  # a folded node -> the kept nodes it stands for
    for node in reversed(staged.nodes):
        targets = feeds.get(node.name, {}) if node.name in data else {node.name: None}
        for ref in node.inputs:
            if isinstance(ref, str):
                into = feeds if ref in data else users
                into.setdefault(ref, {}).update(targets)
    graph = TracedGraph()
    ids = {n.name: f"n:{n.name}" for n in kept}  # prefixed: a user's name may be "out" or "copy"
    ids[None] = "out"
    kinds = {"input": "input", "const": "const"}
    for node in kept:
        graph.nodes.append(Node(ids[node.name], kinds.get(node.op, "op"), node.name
                                if node.op == "input" else "const" if node.op == "const"
                                else _staged_label(node)))
    graph.nodes.append(Node("out", "output", staged.output))
    for node in kept:
        value, total = np.asarray(values[node.name]), grads.get(node.name)
        targets = list(reversed(users.get(node.name, {})))  # in evaluation order
        if node.name == staged.output:
            targets.append(None)  # the output box
        source = ids[node.name]
        if len(targets) > 1:  # fan-out: a branch point, whose incoming edge carries the sum
            graph.nodes.append(Node(f"copy{len(graph.nodes)}", "copy", ""))
            graph.edges.append(Edge(source, graph.nodes[-1].id, node.name, value, total))
            source = graph.nodes[-1].id
        for target in targets:
            grad = total if len(targets) == 1 or target is None else branches.get(
                node.name, {}).get(target)
            name = staged.output if target is None else node.name if len(targets) == 1 else ""
            graph.edges.append(Edge(source, ids[target], name, value, grad))
        graph.values[node.name], graph.grads[node.name] = value, total
    graph.grads[staged.output] = np.float64(1.0)
    _assign_layers(graph)
    return graph


def _staged_label(node) -> str:
    """A staged operation's label, as _op_label writes an equation's: a number it reads inline."""
    label = SYMBOLS.get(node.op, node.op)
    if node.op == "integer_pow":
        label = f"^{node.eqn.params['y']}"
    literals = [_number(np.asarray(r.value).reshape(-1)[0]) for r in node.inputs
                if not isinstance(r, str) and np.size(r.value) == 1]
    if literals and node.op in ("add", "sub", "mul", "div", "max", "min"):
        first = not isinstance(node.inputs[0], str) and node.op in ("sub", "div")
        return f"{literals[0]} {label}" if first else f"{label} {literals[0]}"
    return label
