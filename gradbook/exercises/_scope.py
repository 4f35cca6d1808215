"""An exercise's names bound for each backend: numbers at a point, symbols, or matrix symbols."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from ._bank import Exercise
from ._evaluate import JaxBackend, MatrixBackend, NumpyBackend, SymBackend, run
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


class ShapeReader:
    """The shapes of an exercise's formulas, from NumPy at a seeded point (for the parser)."""

    def __init__(self, ex: Exercise):
        self.ex = ex
        self._scopes: dict = {}

    def _scope(self, bump: bool):
        if bump not in self._scopes:
            sizes = dict(self.ex.sizes)
            if bump:
                sizes[self.ex.batch] = sizes[self.ex.batch] + 2
            point = self.ex.random_points(1, sizes, salt="shapes")[0]
            backend = NumpyBackend()
            env, fns = bind(self.ex, backend, _numpy_inputs(point), sizes)
            self._scopes[bump] = (backend, env, fns)
        return self._scopes[bump]

    def _value(self, tree, bump=False):
        backend, env, fns = self._scope(bump)
        try:
            return run(tree, backend, env, fns)
        except Exception:  # noqa: BLE001 - a formula that fails says so when it is judged
            return None

    def shape(self, tree) -> tuple | None:
        """The shape of the formula's value at the exercise's sizes, or None where it fails."""
        value = self._value(tree)
        return None if value is None or isinstance(value, tuple) else tuple(np.shape(value))

    def batch_axis(self, tree) -> int | None:
        """The one axis that grows with the batch size, or None (then a sum is over all)."""
        if not self.ex.batch or self.ex.batch not in self.ex.sizes:
            return None
        a, b = self.shape(tree), self._value(tree, bump=True)
        if a is None or b is None or np.ndim(b) != len(a):
            return None
        grown = [k for k, (m, n) in enumerate(zip(a, np.shape(b))) if m != n]
        return grown[0] if len(grown) == 1 else None


def _numpy_inputs(point: dict) -> dict:
    return {k: (v if isinstance(v, float) else np.asarray(v, dtype=np.float64))
            for k, v in point.items()}


def shape_reader(ex: Exercise) -> ShapeReader:
    """One ShapeReader per exercise (its scope is computed once)."""
    key = repr(ex.to_dict())
    if key not in _READERS:
        _READERS[key] = ShapeReader(ex)
    return _READERS[key]


_READERS: dict = {}


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
    """The shape of each defined value at the given sizes (found by evaluating once in NumPy)."""
    key = (repr(ex.to_dict()), sizes)
    if key not in _SHAPES:
        point = ex.random_points(1, dict(sizes), salt="shapes")[0]
        env, _ = bind(ex, NumpyBackend(), _numpy_inputs(point), dict(sizes))
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
