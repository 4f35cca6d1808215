"""gradbook: backpropagation derivations proven with SymPy and checked against JAX.

`from gradbook import *` gives a derivation everything it uses. The names load lazily, so
that the build (gradbook.build) starts without importing JAX or SymPy. Importing gradbook
switches JAX to float64 all the same, whether JAX is loaded already or only later.
"""
import os
import sys
from importlib import import_module

if "jax" in sys.modules:  # already loaded: switch it now
    sys.modules["jax"].config.update("jax_enable_x64", True)
else:  # JAX reads this when it is first imported, here or in a kernel the build starts
    os.environ["JAX_ENABLE_X64"] = "1"

_EXPORTS = {
    # symbolic proofs
    "prove_chain": "checks._symbolic", "prove_equal": "checks._symbolic",
    "derivative": "checks._symbolic", "evaluate": "checks._symbolic",
    # numeric checks
    "check_gradient": "checks._numeric", "check_vjp": "checks._numeric",
    "check_jacobian": "checks._numeric", "check_close": "checks._numeric",
    "check_that": "checks._numeric", "residual": "checks._residual",
    "check_printed": "checks._printed", "check_shape": "checks._shapes",
    "rejects": "checks._rejection",
    # the ledger and a notebook's frame
    "verifies": "checks._report", "summary": "checks._report",
    "Ledger": "checks._ledger", "ClaimFailed": "checks._ledger", "use_ledger": "checks._ledger",
    "active_ledger": "checks._ledger", "load_catalog": "checks._catalog",
    "declare_claim": "checks._report",
    "show": "_display", "show_figure": "_figures",
    # computational graphs drawn from the computation
    "draw_graph": "graph._drawing", "named": "graph._trace",
    # a forward function's backward pass, staged, derived and checked by machine
    "derive": "graph._derive", "erratum": "graph._derive",
    # exercises: declared in a derivation, graded in a student's notebook
    "exercise": "exercises._declare", "grade": "exercises._grader",
    # JAX, in float64
    "jax": "_float64", "jnp": "_float64",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gradbook' has no attribute {name!r}")
    value = getattr(import_module(f"gradbook.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
