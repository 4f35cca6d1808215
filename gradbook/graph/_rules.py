"""What each primitive means to SymPy: the formula a node computes, from which its local
derivatives are derived (never looked up), and how its gradient flows back numerically.

Four kinds of node:
- elementwise: one scalar formula applied to every element (add, exp, max, where, relu, ...);
  its local derivatives are SymPy's derivatives of that formula.
- dot: a vector or matrix product; its gradients come from SymPy's matrix calculus on
  tr(Ḡᵀ·A·B), which gives ∂/∂A = Ḡ·Bᵀ and ∂/∂B = Aᵀ·Ḡ.
- sum, max (and min), prod: reductions; each summed element has derivative 1, the maximal
  one 1 (at a tie, JAX's convention: see TIES), a product's factor the product of the others.
- copy: an index map, where every output element is one input element or a constant:
  broadcast, reshape, transpose, slice, concatenate, stack, pad, rev, dynamic_slice,
  dynamic_update_slice, gather, scatter. The map is found by applying the operation to the
  elements' numbers (0, 1, 2, ...); each copied element has derivative 1, so the gradient is
  summed back along the same map.
- scatter_add: x.at[i].add(u): x passes through (derivative 1), and each element of u is added
  to the one element the indices name (derivative 1), so its gradient is read back from there.
- window: reduce_window sum/max/min and cumsum/cumprod/cummax/cummin: each output element
  reduces a window of input elements, found from the window's shape, strides, padding and dilations.
- conv: conv_general_dilated, written as patches of the input (an index map) times the kernel
  (a matrix product per feature group), so SymPy's matrix calculus gives both rules.
- stop, data: stop_gradient and conversions to or from integers or booleans, argmax and
  argmin: no gradient flows through them (derivative 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ._trace import call_name

# primitive -> scalar formula of its (SymPy) arguments and equation parameters
SCALAR = {
    "add": lambda a, b, p: a + b, "sub": lambda a, b, p: a - b, "mul": lambda a, b, p: a * b,
    "div": lambda a, b, p: a / b, "neg": lambda a, p: -a, "exp": lambda a, p: sp.exp(a),
    "log": lambda a, p: sp.log(a), "log1p": lambda a, p: sp.log(1 + a),
    "tanh": lambda a, p: sp.tanh(a), "logistic": lambda a, p: 1 / (1 + sp.exp(-a)),
    "sin": lambda a, p: sp.sin(a), "cos": lambda a, p: sp.cos(a), "sqrt": lambda a, p: sp.sqrt(a),
    "rsqrt": lambda a, p: 1 / sp.sqrt(a), "square": lambda a, p: a ** 2,
    "integer_pow": lambda a, p: a ** int(p["y"]), "pow": lambda a, b, p: a ** b,
    "abs": lambda a, p: sp.Abs(a), "max": lambda a, b, p: sp.Max(a, b),
    "min": lambda a, b, p: sp.Min(a, b), "expm1": lambda a, p: sp.exp(a) - 1,
    # comparisons make the conditions that select_n (jnp.where) chooses by
    "gt": lambda a, b, p: sp.Gt(a, b), "lt": lambda a, b, p: sp.Lt(a, b),
    "ge": lambda a, b, p: sp.Ge(a, b), "le": lambda a, b, p: sp.Le(a, b),
    "eq": lambda a, b, p: sp.Eq(a, b), "ne": lambda a, b, p: sp.Ne(a, b),
    "not": lambda a, p: sp.Not(a), "and": lambda a, b, p: sp.And(a, b),
    "or": lambda a, b, p: sp.Or(a, b), "sign": lambda a, p: sp.sign(a),
    "is_finite": lambda a, p: sp.Lt(sp.Abs(a), sp.oo),
    "erf": lambda a, p: sp.erf(a), "erfc": lambda a, p: sp.erfc(a),
    "tan": lambda a, p: sp.tan(a), "atan": lambda a, p: sp.atan(a),
    "sinh": lambda a, p: sp.sinh(a), "cosh": lambda a, p: sp.cosh(a),
    "asinh": lambda a, p: sp.asinh(a), "atan2": lambda a, b, p: sp.atan2(a, b),
    "asin": lambda a, p: sp.asin(a), "acos": lambda a, p: sp.acos(a),
    "atanh": lambda a, p: sp.atanh(a), "acosh": lambda a, p: sp.acosh(a),
    "exp2": lambda a, p: 2 ** a, "cbrt": lambda a, p: sp.cbrt(a),
    # clamp(lo, x, hi): x held between lo and hi
    "clamp": lambda lo, a, hi, p: sp.Min(sp.Max(a, lo), hi),
}
INDEX_MAPS = {"broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims", "slice",
              "concatenate", "stack", "pad", "rev", "dynamic_slice", "dynamic_update_slice",
              "gather", "scatter"}
WINDOWS = {"reduce_window_sum": "sum", "reduce_window_max": "max", "reduce_window_min": "min",
           "cumsum": "sum", "cummax": "max", "cummin": "min", "cumprod": "prod"}
STRUCTURAL = {"dot_general": "dot", "reduce_sum": "sum", "reduce_max": "max",
              "reduce_min": "max", "reduce_prod": "prod", "scatter-add": "scatter_add",
              "conv_general_dilated": "conv", "stop_gradient": "stop", "argmax": "data",
              "argmin": "data", "convert_element_type": "convert",
              **{p: "copy" for p in INDEX_MAPS},
              **{p: "window" for p in WINDOWS}}
# Handled while staging: iota is folded to a constant, calls are inlined, scans unrolled, a
# cond's branch taken (a while loop is refused: JAX cannot check it in reverse mode).
STAGED = {"iota", "convert_element_type", "custom_jvp_call", "custom_vjp_call", "scan", "cond"}
SUPPORTED = set(SCALAR) | {"select_n"} | set(STRUCTURAL) | STAGED
# The slope at a tie of a max-like operation, as JAX's own derivative rule sets it; derive
# checks each against jax.grad at ties it constructs (see _ties). Elementwise ones give
# Heaviside's value at 0 in the node's SymPy slope: max(a, b) at a = b gives each side 1/2
# (SymPy's own value), lax.clamp at either bound 0 to all three operands, jax.nn.relu 0 at 0
# (notebook 06 states it), abs 1 at 0 (its slope sign(u) computed as 2·Heaviside(u) - 1).
# Reductions: "share" (tied elements share the slope equally), "first" (the first tied
# element of a window takes it), "pairwise" (cummax, cummin: the product of the slopes of the
# pairwise maxima of JAX's parallel prefix scan, each 1/2 at a tie).
TIES = {"max": sp.S.Half, "min": sp.S.Half, "clamp": 0, "relu": 0, "abs": 1,
        "reduce_max": "share", "reduce_min": "share",
        "reduce_window_max": "first", "reduce_window_min": "first",
        "cummax": "pairwise", "cummin": "pairwise"}
# Kept a node of its own, not folded into a jitted helper's formula: clamp's slope at its
# bounds (0) is not the 1/2 SymPy's Heaviside gives the helper's other maxima and minima.
# (abs inside a plain jitted helper takes abs's slope 1 at 0, as JAX differentiates it; inside a
# custom-derivative function, such as softplus's logaddexp, JAX's rule is the function's own,
# which SymPy's sign(0) = 0 matches there; the tie check compares each helper with JAX.)
OWN_NODE = {"clamp"}
TIE_WORDS = {
    "share": "tied elements share the slope equally",
    "first": "the first of tied elements in a window takes the slope",
    "pairwise": "JAX differentiates it as a parallel prefix scan of pairwise maxima (minima), "
                "each splitting its slope 1/2 : 1/2 at a tie, so tied elements get 1/2, 1/4, ...",
}


def tie_words(name: str) -> str:
    """The tie convention of an operation, in words, for the page."""
    tie = TIES[name]
    if tie in TIE_WORDS:
        return f"at a tie of {name}, {TIE_WORDS[tie]} (JAX's convention)"
    if name in ("max", "min"):
        return f"at a tie of {name} each side gets slope {tie} (JAX's convention)"
    where = {"clamp": "at either bound, for all three operands",
             "relu": "at 0, the convention notebook 06 states",
             "abs": "at 0 (not sign(0) = 0)"}.get(name, "at its kink")
    return f"{name} has slope {tie} {where} (its own derivative rule in JAX)"


@dataclass(frozen=True)
class Rule:
    """How a node is written and differentiated: its kind, and its scalar formula if any."""

    kind: str
    template: object = None  # for elementwise: function(list of SymPy args) -> expression
    kink: object = None      # Heaviside's value at 0 for this node's kinks (TIES; None: SymPy's 1/2)
    inner_abs: bool = False  # a plain jitted helper: JAX differentiates its |u| by abs's own rule


def rule_for(eqn) -> Rule | None:
    """The rule for one equation, or None when SymPy cannot write it."""
    prim = eqn.primitive.name
    if prim in STRUCTURAL:
        return Rule(STRUCTURAL[prim])
    if prim in SCALAR or prim == "select_n":
        return Rule("elementwise", lambda args, eqn=eqn: scalar_formula(eqn, args),
                    kink=TIES.get(prim))
    inner = eqn.params.get("call_jaxpr") or eqn.params.get("jaxpr") or eqn.params.get("fun_jaxpr")
    if inner is None or not _scalar_only(closed_jaxpr(inner).jaxpr):
        return None
    inner = closed_jaxpr(inner)
    return Rule("elementwise", lambda args, inner=inner: compose(inner, args),
                kink=TIES.get(function_name(eqn)), inner_abs=not _has_custom_rule(eqn))


def closed_jaxpr(inner):
    """A called function's jaxpr with its constants (jax.checkpoint's has none of its own)."""
    from jax.extend.core import ClosedJaxpr

    return inner if hasattr(inner, "consts") else ClosedJaxpr(inner, [])


def function_name(eqn) -> str:
    """What a call node is called in the tables: its function's name (relu), or the primitive's."""
    prim = eqn.primitive.name
    return str(call_name(eqn, prim)).strip("_") or prim


def scalar_formula(eqn, args):
    """The SymPy formula of one elementwise equation applied to `args`."""
    prim = eqn.primitive.name
    if prim == "select_n":  # select_n(which, case0, case1, ...): case k where which == k
        which, *cases = args
        if len(cases) == 2 and isinstance(which, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)):
            return sp.Piecewise((cases[1], which), (cases[0], True))
        return sp.Piecewise(*[(c, sp.Eq(which, k)) for k, c in enumerate(cases[:-1])],
                            (cases[-1], True))
    return SCALAR[prim](*args, eqn.params)


def compose(closed, args):
    """A jaxpr of elementwise operations, written as one SymPy formula of its inputs."""
    jaxpr = closed.jaxpr
    env = dict(zip(jaxpr.constvars, [_number(c) for c in closed.consts]))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        vals = [_number(v.val) if _is_literal(v) else env[v] for v in eqn.invars]
        prim = eqn.primitive.name
        if prim in ("convert_element_type", "copy", "copy_p", "name", "broadcast_in_dim",
                    "reshape", "squeeze", "expand_dims"):
            out = as_number(vals[0]) if prim == "convert_element_type" else vals[0]
        elif prim in ("jit", "pjit", "closed_call", "custom_jvp_call", "custom_vjp_call"):
            out = compose(eqn.params.get("jaxpr") or eqn.params.get("call_jaxpr"), vals)
        else:
            out = scalar_formula(eqn, vals)
        env[eqn.outvars[0]] = out
    out = jaxpr.outvars[0]
    return _number(out.val) if _is_literal(out) else env[out]


def as_number(value):
    """A condition used as a number (bool to float): 1 where it holds, else 0."""
    if isinstance(value, (sp.logic.boolalg.BooleanFunction, sp.core.relational.Relational)):
        return sp.Piecewise((1, value), (0, True))  # (a Symbol is a Boolean to SymPy too: not here)
    return sp.Integer(int(bool(value))) if value in (sp.true, sp.false) else value


def _has_custom_rule(eqn) -> bool:
    """Whether JAX differentiates part of this call by a custom rule (custom_jvp/vjp inside)."""
    if "custom" in eqn.primitive.name:
        return True
    inner = eqn.params.get("jaxpr") or eqn.params.get("call_jaxpr")
    return inner is not None and any(_has_custom_rule(e) for e in closed_jaxpr(inner).jaxpr.eqns)


def _scalar_only(jaxpr) -> bool:
    """Whether every operation inside is elementwise (so the call is one formula)."""
    for eqn in jaxpr.eqns:
        prim = eqn.primitive.name
        if prim in OWN_NODE:
            return False
        if prim in SCALAR or prim in ("select_n", "convert_element_type", "copy", "copy_p", "name"):
            continue
        if prim in ("broadcast_in_dim", "reshape", "squeeze", "expand_dims") and all(
                _size(v) == 1 for v in eqn.invars):
            continue  # a scalar made into an array of one value: still elementwise
        inner = eqn.params.get("jaxpr") or eqn.params.get("call_jaxpr")
        if inner is not None and len(eqn.outvars) == 1 and _scalar_only(closed_jaxpr(inner).jaxpr):
            continue
        return False
    return len(jaxpr.outvars) == 1


def _size(v) -> int:
    shape = getattr(getattr(v, "aval", None), "shape", ())
    size = 1
    for d in shape:
        size *= int(d)
    return size


def _is_literal(v) -> bool:
    from jax.extend.core import Literal

    return isinstance(v, Literal)


def _number(value):
    """A literal as SymPy writes it: the exact rational its shortest decimal repr means
    (0.05 -> 1/20, not 0.05000000000000000277), so proofs compare exact numbers."""
    import numpy as np

    x = np.asarray(value)
    if x.size != 1 and not (x == x.flat[0]).all():
        raise ValueError("an array constant inside an elementwise formula")
    x = x.flat[0].item()
    if isinstance(x, float) and not np.isfinite(x):
        return sp.nan if np.isnan(x) else (sp.oo if x > 0 else -sp.oo)
    if isinstance(x, bool):
        return sp.true if x else sp.false
    if float(x) == int(x) and abs(x) < 1e15:
        return sp.Integer(int(x))
    return sp.Rational(repr(float(x)))
