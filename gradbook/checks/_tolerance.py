"""Tolerance rules: how close counts as equal for each kind of numeric check, and why.

- autodiff (kind "jax"): the claimed formula and JAX evaluate the same real number through
  different float64 operation orders, so they differ by a few ulps times the size of the
  numbers summed. We allow AUTODIFF_RTOL = 1e-10 of the larger magnitude: about 5e5 ulps of
  headroom, while a wrong formula (a missing transpose, a dropped factor) is off by order 1.
  When the terms of a sum cancel, the larger magnitude is that of the terms (their absolute
  values summed, autodiff_bound_summed), since the result is then rounding noise.
- finite differences (kind "fd"): a central difference with step h = eps^(1/3)·max(1, |x|)
  has truncation error about h²·|f‴|/6 and rounding error about eps·|f|/h, each near
  eps^(2/3) ≈ 4e-11 relative to the sizes involved. We allow FD_RTOL = 1e-6 of the gradient's
  magnitude (truncation, with room for curvature) plus FD_ROUNDING = 1e-8·max(1, |f|)
  (rounding, 250 times the estimate). A wrong formula is off by order one of the gradient, so
  it is caught unless the whole gradient is below about 1e-8·max(1, |f|).
- printed numbers (kind "num"): a number printed with k decimals stands for any value that
  rounds to it, so it passes when within half a unit of its last printed digit.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np

EPS = float(np.finfo(np.float64).eps)
AUTODIFF_RTOL = 1e-10
FD_RTOL = 1e-6
FD_ROUNDING = 1e-8
FD_STEP = EPS ** (1 / 3)


def autodiff_bound(claimed: np.ndarray, reference: np.ndarray) -> float:
    """Largest allowed |claimed - reference| between a formula and JAX's autodiff."""
    return AUTODIFF_RTOL * max(_max_abs(claimed), _max_abs(reference))


def autodiff_bound_summed(claimed: np.ndarray, reference: np.ndarray, magnitude) -> float:
    """The autodiff bound for a gradient summed from terms (upstream × local derivative) whose
    absolute values add up to `magnitude`: rounding scales with the terms, so a gradient that
    cancels to about 0 is judged by the size of what cancelled, not by the noise left over."""
    return AUTODIFF_RTOL * max(_max_abs(claimed), _max_abs(reference), _max_abs(magnitude))


def fd_bound(claimed: np.ndarray, reference: np.ndarray, f_value) -> float:
    """Largest allowed |claimed - finite difference|, for a function whose value is f_value."""
    return (FD_RTOL * max(_max_abs(claimed), _max_abs(reference))
            + FD_ROUNDING * max(1.0, _max_abs(f_value)))


def half_unit(printed: str) -> tuple[Decimal, Decimal]:
    """The printed value and half a unit in its last digit: '0.8022' -> (0.8022, 0.00005)."""
    try:
        value = Decimal(str(printed).strip().replace("−", "-"))
    except InvalidOperation:
        raise ValueError(f"not a printed number: {printed!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite printed number: {printed!r}")
    exponent = value.as_tuple().exponent
    return value, Decimal(5).scaleb(exponent - 1)


def _max_abs(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.max(np.abs(a))) if a.size else 0.0
