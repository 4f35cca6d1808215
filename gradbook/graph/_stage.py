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
from ._numpy_copies import numpy_copy
from ._rules import SUPPORTED, closed_jaxpr, function_name, rule_for
from ._trace import _bind

# Equations that only rename or retype a value: not nodes of their own.
ALIASES = {"name", "convert_element_type", "copy", "copy_p"}
CALLS = {"jit", "pjit", "closed_call", "core_call", "checkpoint", "remat", "remat2"}
CUSTOM = {"custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr"}
MAX_STEPS = 10_000  # a loop unrolled into more steps than this is refused


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
    step: tuple = ()         # inside unrolled loops: ((loop, step number), ...) outermost first
    branch: str = ""         # inside a cond: which branch the worked example took

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
    # each cond whose branch depends on the inputs: (its index node, the branch the worked
    # example takes, how many branches, its line); a point taking another branch is another function
    conds: list = field(default_factory=list)

    def same_branches(self, values: dict) -> bool:
        """Whether every cond takes, at the point whose node values are `values`, the branch
        the worked example takes (the only one staged)."""
        return all(int(np.clip(np.asarray(values[node.name]), 0, n - 1)) == k
                   for node, k, n, _ in self.conds)

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
    from ._inputs import flatten_example, trace

    example = flatten_example(f, at)  # pytrees cut into leaves named by path; integers stay data
    params, args = example.names, example.values
    closed = trace(example)
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
    (out,) = stager.run(closed.jaxpr, env)
    if isinstance(out, Constant):
        raise DeriveError(f"{f.__name__} returns a constant: there is nothing to differentiate")
    for old, new in (names or {}).items():
        if old not in {n.name for n in stager.nodes}:
            raise DeriveError(f"names= renames {old!r}, which is not a node "
                              f"(nodes: {', '.join(n.name for n in stager.nodes)})")
        stager.rename(old, new)
    stager.rename(stager.resolve(out), output)
    return Staged(stager.nodes, params, output, stager.conds)


class _Stager:
    def __init__(self, names: dict, expand: bool):
        self.nodes: list[Node] = []
        self.names, self.expand, self.count = names, expand, 0
        self.renamed: dict[str, str] = {}
        self.steps: list = []   # the loops being unrolled, and their step numbers
        self.branch = ""        # the cond being inlined, and the branch taken
        self.conds: list = []   # conds whose branch depends on the inputs (see Staged.conds)
        self.loops = 0

    def add(self, node: Node) -> str:
        node.step, node.branch = tuple(self.steps), self.branch
        self.nodes.append(node)
        return node.name

    def constant(self, value):
        """A constant: one number written in formulas, or an array node of its own."""
        value = np.asarray(value)
        if value.size <= 1 or (value == value.flat[0]).all():
            return Constant(value)
        return self.add(Node(self.fresh("c"), "const", value=value))

    def inline(self, closed, refs, line: str) -> list:
        """Stage a called jaxpr (a jitted helper, a loop body, a branch) on `refs`."""
        closed = closed_jaxpr(closed)
        env = dict(zip(closed.jaxpr.constvars, [self.constant(c) for c in closed.consts]))
        env.update(zip(closed.jaxpr.invars, refs))
        return self.run(closed.jaxpr, env, line)

    def glue(self, f, refs, line: str, made_by=None) -> list:
        """Stage a small jnp function on `refs` (a loop's slicing and stacking) as user code:
        its equations carry the source of `made_by` (the loop's equation), not gradbook's."""
        avals = [jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype) if x is not None else a
                 for x, a in ((r.value, None) if isinstance(r, Constant) else
                              (self.by(r).value if self.by(r).aval is None else None, self.by(r).aval)
                              for r in refs)]
        closed = jax.make_jaxpr(f)(*avals)
        if made_by is not None:
            closed = closed.replace(jaxpr=closed.jaxpr.replace(eqns=[
                e.replace(source_info=made_by.source_info) for e in closed.jaxpr.eqns]))
        return self.inline(closed, refs, line)

    def scan(self, eqn, refs, line: str) -> list:
        """lax.scan (and fori_loop with bounds known when traced), unrolled step by step."""
        p = eqn.params
        n, nc, ncarry = int(p["length"]), p["num_consts"], p["num_carry"]
        consts, carry, xs = refs[:nc], refs[nc:nc + ncarry], refs[nc + ncarry:]
        if n > MAX_STEPS:
            raise DeriveError(f"cannot derive the scan made at {line or 'an unknown line'}: "
                              f"{n} steps, more than {MAX_STEPS} unrolled")
        self.loops += 1
        ys = [[None] * n for _ in range(len(p["jaxpr"].jaxpr.outvars) - ncarry)]
        for t in (range(n - 1, -1, -1) if p["reverse"] else range(n)):
            self.steps.append((f"scan{self.loops}", t))
            x_t = [self.glue(lambda a, t=t: jax.lax.index_in_dim(a, t, 0, keepdims=False), [x], line, eqn)[0]
                   for x in xs]
            outs = self.inline(p["jaxpr"], consts + carry + x_t, line)
            self.steps.pop()
            carry = outs[:ncarry]
            for k, y in enumerate(outs[ncarry:]):
                ys[k][t] = y
        return carry + [self.glue(lambda *a: jnp.stack(a), y, line, eqn)[0] for y in ys]

    def while_loop(self, eqn, refs, line: str) -> list:
        """lax.while_loop: refused in one line, saying whether its number of steps depends on the
        data (found by unrolling it while its condition folds to a constant)."""
        p = eqn.params
        cc, bc = p["cond_nconsts"], p["body_nconsts"]
        cconsts, bconsts, carry = refs[:cc], refs[cc:cc + bc], refs[cc + bc:]
        self.loops += 1
        for t in range(MAX_STEPS + 1):
            (go,) = self.inline(p["cond_jaxpr"], cconsts + carry, line)
            if not isinstance(go, Constant):
                raise DeriveError(f"cannot derive the while loop made at {line or 'an unknown line'}: "
                                  "its number of steps depends on the data; loops whose trip count "
                                  "is known when traced (lax.scan, fori_loop with Python-int "
                                  "bounds) are unrolled")
            if not bool(go.value):  # unrolled; but jax.grad cannot check a while loop
                raise DeriveError(f"cannot derive the while loop made at {line or 'an unknown line'}: "
                                  f"it runs {t} steps, but JAX has no reverse-mode derivative of "
                                  "a while_loop to check the result against; write it as "
                                  f"lax.fori_loop(0, {t}, ...) with Python-int bounds, or lax.scan")
            self.steps.append((f"while{self.loops}", t))
            carry = self.inline(p["body_jaxpr"], bconsts + carry, line)
            self.steps.pop()
        raise DeriveError(f"cannot derive the while loop made at {line or 'an unknown line'}: "
                          f"more than {MAX_STEPS} steps")

    def cond(self, eqn, refs, line: str) -> list:
        """lax.cond and lax.switch: the branch the worked example takes, inlined (said so)."""
        index, *operands = refs
        branches = eqn.params["branches"]
        k = int(np.clip(np.asarray(self.concrete(index)), 0, len(branches) - 1))
        if not isinstance(index, Constant):  # the node objects: renamed later, still the same
            self.conds.append((self.by(index), k, len(branches), line))
        outer, self.branch = self.branch, (f"branch {k} of the cond at {line or '?'}, the one "
                                           "the worked example takes")
        outs = self.inline(branches[k], operands, line)
        self.branch = outer
        return outs

    def concrete(self, ref):
        """A reference's value at the worked example (to choose a cond's branch)."""
        if isinstance(ref, Constant):
            return ref.value
        from ._backward import forward

        inputs = [n.name for n in self.nodes if n.op == "input"]
        staged = Staged(list(self.nodes), inputs, ref)
        return forward(staged, {n.name: n.value for n in self.nodes if n.op == "input"})[ref]

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

    def run(self, jaxpr, env, line: str = "") -> list:
        """Stage every equation of `jaxpr`; return the references of its outputs.

        `line` is where the call being inlined was made, for operations JAX traced inside it.
        """
        for eqn in jaxpr.eqns:
            refs = [Constant(np.asarray(v.val)) if isinstance(v, Literal) else self.resolve(env[v])
                    for v in eqn.invars]
            prim = eqn.primitive.name
            if prim in ALIASES and len(refs) == 1 and _is_alias(eqn):
                env[eqn.outvars[0]] = refs[0]
                if prim == "name" and not isinstance(refs[0], Constant) and self.by(refs[0]).op != "input":
                    self.rename(refs[0], eqn.params["name"])
                continue
            if (prim in CALLS and (self.expand or not _elementwise_call(eqn))) or (
                    prim in CUSTOM and not _elementwise_call(eqn)):  # custom rule: its primal inlined
                inner = (eqn.params.get("jaxpr") or eqn.params.get("call_jaxpr")
                         or eqn.params.get("fun_jaxpr"))
                env.update(zip(eqn.outvars, self.inline(inner, refs, _user_line(eqn) or line)))
                continue
            if all(isinstance(r, Constant) for r in refs):  # arithmetic on constants only
                values = [r.value for r in refs]
                for var, value in zip(eqn.outvars, numpy_copy(eqn, values) or _bind(eqn, values)):
                    env[var] = self.constant(value)
                continue
            where = _user_line(eqn) or line
            if prim in LOOPS:
                env.update(zip(eqn.outvars, getattr(self, LOOPS[prim])(eqn, refs, where)))
                continue
            if len(eqn.outvars) != 1:
                raise DeriveError(_unsupported(prim, where, "it has several outputs"))
            rule = rule_for(eqn)
            if rule is None:
                raise DeriveError(_unsupported(prim, where))
            node = Node(self.fresh(), _op_name(eqn), refs, None, eqn, where, rule,
                        eqn.outvars[0].aval)
            env[eqn.outvars[0]] = self.add(node)
        return [Constant(np.asarray(out.val)) if isinstance(out, Literal) else self.resolve(env[out])
                for out in jaxpr.outvars]


LOOPS = {"scan": "scan", "while": "while_loop", "cond": "cond"}


def _is_alias(eqn) -> bool:
    """A conversion is an alias between floating types (or to its own type); to or from an
    integer or a boolean it is a node of its own, through which no gradient flows."""
    if eqn.primitive.name != "convert_element_type":
        return True
    old, new = np.dtype(eqn.invars[0].aval.dtype), np.dtype(eqn.params["new_dtype"])
    return old == new or (np.issubdtype(old, np.floating) and np.issubdtype(new, np.floating))


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
