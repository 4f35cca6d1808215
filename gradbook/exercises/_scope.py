"""An exercise's names bound for each backend: numbers at a point, symbols, or matrix symbols."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from ._bank import Exercise
from ._evaluate import JaxBackend, MatrixBackend, SymBackend, run
from ._parse import parse


@lru_cache(maxsize=None)
def _tree(text: str, known: frozenset):
    return parse(text, known).tree


def _known(ex: Exercise, extra=()) -> frozenset:
    return frozenset(ex.names() | ex.functions() | set(extra))


def bind(ex: Exercise, backend, inputs: dict, sizes: dict, atoms: dict | None = None):
    """(env, functions): inputs and sizes as given, definitions evaluated in order.

    `atoms` maps defined names to stand-in values (symbols) used instead of their definitions;
    a defined function named in `atoms` is an undefined SymPy function applied entrywise.
    """
    values, functions = ex.definitions()
    env = {**inputs, **sizes}
    fns = {}
    for name, (params, body) in functions.items():
        if atoms is not None and name in atoms:
            fns[name] = atoms[name]
            continue
        tree = _tree(body, _known(ex, params))

        def call(*args, _tree=tree, _params=params):
            return run(_tree, backend, {**env, **dict(zip(_params, args))}, fns)

        fns[name] = call
    for name, body in values.items():
        if atoms is not None and name in atoms:
            env[name] = atoms[name]
        else:
            env[name] = run(_tree(body, _known(ex)), backend, env, fns)
    return env, fns


def evaluate_at(ex: Exercise, text: str, point: dict):
    """A formula of the exercise, in float64 JAX, at a point."""
    env, fns = bind(ex, JaxBackend(), _jax_inputs(point), ex.sizes_at(point))
    return run(_tree(text, _known(ex)), JaxBackend(), env, fns)


def jax_scope(ex: Exercise, point: dict):
    """(env, functions) for JAX at a point."""
    return bind(ex, JaxBackend(), _jax_inputs(point), ex.sizes_at(point))


def _jax_inputs(point: dict) -> dict:
    from .._float64 import jnp

    return {k: (v if isinstance(v, float) else jnp.asarray(v, dtype=jnp.float64))
            for k, v in point.items()}


def loss_function(ex: Exercise):
    """The exercise's `of` as a JAX function of its inputs (in declaration order), for jax.grad."""
    names = list(ex.inputs)
    tree = _tree(ex.of, _known(ex))
    backend = JaxBackend()

    def f(*args, sizes):
        env, fns = bind(ex, backend, dict(zip(names, args)), sizes)
        value = run(tree, backend, env, fns)
        return backend.jnp.reshape(value, ()) if ex.kind == "grad" else value

    return f


def truth(ex: Exercise, point: dict) -> tuple:
    """What autodiff says the answer is at `point`: one array per name in `wrt` (or the Jacobian)."""
    from .._float64 import jax, jnp

    names = list(ex.inputs)
    args = [_jax_inputs(point)[n] for n in names]
    sizes = ex.sizes_at(point)
    f = loss_function(ex)
    argnums = tuple(names.index(w) for w in ex.wrt)
    if ex.kind == "grad":
        return tuple(jax.grad(lambda *a: f(*a, sizes=sizes), argnums=argnums)(*args))
    columns = jax.jacobian(lambda *a: f(*a, sizes=sizes), argnums=argnums)(*args)
    if len(columns) == 1:
        return (columns[0],)
    return (jnp.stack([jnp.asarray(c) for c in columns], axis=-1),)


# --- symbols ------------------------------------------------------------------------------

def symbol_array(name: str, shape: tuple):
    """A scalar symbol, or an object array of entry symbols x_1_2, all real."""
    if shape == ():
        return sp.Symbol(name, real=True)
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = sp.Symbol(f"{name}_{'_'.join(str(i + 1) for i in index)}", real=True)
    return out


def sympy_scope(ex: Exercise, sizes: dict, substitute: bool):
    """(env, functions) for SymPy, entry by entry: inputs are symbols; definitions are symbols
    of their own (substitute=False) or written out in terms of the inputs (substitute=True)."""
    specs = ex.input_specs()
    inputs = {n: symbol_array(n, spec.shape(sizes)) for n, spec in specs.items()}
    sym_sizes = {k: sp.Integer(v) for k, v in sizes.items()}
    atoms = None
    if not substitute:
        values, functions = ex.definitions()
        shapes = definition_shapes(ex, tuple(sorted(sizes.items())))
        atoms = {n: symbol_array(n, shapes[n]) for n in values}
        for name in functions:
            f = sp.Function(name, real=True)
            atoms[name] = lambda x, f=f: np.vectorize(f, otypes=[object])(x) \
                if isinstance(x, np.ndarray) else f(x)
    return bind(ex, SymBackend(), inputs, sym_sizes, atoms)


_SHAPES: dict = {}


def definition_shapes(ex: Exercise, sizes: tuple) -> dict:
    """The shape of each defined value at the given sizes (found by evaluating once in JAX)."""
    key = (repr(ex.to_dict()), sizes)
    if key not in _SHAPES:
        point = ex.random_points(1, dict(sizes), salt="shapes")[0]
        env, _ = bind(ex, JaxBackend(), _jax_inputs(point), dict(sizes))
        values, _ = ex.definitions()
        _SHAPES[key] = {n: tuple(np.shape(env[n])) for n in values}
    return _SHAPES[key]


def matrix_scope(ex: Exercise):
    """(env, functions) with matrix symbols of symbolic sizes for the 2-D inputs and scalars."""
    dims = {d: sp.Symbol(d, integer=True, positive=True) for d in ex.dims()}
    env = dict(dims)
    for name, spec in ex.input_specs().items():
        if spec.dims == ():
            env[name] = sp.Symbol(name, real=True)
        elif len(spec.dims) == 2:
            env[name] = sp.MatrixSymbol(name, *[dims.get(d, d) if isinstance(d, str) else d
                                               for d in spec.dims])
        # a 1-D input has no matrix symbol: an answer that uses it is proven entry by entry
    return env, {}


def matrix_backend():
    """The backend for matrix symbols."""
    return MatrixBackend()
