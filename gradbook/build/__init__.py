"""The build: derivation sources converted, executed in kernels, cached, and checked.

Importing it loads neither JAX nor SymPy, so a no-op rebuild stays fast.
"""
from ._build import Options, Outcome, UsageError, build

__all__ = ["Options", "Outcome", "UsageError", "build"]
