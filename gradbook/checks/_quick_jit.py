"""jax.jit for checks: compiled for a fast compile, not fast code (each runs at a few points).

XLA's CPU compiler spends most of its time on fusion emitters and LLVM optimisation, which a
function run at a handful of points never pays back: with them off, derive's one compiled
function (~500 equations) compiles in ~0.4 s instead of ~1.6 s. The arithmetic is the same
float64 IEEE operations; only code generation changes. Options this jaxlib does not know
are dropped (once, for the session) rather than failing the check.
"""
from __future__ import annotations

import os

from .._float64 import jax

# LLVM code generation split into one part per core (at most 8) rather than XLA's default
# split: each part has its own set-up, and on 2 cores derive's function then compiled in
# 0.37-0.46 s instead of 0.56-0.59 s, to identical numbers
QUICK_COMPILE = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 0,
                 "xla_llvm_disable_expensive_passes": True,
                 "xla_cpu_parallel_codegen_split_count": min(max(os.cpu_count() or 1, 1), 8)}
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
