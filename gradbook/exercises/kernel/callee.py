"""A separate process that calls a student's function answer at the points the grader sends.

Started by the grader (`python -I callee.py`, in the sandbox where there is one); it imports
nothing of gradbook and no autodiff is within its reach: the student's source runs with a
small set of builtins (no import, open, eval or exec) and only these modules, under the names
the student gave them: numpy, math, jax.numpy, jax.nn, jax.scipy.special and scipy.special
(`jax` itself is a namespace holding only numpy, nn and scipy). Protocol, one JSON object a
line: first the function record, answered by {"ready": true} or {"error": ...}; then
{"args": [...]} per call, answered by {"value": ...} or {"error": "TypeName: message"}.
"""
import builtins
import json
import math
import sys
import types

SAFE_BUILTINS = ("abs", "all", "any", "bool", "dict", "divmod", "enumerate", "float", "int",
                 "isinstance", "len", "list", "map", "max", "min", "pow", "range", "reversed",
                 "round", "slice", "sorted", "sum", "tuple", "zip", "True", "False", "None",
                 "ArithmeticError", "Exception", "IndexError", "KeyError", "TypeError",
                 "ValueError", "ZeroDivisionError")
MODULES = ("numpy", "math", "jax.numpy", "jax.nn", "jax.scipy.special", "scipy.special", "jax")


def _module(name):
    """One of the allowed modules; `jax` is a namespace without autodiff."""
    if name == "math":
        return math
    if name == "numpy":
        import numpy
        return numpy
    if name == "scipy.special":
        import scipy.special
        return scipy.special
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.nn
    import jax.numpy
    import jax.scipy.special
    if name == "jax.numpy":
        return jax.numpy
    if name == "jax.nn":
        return jax.nn
    if name == "jax.scipy.special":
        return jax.scipy.special
    return types.SimpleNamespace(numpy=jax.numpy, nn=jax.nn,
                                 scipy=types.SimpleNamespace(special=jax.scipy.special))


def _loaded_only(name, globals=None, locals=None, fromlist=(), level=0):
    """__import__ for modules already loaded, as the libraries' own C code asks for them."""
    if level or name not in sys.modules:
        raise ImportError(f"import of {name} is not allowed in a graded function")
    return builtins.__import__(name, globals, locals, fromlist, level)


def load(record):
    """The student's function, defined from its source with its helpers, values and modules."""
    for name, module in record["modules"].items():
        if module not in MODULES:
            raise ImportError(f"the function uses {name} (module {module}), which is not loaded "
                              f"here; use {', '.join(MODULES[:-1])}")
    safe = {k: getattr(builtins, k) for k in SAFE_BUILTINS}
    safe["__import__"] = _loaded_only  # C code (numpy, JAX) imports through the caller's builtins
    namespace = {"__builtins__": safe}
    namespace.update({name: _module(module) for name, module in record["modules"].items()})
    namespace.update(record["values"])
    for source in list(record["helpers"].values()) + [record["source"]]:
        exec(compile(source, "<the student's function>", "exec"), namespace)  # noqa: S102
    function = namespace.get(record["name"])
    if not callable(function):
        raise NameError(f"no function {record['name']} in the source handed over")
    return function


def encode(value):
    """A result as JSON: a tuple of parts, or one array (shape and flat float64 data)."""
    import numpy

    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    try:
        array = numpy.asarray(value, dtype=numpy.float64)
    except (TypeError, ValueError):
        if isinstance(value, list):
            return {"tuple": [encode(v) for v in value]}
        raise
    return {"shape": list(array.shape), "data": [float(x) for x in array.ravel()]}


def decode(data):
    import numpy

    array = numpy.asarray(data["data"], dtype=numpy.float64).reshape(data["shape"])
    return float(array) if array.ndim == 0 else array


def main():
    sys.setrecursionlimit(2000)
    out = sys.stdout
    function = None
    for line in sys.stdin:
        message = json.loads(line)
        try:
            if function is None:
                function = load(message)
                reply = {"ready": True}
            else:
                reply = {"value": encode(function(*[decode(a) for a in message["args"]]))}
        except BaseException as error:  # noqa: BLE001 - the student's code may raise anything
            text = str(error).splitlines()[0] if str(error) else ""
            reply = {"error": f"{type(error).__name__}: {text}"[:500]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
