"""grade(): is a student's formula right, who settled it (SymPy or JAX), and if wrong, how.

Proof first: SymPy, with the exercise's definitions in scope, unless the answer's numbers are
already far from autodiff's (then it is wrong, and no proof is tried). When SymPy cannot decide,
the numbers do: the answer against jax.grad (or jax.jacobian) of the exercise's function in
float64, at the worked example and seeded random points, by the project's autodiff tolerance;
at a tie of a max, against the document's convention. A wrong answer gets a named diagnosis.
"""
from __future__ import annotations

import numpy as np

from .._display import show
from ..checks._residual import residual
from ..checks._tolerance import autodiff_bound
from ._answer import (Answer, NoAnswer, WrongCount, as_arrays, call_function, normalise,
                      with_readings)
from ._bank import Exercise, lookup, mistake_of
from ._diagnose import diagnose
from ._evaluate import EvalError, JaxBackend, run
from ._feedback import GRADE_MIME, Feedback, _error, close, fit  # noqa: F401 - re-exported
from ._parse import AutodiffUsed, ParseError, parse
from ._scope import evaluate_at, jax_scope, truth

EXPECTED_MISTAKE = "a mistake the exercise expects"
# A difference, relative to the values' size or 1 whichever is larger, that float64 rounding of
# a right formula cannot make (the autodiff tolerance is 1e-10 of the size): the floor of 1
# keeps a gradient that cancels to about 0 from looking far off by its noise alone.
FAR_OFF = 1e-3


def grade(exercise_id, answer) -> Feedback:
    """Grade an answer to an exercise: a string of plain math, a SymPy expression, or a function.

    `grade("kang.5.bce_logit", "yhat - y")`. The feedback shows itself (in a notebook, or as a
    printed line in a script) and is returned; it is truthy when the answer is right.
    """
    feedback = check(exercise_id, answer)
    show(feedback)
    feedback._shown = True
    return feedback


def check(exercise_id, answer) -> Feedback:
    """The verdict on an answer, without showing it (the grading harness shows its own)."""
    ex = exercise_id if isinstance(exercise_id, Exercise) else lookup(exercise_id)
    return grader(ex).judge(answer)


_GRADERS: dict = {}


def grader(ex: Exercise) -> "Grader":
    """One grader per exercise, so that the reference numbers are computed once."""
    key = repr(ex.to_dict())
    if key not in _GRADERS:
        _GRADERS[key] = Grader(ex)
    return _GRADERS[key]


class Grader:
    """Everything an exercise's verdicts need: its points, and autodiff's answer at each."""

    def __init__(self, ex: Exercise, salt: str | None = None):
        self.ex = ex
        self.n = len(ex.wrt) if ex.kind == "grad" else 1
        self.reference = parse(ex.answer, ex.names() | ex.functions())
        example = ex.example_point()
        self.points = ([(f"the worked example ({_describe(example)})", example)] if example else [])
        self.points += [(f"random point {i + 1} ({_describe(p)})", p)
                        for i, p in enumerate(ex.random_points(3))]
        if salt:  # a point no one knew before grading: a table of values cannot pass
            self.points += [(f"a point drawn for this submission ({_describe(p)})", p)
                            for p in ex.random_points(1, salt=salt)]
        self._truth: dict = {}

    # --- the numbers -------------------------------------------------------------------------

    def truth(self, label: str, point: dict) -> tuple:
        """autodiff's answer at a point (cached); at a tie, the reference answer's value."""
        if label not in self._truth:
            if label.startswith("a tie"):
                value = as_arrays(evaluate_at(self.ex, self.ex.answer, point), self.n)
            else:
                value = tuple(np.asarray(t, dtype=np.float64) for t in truth(self.ex, point))
            self._truth[label] = value
        return self._truth[label]

    def ties(self) -> list:
        """The exercise's tie points, labelled."""
        return [(f"a tie ({_describe(p)})", p) for p in self.ex.tie_points()]

    def student(self, answer: Answer, point: dict, tree=None, extra: dict | None = None) -> tuple:
        """The answer's value at a point, as float64 arrays (`tree` replaces the formula)."""
        env, fns = jax_scope(self.ex, point)
        env.update(extra or {})
        if answer.formula is not None or tree is not None:
            value = run(tree or answer.formula.tree, JaxBackend(), env, fns)
        else:
            try:
                value = call_function(answer, env)
            except AutodiffUsed:
                raise
            except Exception as error:  # noqa: BLE001 - a student's function may raise anything
                raise EvalError(f"the function raised {type(error).__name__}: {error}") from None
        return as_arrays(value, self.n)

    # --- the verdict -------------------------------------------------------------------------

    def judge(self, raw) -> Feedback:
        """Normalise, prove, compute, diagnose."""
        ex = self.ex
        try:
            answer = normalise(ex, raw)
        except NoAnswer as error:
            return Feedback(ex.id, False, str(error), "no answer")
        except ParseError as error:
            return Feedback(ex.id, False, error.explain(), "could not read the answer")
        except AutodiffUsed as error:
            return Feedback(ex.id, False, str(error), "uses autodiff")
        from ._prove import prove

        if self._far_off(answer):  # a proof cannot succeed, and trying one costs up to 5 s
            return with_readings(self._by_numbers(answer), answer)
        proof = prove(ex, answer)
        if proof:
            return with_readings(Feedback(ex.id, True, f"{proof}.", settled_by="SymPy"), answer)
        return with_readings(self._by_numbers(answer), answer)

    def _far_off(self, answer: Answer) -> bool:
        """Whether the answer differs from autodiff somewhere by far more than float64 rounding
        could make of a right formula (FAR_OFF of the values' size, at least 1): then it is wrong, and SymPy
        is not asked. Near misses, and answers that cannot be evaluated, still go to the proof."""
        try:
            for label, point in self.points:
                for a, b in zip(self.student(answer, point), self.truth(label, point)):
                    a = fit(a, b)
                    size = max(1.0, float(np.max(np.abs(a), initial=0.0)),
                               float(np.max(np.abs(b), initial=0.0)))
                    if a.shape != b.shape or _error(a, b) > FAR_OFF * size:
                        return True
        except Exception:  # noqa: BLE001 - the verdict's own path reports what went wrong
            return False
        return False

    def _by_numbers(self, answer: Answer) -> Feedback:
        ex = self.ex
        try:
            results = [(label, self.student(answer, p), self.truth(label, p))
                       for label, p in self.points + self.ties()]
        except AutodiffUsed as error:
            return Feedback(ex.id, False, str(error), "uses autodiff")
        except (EvalError, WrongCount, ArithmeticError, TypeError, ValueError, IndexError) as error:
            expected = self._mistake(answer, None)  # no numbers: only a proof can tell
            return expected if expected is not None else diagnose(self, answer, error)
        if all(close(a, b) for _, mine, theirs in results for a, b in zip(mine, theirs)):
            return self._right_by_numbers(results)
        expected = self._mistake(answer, results)  # a Feedback is falsy when not passed: no `or`
        return expected if expected is not None else \
            self._per_part(diagnose(self, answer, results), results)

    def _right_by_numbers(self, results) -> Feedback:
        """Right at every point: say where, by how much, and against what."""
        ex = self.ex
        worst = max(_error(a, b) for _, mine, theirs in results for a, b in zip(mine, theirs))
        bound = max(autodiff_bound(a, b) for _, m, t in results for a, b in zip(m, t))
        what = "jax.grad" if ex.kind == "grad" else "jax.jacobian"
        where = _where(self.points)
        ties = f" and the document's convention at {len(self.ties())} tie(s)" if ex.ties else ""
        return Feedback(ex.id, True,
                        f"SymPy could not decide; in float64 it agrees with {what} at "
                        f"{where}{ties} ({residual(worst, bound)}).",
                        settled_by="JAX")

    def _mistake(self, answer: Answer, results) -> Feedback | None:
        """The teacher's message when the answer equals one of the exercise's declared mistakes:
        proven equal by SymPy (as a right answer is), else equal at every point by JAX.

        A proof is tried only where the numbers agree with the mistake or cannot be had
        (`results` None): equal formulas cannot differ at a point, and a proof per declared
        mistake for every wrong answer would cost seconds each."""
        from ._prove import prove

        main = None if results is None else \
            [(label, mine) for label, mine, _ in results if not label.startswith("a tie")]
        for formula, said in self.ex.mistakes.items():
            agrees = self._agrees(formula, main)
            if agrees is False:
                continue
            message, credit = mistake_of(said)
            proof = prove(self.ex, answer, target=formula)
            if proof:
                return Feedback(self.ex.id, False, f"{message} ({proof}).", EXPECTED_MISTAKE,
                                settled_by="SymPy", credit=credit)
            if agrees:
                return Feedback(self.ex.id, False, f"{message} (it equals {formula} at "
                                f"{_where(self.points)}, by JAX in float64).", EXPECTED_MISTAKE,
                                settled_by="JAX", credit=credit)
        return None

    def _agrees(self, formula: str, main) -> bool | None:
        """Whether the answer's values (`main`) equal the formula's at every point; None when
        either cannot be computed."""
        if main is None:
            return None
        try:
            theirs = [as_arrays(evaluate_at(self.ex, formula, p), self.n) for _, p in self.points]
        except (EvalError, WrongCount, ArithmeticError, TypeError, ValueError):
            return None
        return len(theirs) == len(main) and all(
            close(a, b) for (_, mine), t in zip(main, theirs) for a, b in zip(mine, t))

    def _per_part(self, feedback: Feedback, results) -> Feedback:
        """A tuple answer earns credit for each part that is right at every point."""
        if self.n == 1 or self.ex.kind != "grad":
            return feedback
        right = [all(close(mine[i], theirs[i]) for _, mine, theirs in results) for i in range(self.n)]
        if any(right):
            names = ", ".join(f"∂/∂{w}" for w, ok in zip(self.ex.wrt, right) if ok)
            feedback.credit = sum(right) / self.n
            feedback.message = f"{sum(right)} of {self.n} parts right ({names}). " + feedback.message
        return feedback


def _where(points) -> str:
    example = any(label.startswith("the worked") for label, _ in points)
    randoms = sum(label.startswith("random") for label, _ in points)
    drawn = any(label.startswith("a point drawn") for label, _ in points)
    parts = (["the worked example"] if example else []) + [f"{randoms} seeded random points"]
    return " and ".join(parts) + (" and a point drawn for this submission" if drawn else "")


def _describe(point: dict) -> str:
    """A point in words: scalars and small arrays by value, larger arrays by shape."""
    parts = []
    for name, value in point.items():
        if isinstance(value, float) or np.ndim(value) == 0:
            parts.append(f"{name} = {float(value):.4g}")
        elif np.size(value) <= 4:
            shape = np.shape(value)
            flat = np.array2string(np.ravel(value), precision=4, separator=", ")
            suffix = f" ({'×'.join(map(str, shape))})" if len(shape) > 1 else ""
            parts.append(f"{name} = {flat}{suffix}")
        else:
            parts.append(f"{name} ({'×'.join(map(str, np.shape(value)))})")
    return ", ".join(parts)
