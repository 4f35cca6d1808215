"""gradbook: backpropagation derivations proven with SymPy and checked against JAX.

`from gradbook import *` gives a derivation everything it uses. The names load lazily, so
that the build (gradbook.build) starts without importing JAX or SymPy.
"""
from importlib import import_module

_EXPORTS = {
    # symbolic proofs
    "prove_chain": "_symbolic", "prove_equal": "_symbolic",
    "derivative": "_symbolic", "evaluate": "_symbolic",
    # numeric checks
    "check_gradient": "_numeric", "check_vjp": "_numeric", "check_jacobian": "_numeric",
    "check_close": "_numeric", "check_that": "_numeric",
    "check_printed": "_printed", "check_shape": "_shapes", "rejects": "_rejection",
    # the ledger and a notebook's frame
    "verifies": "_report", "summary": "_report",
    "Ledger": "_ledger", "ClaimFailed": "_ledger", "use_ledger": "_ledger",
    "active_ledger": "_ledger", "load_catalog": "_catalog",
    "show": "_display", "show_figure": "_figures",
    # computational graphs drawn from the computation
    "draw_graph": "_drawing", "named": "_trace",
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
