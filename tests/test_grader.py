"""The grader: every exercise's own answer passes, and each common mistake, made by mutating that
answer, is rejected under its name. Also the three forms of an answer, parse errors, autodiff."""
import ast

import numpy as np
import pytest
import sympy as sp

from gradbook import jax
from gradbook.exercises._bank import bank
from gradbook.exercises._grader import check, grade
from gradbook.exercises._scope import evaluate_at, truth

EXERCISES = bank()
IDS = sorted(EXERCISES)


def mutate_first_part(answer: str, wrap) -> str:
    """The answer with its first part (of a tuple) replaced by wrap(part)."""
    tree = ast.parse(answer, mode="eval").body
    if isinstance(tree, ast.Tuple):
        parts = [ast.unparse(e) for e in tree.elts]
        parts[0] = wrap(parts[0])
        return "(" + ", ".join(parts) + ")"
    return wrap(answer)


# --- each exercise's own answer, and the mistakes every exercise can be checked for --------------

@pytest.mark.parametrize("exercise_id", IDS)
def test_the_notebooks_own_answer_passes(exercise_id):
    feedback = check(exercise_id, EXERCISES[exercise_id].answer)
    assert feedback.passed, feedback
    assert feedback.settled_by in ("SymPy", "JAX")


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_flipped_sign_is_diagnosed(exercise_id):
    wrong = mutate_first_part(EXERCISES[exercise_id].answer, lambda p: f"-({p})")
    feedback = check(exercise_id, wrong)
    assert not feedback.passed and feedback.diagnosis == "flipped sign", feedback


@pytest.mark.parametrize("exercise_id", IDS)
def test_an_extra_constant_factor_is_diagnosed(exercise_id):
    wrong = mutate_first_part(EXERCISES[exercise_id].answer, lambda p: f"3*({p})")
    feedback = check(exercise_id, wrong)
    assert not feedback.passed and feedback.diagnosis == "missing or extra constant factor", feedback
    assert "3 times" in feedback.message


WITH_TRANSPOSE = [i for i in IDS if ".T" in EXERCISES[i].answer]


@pytest.mark.parametrize("exercise_id", WITH_TRANSPOSE)
def test_a_missing_transpose_is_diagnosed(exercise_id):
    wrong = EXERCISES[exercise_id].answer.replace(".T", "", 1)
    feedback = check(exercise_id, wrong)
    assert not feedback.passed and feedback.diagnosis == "missing transpose", feedback


def _non_square_matrix_answer(exercise_id) -> bool:
    ex = EXERCISES[exercise_id]
    point = ex.random_points(1)[0]
    # the shape of autodiff's answer, traced and not compiled (at collection, in each process)
    shape = np.shape(jax.eval_shape(lambda: truth(ex, point))[0])
    return len(shape) == 2 and shape[0] != shape[1] and min(shape) > 1


TRANSPOSABLE = [i for i in IDS if _non_square_matrix_answer(i)]


@pytest.mark.parametrize("exercise_id", TRANSPOSABLE)
def test_the_answer_of_the_other_convention_is_diagnosed_as_a_convention_swap(exercise_id):
    wrong = mutate_first_part(EXERCISES[exercise_id].answer, lambda p: f"({p}).T")
    feedback = check(exercise_id, wrong)
    assert not feedback.passed and feedback.diagnosis == "row/column convention swap", feedback


WITH_EXAMPLE = [i for i in IDS if EXERCISES[i].example]


@pytest.mark.parametrize("exercise_id", WITH_EXAMPLE)
def test_the_worked_examples_numbers_instead_of_a_formula_are_diagnosed(exercise_id):
    ex = EXERCISES[exercise_id]
    value = evaluate_at(ex, ex.answer, ex.example_point())
    parts = value if isinstance(value, tuple) else (value,)
    literal = [np.round(np.asarray(p, dtype=float), 4).tolist() for p in parts]
    wrong = repr(tuple(literal)) if len(parts) > 1 else repr(literal[0])
    feedback = check(exercise_id, wrong)
    assert not feedback.passed and feedback.diagnosis == "right only at the worked example", feedback


# --- the mistakes that belong to particular exercises ---------------------------------------------

@pytest.mark.parametrize("exercise_id, wrong", [
    ("kang.10.batch.b", "G"),
    ("kang.10.batch.b", "G[0]"),
    ("jin.grads.b", "(y_pred - y)/N"),
    ("deriv.batch.b", "Delta / B"),
])
def test_a_bias_gradient_not_summed_over_the_batch_is_diagnosed(exercise_id, wrong):
    feedback = check(exercise_id, wrong)
    assert not feedback.passed and feedback.diagnosis == "unsummed bias over the batch", feedback


@pytest.mark.parametrize("exercise_id, wrong", [
    ("jin.relu_mask", "(((h >= 0) * G) @ w1.T, x.T @ ((h >= 0) * G))"),
    ("jin.relu_mask", "(((x > 0) * G) @ w1.T, x.T @ ((x > 0) * G))"),
    ("jin.grads.w1", "x.T @ ((((y_pred - y)/N) @ w2.T) * (h >= 0))"),
    ("kang.8.relu_jacobian", "diag(z >= 0)"),
])
def test_a_relu_mask_from_the_wrong_quantity_is_diagnosed(exercise_id, wrong):
    feedback = check(exercise_id, wrong)
    assert not feedback.passed and feedback.diagnosis == "ReLU mask from the wrong quantity", feedback


WITH_TIES = [i for i in IDS if EXERCISES[i].ties]


@pytest.mark.parametrize("exercise_id", WITH_TIES)
def test_the_wrong_side_of_a_max_tie_is_diagnosed(exercise_id):
    wrong = EXERCISES[exercise_id].answer.replace(">", ">=", 1)
    feedback = check(exercise_id, wrong)
    assert not feedback.passed and feedback.diagnosis == "wrong side of a max tie", feedback


def test_a_mask_read_off_the_output_with_a_strict_test_is_right():
    feedback = check("jin.relu_mask", "(((h > 0) * G) @ w1.T, x.T @ ((h > 0) * G))")
    assert feedback.passed and feedback.settled_by == "JAX", feedback


def test_any_other_wrong_answer_differs_at_points_with_the_numbers():
    feedback = check("once.chain", "(v + cos(u))*y")  # one of the two paths dropped
    assert not feedback.passed and feedback.diagnosis == "differs at these points", feedback
    assert "random point 1" in feedback.message and "the gradient is" in feedback.message


def test_a_missing_one_over_n_is_named_as_the_batch_size():
    feedback = check("jin.chain.delta", "y_pred - y")
    assert feedback.diagnosis == "missing or extra constant factor"
    assert "a factor N too many" in feedback.message


# --- proof first, numbers when SymPy cannot decide -------------------------------------------------

def test_an_equivalent_form_is_proven_by_sympy_with_the_definitions_written_out():
    feedback = check("kang.5.sigmoid", "exp(-s)/(1 + exp(-s))^2")
    assert feedback.passed and feedback.settled_by == "SymPy"
    assert "definitions written out" in feedback.message


def test_a_matrix_answer_is_proven_for_every_size_where_the_notebook_proves_it_so():
    feedback = check("kang.9.affine.x", "(g.T @ W).T")
    assert feedback.passed and "for every size (symbolic d_z, d_x)" in feedback.message


def test_a_sympy_expression_is_accepted():
    y, yhat = sp.symbols("y y_hat")
    assert check("kang.5.bce_logit", yhat - y).passed
    d_z, d_x = sp.symbols("d_z d_x", integer=True, positive=True)
    W, g = sp.MatrixSymbol("W", d_z, d_x), sp.MatrixSymbol("g", d_z, 1)
    assert check("kang.9.affine.x", W.T * g).passed
    assert check("kang.9.affine.x", W * g).diagnosis == "missing transpose"


def test_a_python_function_of_the_named_inputs_is_accepted_and_settled_by_jax():
    import jax.numpy as jnp

    def answer(s, y):
        return 1 / (1 + jnp.exp(-s)) - y

    feedback = check("kang.5.bce_logit", answer)
    assert feedback.passed and feedback.settled_by == "JAX", feedback
    assert check("kang.5.bce_logit", lambda s, y: y - 1 / (1 + jnp.exp(-s))).diagnosis == "flipped sign"


def test_a_function_with_parameters_that_are_not_inputs_is_refused():
    feedback = check("kang.5.bce_logit", lambda score, label: score - label)
    assert feedback.diagnosis == "could not read the answer" and "parameters" in feedback.message


# --- answers that are not formulas ------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["jax.grad(loss)(s, y)", "grad(f)(s)", "torch.sigmoid(s) - y"])
def test_a_string_that_calls_autodiff_is_rejected_as_such(answer):
    feedback = check("kang.5.bce_logit", answer)
    assert feedback.diagnosis == "uses autodiff", feedback


def test_a_function_that_calls_autodiff_is_rejected_as_such():
    import jax

    def loss(s, y):
        return -(y * jax.numpy.log(jax.nn.sigmoid(s)) + (1 - y) * jax.numpy.log(1 - jax.nn.sigmoid(s)))

    def answer(s, y):
        return jax.grad(loss)(s, y)

    def indirect(s, y):
        return answer(s, y)

    assert check("kang.5.bce_logit", answer).diagnosis == "uses autodiff"
    assert check("kang.5.bce_logit", indirect).diagnosis == "uses autodiff"


@pytest.mark.parametrize("answer, position, hint", [
    ("sigma(s)*(1 - sigma(s)", 10, "every ( needs its )"),
    ("dsigma/ds = sigma(s)*(1 - sigma(s))", 11, "write only the right-hand side"),
    ("sigma(s)*(1 - sgma)", 15, "did you mean 'sigma'"),
    ("sigma(s) if s > 0 else 0", 1, "where(condition, a, b)"),
])
def test_a_parse_error_gives_the_position_and_a_hint_and_no_traceback(answer, position, hint):
    feedback = check("kang.5.sigmoid", answer)
    assert feedback.diagnosis == "could not read the answer"
    assert f"at position {position}" in feedback.message and hint in feedback.message
    assert "Traceback" not in feedback.message and "^" in feedback.message


def test_unicode_spellings_of_a_lecture_note_are_read():
    assert check("kang.5.sigmoid", "σ(s)·(1 − σ(s))").passed
    assert check("kang.9.affine.x", "Wᵀ @ g").passed


def test_a_placeholder_answer_is_no_answer_yet():
    assert check("kang.5.sigmoid", ...).diagnosis == "no answer"


def test_one_formula_where_a_tuple_is_asked_is_a_wrong_shape():
    feedback = check("kang.5.logreg", "(yhat - y)*x")
    assert feedback.diagnosis == "wrong shape" and "3 formulas" in feedback.message


def test_an_unknown_exercise_suggests_the_nearest():
    with pytest.raises(KeyError, match="did you mean 'kang.5.bce_logit'"):
        check("kang.5.bce_logt", "yhat - y")


def test_grade_shows_its_feedback_in_a_script_and_is_truthy_when_right(capsys):
    assert grade("kang.5.bce_logit", "yhat - y")
    assert not grade("kang.5.bce_logit", "y - yhat")
    out = capsys.readouterr().out
    assert "✓ kang.5.bce_logit: right (SymPy)" in out and "✗ kang.5.bce_logit: flipped sign" in out


# --- the teacher's own feedback, and credit per part ----------------------------------------------

def _with_mistakes(exercise_id, mistakes):
    import dataclasses

    from gradbook.exercises._bank import lookup

    return dataclasses.replace(lookup(exercise_id), mistakes=mistakes)


def test_a_declared_mistake_gets_the_teachers_message_and_its_credit():
    from gradbook.exercises._grader import EXPECTED_MISTAKE, check

    ex = _with_mistakes("kang.5.bce_logit", {"y - yhat": ["ŷ − y, not y − ŷ: check the sign.", 0.25]})
    feedback = check(ex, "y - sigma(s)")
    assert (feedback.passed, feedback.diagnosis, feedback.earned()) == (False, EXPECTED_MISTAKE, 0.25)
    assert feedback.message.startswith("ŷ − y, not y − ŷ: check the sign.")
    other = check(ex, "2*(yhat - y)")  # not the declared mistake: the built-in diagnosis, no credit
    assert (other.diagnosis, other.earned()) == ("missing or extra constant factor", 0.0)


def test_a_mistake_with_full_credit_is_refused():
    with pytest.raises(ValueError, match="0 <= credit < 1"):
        _with_mistakes("kang.5.bce_logit", {"y - yhat": ["fine", 1.0]}).validate()


def test_a_tuple_answer_earns_credit_for_each_part_right():
    from gradbook.exercises._grader import check

    feedback = check("kang.5.logreg", "((yhat - y)*x, yhat - y, 0*w)")
    assert not feedback.passed and feedback.earned() == pytest.approx(2 / 3, abs=1e-4)
    assert feedback.message.startswith("2 of 3 parts right (∂/∂w, ∂/∂b).")
    assert check("kang.5.logreg", "(0*x, 0, 0*w)").earned() == 0.0


def test_a_declared_mistake_that_is_the_right_answer_fails_the_declaration():
    from gradbook import ClaimFailed
    from gradbook.exercises._declare import exercise

    declared = dict(of="-(y*log(yhat) + (1 - y)*log(1 - yhat))", wrt="s", answer="yhat - y",
                    inputs={"s": "scalar", "y": "scalar in [0, 1]"},
                    where={"sigma(t)": "1/(1 + exp(-t))", "yhat": "sigma(s)"},
                    example={"s": 1.4, "y": 1.0})
    exercise("kang.5.bce_logit", "task", mistakes={"y - yhat": "the sign"}, **declared)
    with pytest.raises(ClaimFailed, match="the declared mistake sigma.s. - y is right"):
        exercise("kang.5.bce_logit", "task", mistakes={"sigma(s) - y": "not a mistake"}, **declared)


@pytest.mark.parametrize("exercise_id, right, mistake", [
    ("softmax.jacobian.matrix", "diag(p) - outer(p, p)", "diag(p)"),
    ("softmax.xent_grad.z", "p - y", "-y/p")])
def test_notebook_11s_exercises_take_the_right_answer_and_name_the_declared_mistake(
        exercise_id, right, mistake):
    from gradbook.exercises._grader import EXPECTED_MISTAKE

    assert check(exercise_id, right).passed
    said = check(exercise_id, mistake)
    assert (said.passed, said.diagnosis) == (False, EXPECTED_MISTAKE)


@pytest.mark.parametrize("exercise_id, right, mistake", [
    ("bn.dx.column", "gamma*s/N*(N*g - sum(g) - xhat*sum(g*xhat))", "gamma*s*g"),
    ("bn.params.column", "(sum(g*xhat), sum(g))", "(g*xhat, g)")])
def test_notebook_12s_exercises_take_the_right_answer_and_name_the_declared_mistake(
        exercise_id, right, mistake):
    from gradbook.exercises._grader import EXPECTED_MISTAKE

    assert check(exercise_id, right).passed
    said = check(exercise_id, mistake)
    assert (said.passed, said.diagnosis) == (False, EXPECTED_MISTAKE)


@pytest.mark.parametrize("exercise_id, right, mistake", [
    ("ln.dx.sample", "s/H*(H*gamma*g - sum(gamma*g) - xhat*sum(gamma*g*xhat))",
     "gamma*s/H*(H*g - sum(g) - xhat*sum(g*xhat))"),
    ("ln.params.sample", "(g*xhat, g)", "(sum(g*xhat), sum(g))")])
def test_notebook_13s_exercises_take_the_right_answer_and_name_the_declared_mistake(
        exercise_id, right, mistake):
    from gradbook.exercises._grader import EXPECTED_MISTAKE

    assert check(exercise_id, right).passed
    said = check(exercise_id, mistake)
    assert (said.passed, said.diagnosis) == (False, EXPECTED_MISTAKE)


def test_notebook_15s_query_gradient_without_its_scale_gets_the_teachers_message():
    from gradbook.exercises._grader import EXPECTED_MISTAKE

    unscaled = "(A * (G @ V.T - sum(A * (G @ V.T), axis=1, keepdims=True))) @ K"
    assert check("attn.query_key_grads.Q", unscaled + " / sqrt(d)").passed
    said = check("attn.query_key_grads.Q", unscaled)
    assert (said.passed, said.diagnosis) == (False, EXPECTED_MISTAKE)
    assert check("attn.value_grads.V", "A.T @ G").passed
    assert not check("attn.value_grads.V", "A @ G").passed


def test_notebook_16s_bptt_sum_and_error_signal_name_the_last_step_alone():
    from gradbook.exercises._grader import EXPECTED_MISTAKE

    assert check("bptt.weights.w", "d3*(1 - h3**2)*h2 + d2*(1 - h2**2)*h1 + d1*(1 - h1**2)*h0").passed
    alone = check("bptt.weights.w", "d3*(1 - h3**2)*h2")
    assert (alone.passed, alone.diagnosis) == (False, EXPECTED_MISTAKE)
    assert check("bptt.delta.h0", "w*(1 - h1**2)*(g1 + w*(1 - h2**2)*(g2 + w*(1 - h3**2)*g3))").passed
    last = check("bptt.delta.h0", "w*(1 - h1**2)*w*(1 - h2**2)*w*(1 - h3**2)*g3")
    assert (last.passed, last.diagnosis) == (False, EXPECTED_MISTAKE)
