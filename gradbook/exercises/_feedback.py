"""A verdict on one answer (Feedback), and the float64 comparison every verdict uses.

Shared by the grader and the diagnoses (kept apart from both, so neither imports the other
back).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..checks._tolerance import autodiff_bound

# What grade() displays in the student's own notebook. The grader never reads it: a graded
# submission that shows one is tampering (see _submission.collect).
GRADE_MIME = "application/vnd.gradbook.grade+json"


@dataclass
class Feedback:
    """The verdict on one answer: passed or not, the named diagnosis, and what to tell the student."""

    exercise: str
    passed: bool
    message: str
    diagnosis: str | None = None
    settled_by: str | None = None
    points: list = field(default_factory=list)
    credit: float | None = None  # partial credit (parts right, a declared mistake); else 1 or 0
    _shown: bool = field(default=False, repr=False, compare=False)

    def __bool__(self) -> bool:
        return self.passed

    def to_json(self) -> dict:
        """The record the score table is made of."""
        return {"id": self.exercise, "passed": self.passed, "diagnosis": self.diagnosis,
                "settled_by": self.settled_by, "credit": self.earned(), "feedback": self.message}

    def earned(self) -> float:
        """The exercise's credit: 1 when right, else the partial credit (0 without any)."""
        return 1.0 if self.passed else round(float(self.credit or 0.0), 4)

    def _headline(self) -> str:
        if self.passed:
            return f"right ({self.settled_by})" if self.settled_by else "right"
        return self.diagnosis or "not right"

    def __repr__(self) -> str:
        mark = "✓" if self.passed else "✗"
        return f"{mark} {self.exercise}: {self._headline()}\n  " + self.message.replace("\n", "\n  ")

    def _repr_markdown_(self) -> str:
        mark = "✓" if self.passed else "✗"
        body = self.message.replace("\n", "  \n")
        if "\n    " in self.message:  # a parse error shows the formula with a caret
            body = "\n```\n" + self.message + "\n```"
        return f"{mark} **`{self.exercise}`** · {self._headline()} — {body}"

    def _ipython_display_(self):
        if not self._shown:
            from IPython.display import display

            display({"text/markdown": self._repr_markdown_(), "text/plain": repr(self),
                     GRADE_MIME: self.to_json()}, raw=True)



def close(mine, theirs) -> bool:
    """Equal by the autodiff tolerance, after a harmless reshape ((n, 1) against (n,))."""
    mine = fit(mine, theirs)
    if mine.shape != theirs.shape:
        return False
    return bool(np.all(np.isfinite(mine))) and _error(mine, theirs) <= autodiff_bound(mine, theirs)


def fit(mine, theirs):
    """`mine` reshaped like `theirs` when they differ only by axes of length one."""
    mine = np.asarray(mine, dtype=np.float64)
    if mine.shape != theirs.shape and mine.size == theirs.size and \
            tuple(d for d in mine.shape if d != 1) == tuple(d for d in theirs.shape if d != 1):
        return mine.reshape(theirs.shape)
    return mine


def _error(a, b) -> float:
    a = fit(a, b)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b), initial=0.0))
