"""Staging: a JAX function at a worked example, cut into named nodes in evaluation order.

Each node is one primitive operation of the function's jaxpr (or one jitted helper or one
function with a custom derivative, such as jax.nn.relu), with the names of the nodes it reads,
its shape, and the line of the user's function it came from. Values are computed afterwards,
all at once (see _backward.forward).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np
from jax.extend.core import Literal

from .._float64 import jax, jnp
from ._rules import SUPPORTED, function_name, rule_for
from ._trace import _bind

# Equations that only rename or retype a value: not nodes of their own.
ALIASES = {"name", "convert_element_type", "copy", "copy_p"}
CALLS = {"jit", "pjit", "closed_call", "core_call"}
CUSTOM = {"custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr"}


class DeriveError(ValueError):
    """The function cannot be derived as written: the message names the operation and line."""


@dataclass
class Node:
    """One staged value: an input, a constant, or an operation on earlier nodes."""

    name: str
    op: str
    inputs: list = field(default_factory=list)  # names of nodes, or Constant
    value: np.ndarray | None = None  # inputs and constants only: operations' come from forward()
    eqn: object = None       # the jaxpr equation that computes it (None for inputs)
    line: str = ""           # "loss.py:12" where the user's code made it
    rule: object = None      # how SymPy writes it and differentiates it (see _rules)
    aval: object = None      # its shape and dtype, known before its value is computed

    @property
    def shape(self) -> tuple:
        return tuple(self.aval.shape) if self.aval is not None else tuple(np.shape(self.value))

    @property
    def differentiable(self) -> bool:
        dtype = self.aval.dtype if self.aval is not None else np.asarray(self.value).dtype
        return np.issubdtype(dtype, np.floating)


@dataclass(frozen=True)
class Constant:
    """A number written into the function (a literal or an array it closes over)."""

    value: np.ndarray


@dataclass
class Staged:
    """The nodes of one function at one point, and which of them are inputs and output."""

    nodes: list[Node]
    inputs: list[str]
    output: str

    def __getitem__(self, name: str) -> Node:
        return self.by_name[name]

    @property
    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    @property
    def scalar(self) -> bool:
        """Whether every value is a scalar (then SymPy proves the whole closed form)."""
        return all(n.shape == () for n in self.nodes)

    def consumers(self, name: str) -> list[tuple[Node, int]]:
        """Every (node, input position) that reads `name`, in evaluation order."""
        return [(n, i) for n in self.nodes for i, ref in enumerate(n.inputs) if ref == name]


def stage(f, at: dict, *, names: dict | None = None, output: str = "f",
          expand: bool = False) -> Staged:
    """Trace `f` at the example `at` (parameter name -> value) and cut it into nodes."""
    params = list(inspect.signature(f).parameters)
    missing = [p for p in params if p not in at]
    extra = [k for k in at if k not in params]
    if missing or extra:
        raise DeriveError(f"the example does not match {f.__name__}{tuple(params)}: "
                          + "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                                    extra and f"unknown {', '.join(extra)}"])))
    args = [jnp.asarray(at[p], dtype=jnp.float64) for p in params]
    closed = jax.make_jaxpr(f)(*args)
    if len(closed.out_avals) != 1 or tuple(closed.out_avals[0].shape) != ():
        shapes = [tuple(a.shape) for a in closed.out_avals]
        raise DeriveError(f"{f.__name__} must return one scalar (a loss); it returns shape(s) {shapes}")
    stager = _Stager(dict(names or {}), expand)
    env = {}
    for var, name, value in zip(closed.jaxpr.invars, params, args):
        env[var] = stager.add(Node(name, "input", value=np.asarray(value)))
    for var, value in zip(closed.jaxpr.constvars, closed.consts):
        value = np.asarray(value)  # an array the function closes over: a node of its own
        env[var] = Constant(value) if value.size == 1 else stager.add(
            Node(stager.fresh("c"), "const", value=value))
    out = stager.run(closed.jaxpr, env)
    if isinstance(out, Constant):
        raise DeriveError(f"{f.__name__} returns a constant: there is nothing to differentiate")
    for old, new in (names or {}).items():
        if old not in {n.name for n in stager.nodes}:
            raise DeriveError(f"names= renames {old!r}, which is not a node "
                              f"(nodes: {', '.join(n.name for n in stager.nodes)})")
        stager.rename(old, new)
    stager.rename(stager.resolve(out), output)
    return Staged(stager.nodes, params, output)


class _Stager:
    def __init__(self, names: dict, expand: bool):
        self.nodes: list[Node] = []
        self.names, self.expand, self.count = names, expand, 0
        self.renamed: dict[str, str] = {}

    def add(self, node: Node) -> str:
        self.nodes.append(node)
        return node.name

    def fresh(self, prefix: str = "v") -> str:
        taken = {n.name for n in self.nodes} | set(self.names.values())
        while True:
            self.count += 1
            if f"{prefix}{self.count}" not in taken:
                return f"{prefix}{self.count}"

    def rename(self, old: str, new: str) -> None:
        if old == new:
            return
        if any(n.name == new for n in self.nodes):
            raise DeriveError(f"the name {new!r} is used twice (an input or named value, and the output)")
        for n in self.nodes:
            n.name = new if n.name == old else n.name
            n.inputs = [new if ref == old else ref for ref in n.inputs]
        self.renamed[old] = new

    def resolve(self, ref):
        """A reference after renames (named() renames a node after its users saw the old name)."""
        while isinstance(ref, str) and ref in self.renamed:
            ref = self.renamed[ref]
        return ref

    def by(self, name: str) -> Node:
        return next(n for n in reversed(self.nodes) if n.name == name)

    def run(self, jaxpr, env, line: str = ""):
        """Stage every equation of `jaxpr`; return the reference of its (single) output.

        `line` is where the call being inlined was made, for operations JAX traced inside it.
        """
        for eqn in jaxpr.eqns:
            refs = [Constant(np.asarray(v.val)) if isinstance(v, Literal) else self.resolve(env[v])
                    for v in eqn.invars]
            prim = eqn.primitive.name
            if prim in ALIASES and len(refs) == 1:
                env[eqn.outvars[0]] = refs[0]
                if prim == "name" and not isinstance(refs[0], Constant) and self.by(refs[0]).op != "input":
                    self.rename(refs[0], eqn.params["name"])
                continue
            if prim in CALLS and (self.expand or not _elementwise_call(eqn)):
                inner = eqn.params.get("jaxpr") or eqn.params.get("call_jaxpr")
                inner_env = dict(zip(inner.jaxpr.constvars,
                                     [Constant(np.asarray(c)) for c in inner.consts]))
                inner_env.update(zip(inner.jaxpr.invars, refs))
                env[eqn.outvars[0]] = self.run(inner.jaxpr, inner_env, _user_line(eqn) or line)
                continue
            if all(isinstance(r, Constant) for r in refs):  # arithmetic on constants only
                value = np.asarray(_bind(eqn, [r.value for r in refs])[0])
                env[eqn.outvars[0]] = (Constant(value) if value.size <= 1 or (value == value.flat[0]).all()
                                       else self.add(Node(self.fresh("c"), "const", value=value)))
                continue
            where = _user_line(eqn) or line
            if len(eqn.outvars) != 1:
                raise DeriveError(_unsupported(prim, where, "it has several outputs"))
            rule = rule_for(eqn)
            if rule is None:
                raise DeriveError(_unsupported(prim, where))
            node = Node(self.fresh(), _op_name(eqn), refs, None, eqn, where, rule,
                        eqn.outvars[0].aval)
            env[eqn.outvars[0]] = self.add(node)
        out = jaxpr.outvars[0]
        return Constant(np.asarray(out.val)) if isinstance(out, Literal) else self.resolve(env[out])


def _elementwise_call(eqn) -> bool:
    """A jitted helper is kept as one node when SymPy can write it as one elementwise formula."""
    return rule_for(eqn) is not None


def _op_name(eqn) -> str:
    prim = eqn.primitive.name
    return function_name(eqn) if prim in CALLS or prim in CUSTOM else prim


def _user_line(eqn) -> str:
    """file:line of the user's code that made this equation (JAX's own frames skipped)."""
    from jax._src import source_info_util

    frame = source_info_util.user_frame(eqn.source_info.traceback)
    if frame is None:
        return ""
    return f"{frame.file_name.rsplit('/', 1)[-1]}:{frame.start_line}"


def _unsupported(prim: str, where: str, why: str = "") -> str:
    return (f"cannot derive the operation {prim!r}" + (f" ({why})" if why else "")
            + (f", made at {where}" if where else "")
            + f"; supported: {', '.join(sorted(SUPPORTED))}, jitted helpers, and "
              "functions with a custom derivative built from these")
