"""The worked example's inputs: any pytree of arrays, cut into leaves named by their path.

A loss is called as the user wrote it (`loss(params, x, y)` with `params` a dict, a list, a
tuple or a named tuple of arrays); derive sees one input per leaf, named by the path to it:
`params.W1` (a dict key or attribute), `params.layers[0].W` (a list or tuple position),
`params["a key"]` (a key that is not a Python name). The same names are used in the tables,
in `wrt=`, in `printed=` and in the ledger.

Which leaves are differentiated follows their type: a Python number or a floating array is a
worked-example number (float64); an integer or boolean array (labels, indices, masks) and a
Python bool are data, kept as they are and never differentiated.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from .._float64 import jax


@dataclass(frozen=True)
class Example:
    """The example's leaves in order, and the function that takes them one argument each."""

    function: object      # flat(*leaves) = f(*the pytrees rebuilt from them)
    names: list[str]      # one per leaf, by its path
    values: list          # float64 arrays, or integer/boolean arrays (data)

    @property
    def floating(self) -> list[str]:
        """The leaves that are differentiated by default: the floating ones."""
        return [n for n, v in zip(self.names, self.values) if is_floating(v)]

    def by_name(self) -> dict:
        return dict(zip(self.names, self.values))


def flatten_example(f, at: dict) -> Example:
    """Match `at` to f's parameters, and cut each argument into named, typed leaves."""
    from ._stage import DeriveError

    params = list(inspect.signature(f).parameters)
    missing = [p for p in params if p not in at]
    extra = [k for k in at if k not in params]
    if missing or extra:
        raise DeriveError(f"the example does not match {f.__name__}{tuple(params)}: "
                          + "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                                    extra and f"unknown {', '.join(extra)}"])))
    pairs, treedef = jax.tree_util.tree_flatten_with_path([_numbers_as_array(at[p]) for p in params])
    names, values = [], []
    for path, leaf in pairs:
        names.append(params[path[0].idx] + "".join(_part(k) for k in path[1:]))
        try:
            values.append(leaf_value(leaf))
        except (TypeError, ValueError):
            raise DeriveError(f"{names[-1]} = {leaf!r} in the example is not a number or an "
                              "array of numbers") from None
    if not names:
        raise DeriveError(f"the example for {f.__name__} has no numbers to differentiate")

    def flat(*leaves):
        return f(*jax.tree_util.tree_unflatten(treedef, leaves))

    flat.__name__, flat.__qualname__ = f.__name__, getattr(f, "__qualname__", f.__name__)
    flat.__wrapped__ = f  # so inspect.getsource shows the user's own function
    return Example(flat, names, values)


def trace(example: Example):
    """The jaxpr of the function at the example; an error it raises there becomes one line."""
    from ._stage import DeriveError

    try:
        return jax.make_jaxpr(example.function)(*example.values)
    except DeriveError:
        raise
    except Exception as error:  # the user's code failed at the example: say where, in one line
        raise DeriveError(f"{example.function.__name__} fails at the example"
                          f"{_user_frame(error)}: {one_line(error)}") from None


def _numbers_as_array(value):
    """A (nested) list of plain numbers, `w=[0.3, -0.7]`, is one array, as the README and the
    CLI's --at write vectors; lists and tuples that hold arrays or dicts stay pytrees."""
    def numbers(v):
        if isinstance(v, list):
            return all(numbers(x) for x in v)
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if isinstance(value, list) and value and numbers(value):
        try:
            return np.asarray(value, dtype=np.float64)
        except ValueError:  # ragged: leave it a pytree
            return value
    return value


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _user_frame(error: BaseException) -> str:
    """ ", made at file.py:LINE" for the innermost frame of the user's code in a traceback."""
    import traceback

    ours = ("/jax/", "/jaxlib/", "/gradbook/", "/numpy/", "/sympy/")
    frames = [fr for fr in traceback.extract_tb(error.__traceback__)
              if not any(part in fr.filename.replace("\\", "/") for part in ours)]
    if not frames:
        return ""
    return f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})"


def leaf_value(leaf):
    """One leaf as derive computes with it: float64, or kept integer/boolean as data."""
    if isinstance(leaf, bool) or (hasattr(leaf, "dtype") and not is_floating(leaf)):
        return np.asarray(leaf)
    return np.asarray(leaf, dtype=np.float64)


def is_floating(value) -> bool:
    """Whether a leaf is a worked-example number (differentiated), not data."""
    return np.issubdtype(np.asarray(value).dtype, np.floating)


def _part(key) -> str:
    """One step of a leaf's path: .name for a key or attribute that is a name, [i] otherwise."""
    tu = jax.tree_util
    if isinstance(key, tu.SequenceKey):
        return f"[{key.idx}]"
    if isinstance(key, tu.GetAttrKey):
        return f".{key.name}"
    if isinstance(key, tu.DictKey):
        k = key.key
        return f".{k}" if isinstance(k, str) and k.isidentifier() else f"[{k!r}]"
    return f"[{getattr(key, 'key', key)}]"


def matches(name: str, prefix: str) -> bool:
    """Whether leaf `name` is `prefix` or lies under it (wrt="params" means every params leaf)."""
    return name == prefix or name.startswith(prefix + ".") or name.startswith(prefix + "[")


__all__ = ["Example", "flatten_example", "is_floating", "leaf_value", "matches", "one_line", "trace"]
