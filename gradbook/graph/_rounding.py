"""Numbers put on the page without float64 rounding noise.

A quantity that is exactly 0 in real arithmetic comes out of float64 as noise about an ulp of
the numbers that were summed to make it (log-softmax's max-subtraction gets a gradient of
2.8e-17). Printed, that noise is a digit string that changes with the processor, so it would
make a page depend on the CPU that built it. A shown number is therefore cleaned first: an entry
within NOISE of the scale of what made it (the terms summed into it, where derive knows them,
else the largest number of its kind in the same graph) is shown as 0. Checks use the raw numbers.
"""
from __future__ import annotations

import numpy as np

NOISE = 1e-12  # float64 rounding is about 1e-16 of the terms: four orders of headroom


def cleaned(x, scale):
    """`x` with every floating entry within NOISE × `scale` (a number or an array of x's shape) set to 0."""
    a = np.asarray(x)
    if not np.issubdtype(a.dtype, np.floating):
        return x
    return np.where(np.abs(a) <= NOISE * np.asarray(scale, dtype=np.float64), 0.0, a)


def largest(arrays) -> float:
    """The largest magnitude among floating arrays: the scale of numbers of one kind on a page."""
    sizes = [float(np.max(np.abs(a))) for a in map(np.asarray, arrays)
             if a.size and np.issubdtype(a.dtype, np.floating)]
    return max(sizes, default=0.0)
