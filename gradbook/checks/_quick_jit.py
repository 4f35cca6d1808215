"""jax.jit for checks: compiled for a fast compile, not fast code (each runs at a few points).

XLA's CPU compiler spends most of its time on fusion emitters and LLVM optimisation, which a
function run at a handful of points never pays back: with them off, derive's one compiled
function (~500 equations) compiles in ~0.3 s instead of ~1.6 s. The arithmetic is the same
float64 IEEE operations; only code generation changes. Options this jaxlib does not know
are dropped (once, for the session) rather than failing the check.
"""
from __future__ import annotations

from .._float64 import jax

QUICK_COMPILE = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 0,
                 "xla_llvm_disable_expensive_passes": True}
_options = {"known": True}


def quick_jit(fn, **jit_kwargs):
    """fn under jax.jit with QUICK_COMPILE (plain jax.jit where this jaxlib refuses them)."""
    quick = jax.jit(fn, compiler_options=QUICK_COMPILE, **jit_kwargs)
    plain = jax.jit(fn, **jit_kwargs)

    def call(*args, **kwargs):
        if _options["known"]:
            try:
                return quick(*args, **kwargs)
            except jax.errors.JaxRuntimeError as error:
                if "compile option" not in str(error):
                    raise
                _options["known"] = False
            except ValueError as error:  # called inside another jit (vmapped): options are its
                if "compiler_options" not in str(error):
                    raise
        return plain(*args, **kwargs)

    return call
