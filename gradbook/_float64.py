"""JAX in float64: every gradbook module that computes with JAX imports it from here."""
import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402  (after the x64 switch, so arrays default to float64)

__all__ = ["jax", "jnp"]
