"""The teacher's declared mistakes are matched by proof (SymPy) or by value (JAX), and the feedback
says which; a right answer's feedback says which kind of equality held."""
import dataclasses

import numpy as np
import pytest

from gradbook.exercises import _prove
from gradbook.exercises._bank import lookup
from gradbook.exercises._grader import EXPECTED_MISTAKE, check
from gradbook.exercises._submission import Report

SIGN = "ŷ − y, not y − ŷ: check the sign."


def _with_mistakes(exercise_id, mistakes):
    return dataclasses.replace(lookup(exercise_id), mistakes=mistakes)


BCE = _with_mistakes("kang.5.bce_logit", {"y - yhat": [SIGN, 0.25]})


def test_a_declared_mistake_written_out_differently_is_proven_equal_to_it():
    feedback = check(BCE, "(y*(1 + exp(-s)) - 1)/(1 + exp(-s))")  # y − σ(s), one denominator
    assert (feedback.passed, feedback.diagnosis, feedback.settled_by) == \
        (False, EXPECTED_MISTAKE, "SymPy"), feedback
    assert feedback.message.startswith(SIGN + " (SymPy proves it equal to the expected mistake "
                                       "y - yhat"), feedback


def test_a_matrix_mistake_is_proven_equal_to_it_for_every_size():
    ex = _with_mistakes("kang.9.affine.W", {"x @ g.T": "the transpose of the gradient"})
    feedback = check(ex, "(g @ x.T).T")
    assert (feedback.diagnosis, feedback.settled_by) == (EXPECTED_MISTAKE, "SymPy"), feedback
    assert "SymPy proves it equal to the expected mistake x @ g.T for every size (symbolic" \
        in feedback.message, feedback


def test_a_mistake_that_only_the_numbers_match_says_it_is_equal_at_the_points_by_jax():
    feedback = check(BCE, lambda s, y: y - 1 / (1 + np.exp(-s)))  # SymPy cannot call np.exp
    assert (feedback.diagnosis, feedback.settled_by) == (EXPECTED_MISTAKE, "JAX"), feedback
    assert "(it equals y - yhat at the worked example and 3 seeded random points, by JAX in " \
           "float64)" in feedback.message, feedback


@pytest.mark.parametrize("wrong", ["y - yhat + s/1000", "2*(yhat - y)", "y*yhat"])
def test_a_wrong_answer_that_is_no_declared_mistake_is_not_matched(wrong):
    feedback = check(BCE, wrong)
    assert not feedback.passed and feedback.diagnosis != EXPECTED_MISTAKE, feedback
    assert feedback.earned() == 0.0 and "expected mistake" not in feedback.message


def test_a_declared_mistake_earns_its_partial_credit_in_the_report():
    feedback = check(BCE, "y - sigma(s)")
    assert feedback.earned() == 0.25 and feedback.to_json()["credit"] == 0.25
    right = check(BCE, "yhat - y")
    report = Report("a.ipynb", "04", results=[feedback.to_json(), right.to_json()])
    assert (report.score, report.points) == (1, 1.25)
    assert "1 of 2 exercises right (1.25 points with partial credit)" in report.to_text()


def test_a_mistake_proof_out_of_time_leaves_it_to_the_numbers_and_says_so(monkeypatch):
    def endless(ex, answer, target=None):  # a proof that never comes out
        while True:
            _prove._components(ex)  # a call of gradbook's: where the time limit raises

    monkeypatch.setattr(_prove, "TIME_LIMIT", 0.05)
    monkeypatch.setattr(_prove, "_prove", endless)
    feedback = check(BCE, "y - sigma(s)")
    assert (feedback.diagnosis, feedback.settled_by) == (EXPECTED_MISTAKE, "JAX"), feedback
    assert "before it could decide whether it equals the expected mistake y - yhat, so the " \
           "numbers decided" in feedback.message, feedback


@pytest.mark.parametrize("exercise_id, answer, said", [
    ("kang.9.affine.b", "g", "SymPy proves it equal to the right answer for every size "
                             "(symbolic d_z, d_x)."),
    ("jin.dsigmoid", "diag(sigma(z)*(1 - sigma(z)))",
     "SymPy proves it equal to the right answer (with the definitions written out), for sizes "
     "N = 4."),
    ("kang.5.sigmoid", lambda s: np.exp(-s) / (1 + np.exp(-s))**2,
     "SymPy could not decide; in float64 it agrees with jax.grad at the worked example and 3 "
     "seeded random points (largest |Δ|")])
def test_a_right_answer_says_which_kind_of_equality_held(exercise_id, answer, said):
    feedback = check(exercise_id, answer)
    assert feedback.passed and feedback.message.startswith(said), feedback
