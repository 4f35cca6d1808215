"""Each notation a student uses is read with the meaning it has in their notes or their NumPy
code: checked against NumPy itself, or against the same formula written out in Python."""
import ast

import numpy as np
import pytest

from gradbook.exercises import _prove
from gradbook.exercises._answer import read
from gradbook.exercises._bank import Exercise, lookup
from gradbook.exercises._evaluate import JaxBackend, run
from gradbook.exercises._grader import check
from gradbook.exercises._names import spellings
from gradbook.exercises._scope import jax_scope

# Two float64 evaluations of one value in a different order of operations: a few ulps apart.
RTOL = 1e-12


def point(exercise_id):
    return lookup(exercise_id).random_points(1)[0]


def value(exercise_id, text):
    """The formula, read for this exercise, in float64 JAX at the exercise's first seeded point."""
    ex = lookup(exercise_id)
    env, fns = jax_scope(ex, point(exercise_id))
    return np.asarray(run(read(ex, text).tree, JaxBackend(), env, fns), dtype=np.float64)


def same(exercise_id, typed, python):
    np.testing.assert_allclose(value(exercise_id, typed), value(exercise_id, python), rtol=RTOL,
                               atol=0, err_msg=typed)


def reads_as(exercise_id, typed, python):
    return ast.dump(read(lookup(exercise_id), typed).tree) == \
        ast.dump(ast.parse(python, mode="eval"))


# --- products written side by side -----------------------------------------------------------

@pytest.mark.parametrize("exercise_id, typed, python", [
    ("kang.3.chain", "2x cos(x^2)", "2 * x * cos(x ** 2)"),
    ("kang.5.sigmoid", "σ(s)(1−σ(s))", "sigma(s) * (1 - sigma(s))"),
    ("kang.9.affine.W", "g xᵀ", "g @ x.T"),
    ("kang.10.batch.W", "X^T G", "X.T @ G"),
    ("kang.5.logreg", "(yhat - y) x", "(yhat - y) * x"),
    ("kang.5.logreg", "wᵀx + b", "w.T @ x + b"),
    ("kang.3.chain", "sin x", "sin(x)"),
])
def test_a_product_written_side_by_side_is_read_from_the_shapes(exercise_id, typed, python):
    assert reads_as(exercise_id, typed, python)


def test_a_name_that_is_not_a_name_is_not_split_into_a_product():
    feedback = check("kang.2.result", "(z, z, xy)")
    assert feedback.diagnosis == "could not read the answer" and "unknown name 'xy'" in feedback.message


# --- transposes, powers, e --------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["Xᵀ", "X^T", r"X^\top", r"X^{\top}", r"X^{T}", "X⊤",
                                   r"X^{\mathsf{T}}", "X.transpose()", "np.transpose(X)"])
def test_every_spelling_of_a_transpose_is_numpys_transpose(typed):
    np.testing.assert_array_equal(value("kang.10.batch.W", typed), point("kang.10.batch.W")["X"].T)


@pytest.mark.parametrize("typed", ["s^2", "s²", r"s^{2}", "s*s", "np.square(s)"])
def test_a_power_is_read_in_every_notation(typed):
    same("kang.5.sigmoid", typed, "s**2")


@pytest.mark.parametrize("typed", ["e^(-s)", "e**(-s)", r"e^{-s}", "E**(-s)", "np.e**(-s)",
                                   "math.e ** -s", "np.exp(-s)", r"\exp(-s)"])
def test_e_is_eulers_number_and_e_to_the_x_its_exponential(typed):
    same("kang.5.sigmoid", typed, "exp(-s)")


# --- functions -----------------------------------------------------------------------------

@pytest.mark.parametrize("typed, python", [
    ("sinh(s)", "(exp(s) - exp(-s))/2"), ("cosh(s)", "(exp(s) + exp(-s))/2"),
    ("tanh(s)", "(exp(s) - exp(-s))/(exp(s) + exp(-s))"), ("sech(s)", "1/cosh(s)"),
    ("csch(s)", "1/sinh(s)"), ("coth(s)", "cosh(s)/sinh(s)"), ("sec(s)", "1/cos(s)"),
    ("csc(s)", "1/sin(s)"), ("cot(s)", "cos(s)/sin(s)"), ("arcsinh(s)", "log(s + sqrt(s**2 + 1))"),
    ("asinh(s)", "log(s + sqrt(s**2 + 1))"), ("acosh(1 + s^2)", "log(1 + s**2 + sqrt((1 + s**2)**2 - 1))"),
    ("atanh(s/10)", "log((1 + s/10)/(1 - s/10))/2"), ("sin(arcsin(s/10))", "s/10"),
    ("cos(acos(s/10))", "s/10"), ("tan(np.arctan(s))", "s"), ("ln(s^2)", "log(s**2)"),
    ("log1p(s^2)", "log(1 + s**2)"), ("expm1(s)", "exp(s) - 1"), ("√(s^2)", "abs(s)"),
    (r"\sqrt{s^2}", "abs(s)"), ("sign(s)", "s/abs(s)"),
])
def test_the_elementary_functions_their_inverses_and_hyperbolic_relatives(typed, python):
    same("kang.5.sigmoid", typed, python)


@pytest.mark.parametrize("exercise_id, typed, python", [
    ("kang.5.sigmoid", "σ(s)", "1/(1 + exp(-s))"), ("kang.5.sigmoid", r"\sigma(s)", "1/(1 + exp(-s))"),
    ("kang.5.sigmoid", "jax.nn.sigmoid(s)", "1/(1 + exp(-s))"),
    ("kang.5.sigmoid", "scipy.special.expit(s)", "1/(1 + exp(-s))"),
    ("kang.5.sigmoid", "relu(s)", "max(s, 0)"), ("kang.5.sigmoid", "ReLU(s)", "maximum(s, 0)"),
    ("kang.5.sigmoid", "softplus(s)", "log(1 + exp(s))"),
    ("kang.5.sigmoid", "jax.nn.softplus(s)", "log(1 + exp(s))"),
    ("jin.dsigmoid", "softmax(z)", "exp(z)/sum(exp(z))"),
    ("jin.dsigmoid", "jax.nn.softmax(z)", "exp(z)/sum(exp(z))"),
])
def test_the_activation_names(exercise_id, typed, python):
    same(exercise_id, typed, python)


# --- NumPy's spellings, with NumPy's semantics ------------------------------------------------

G = point("kang.10.batch.b")["G"]


@pytest.mark.parametrize("typed, numpy", [
    ("G.sum(0)", G.sum(0)), ("sum(G, 0)", np.sum(G, 0)), ("np.sum(G, axis=0)", np.sum(G, axis=0)),
    ("G.sum(1)", G.sum(1)), ("G.sum(axis=1, keepdims=True)", G.sum(axis=1, keepdims=True)),
    ("G.sum()", G.sum()), ("G.mean(0)", G.mean(0)), ("mean(G, axis=1)", np.mean(G, axis=1)),
    ("np.ones(N) @ G", np.ones(4) @ G), ("jnp.zeros((N, d_z)) + G", np.zeros((4, 2)) + G),
    ("np.eye(N) @ G", np.eye(4) @ G), ("np.outer(G[0], G[1])", np.outer(G[0], G[1])),
    ("np.einsum('nk,nj->kj', G, G)", np.einsum("nk,nj->kj", G, G)),
    ("G.transpose()", G.transpose()), ("G.reshape(-1)", G.reshape(-1)),
    ("G.reshape(d_z, N)", G.reshape(2, 4)), ("G.reshape((1, -1))", G.reshape((1, -1))),
    ("np.dot(G.T, G)", np.dot(G.T, G)), ("jnp.matmul(G.T, G)", np.matmul(G.T, G)),
])
def test_numpy_spellings_compute_what_numpy_computes(typed, numpy):
    got = value("kang.10.batch.b", typed)
    assert got.shape == np.shape(numpy), typed
    np.testing.assert_allclose(got, numpy, rtol=RTOL, atol=0)


def test_g_sum_0_is_graded_as_numpy_computes_it():
    assert check("kang.10.batch.b", "G.sum(0)").passed
    assert check("kang.10.batch.b", "sum(G, 0)").passed
    assert not check("kang.10.batch.b", "G.sum(1)").passed
    assert check("kang.10.batch.b", "G.sum()").diagnosis == "wrong shape"


# --- LaTeX ---------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, python", [
    (r"\frac{a}{b}", "a / b"), (r"\dfrac{a + 1}{b}", "(a + 1) / b"), (r"\sigma(a)", "sigma(a)"),
    (r"a \cdot b", "a * b"), (r"a \odot b", "a * b"), (r"a \times b", "a * b"),
    (r"\left(a + b\right) g", "(a + b) * g"), (r"\mathbf{a}\mathbf{b}", "a * b"),
    (r"\sqrt{a}", "sqrt(a)"), (r"$a^{2}$", "a ** 2"), (r"\exp(a) \, b", "exp(a) * b"),
    (r"\pi a", "pi * a"), (r"\tanh a", "tanh(a)"), (r"\operatorname{relu}(a)", "relu(a)"),
])
def test_the_latex_subset(typed, python):
    assert reads_as("kang.4.mul", typed, python)


@pytest.mark.parametrize("exercise_id, typed, python", [
    ("kang.9.affine.W", r"\mathbf{g}\mathbf{x}^\top", "g @ x.T"),
    ("kang.10.batch.b", r"\sum_n G_n", "sum(G, axis=0)"),
    ("kang.10.batch.b", r"\sum_{n=1}^{N} G_{n}", "sum(G, axis=0)"),
    ("kang.10.batch.b", "Σ_n G_n", "sum(G, axis=0)"),
    ("deriv.batch.b", r"\frac{1}{B}\sum_n \Delta_n", "1 / B * sum(Delta, axis=1)"),
    ("kang.5.bce_logit", r"\hat{y} - y", "yhat - y"),
    ("deriv.hidden", r"(W_2^\top \delta_2) \odot a_1", "W2.T @ delta2 * a1"),
])
def test_latex_copied_from_notes_is_read(exercise_id, typed, python):
    assert reads_as(exercise_id, typed, python)


def test_latex_outside_the_subset_is_refused_by_name_at_its_position():
    feedback = check("kang.5.sigmoid", r"\sigma(s)(1-\sigma(s)) \partial s")
    assert feedback.diagnosis == "could not read the answer"
    assert "at position 24" in feedback.message and r"\partial" in feedback.message
    feedback = check("kang.5.sigmoid", r"\frac{1}{1+e^{-s}}(1-\sigma(s)")
    assert "at position 19" in feedback.message and "every ( needs its )" in feedback.message


# --- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["yhat", "y_hat", "ŷ", "y\u0302", r"\hat y", r"\hat{y}",
                                   r"\widehat{y}"])
def test_every_spelling_of_y_hat_is_the_exercises_yhat(typed):
    assert reads_as("kang.5.bce_logit", typed, "yhat")


@pytest.mark.parametrize("typed", ["W1", "W_1", "W₁", "W_{1}", r"\mathbf{W}_1"])
def test_every_spelling_of_an_indexed_name_is_that_name(typed):
    assert reads_as("deriv.layer1.W", typed, "W1")


def test_a_spelling_that_is_itself_a_name_stays_that_name():
    assert spellings({"W1", "W_1"}) == {}
    assert spellings({"y_pred"}) == {"ypred": "y_pred"}


# --- ambiguous readings are explained -------------------------------------------------------

def test_two_vectors_side_by_side_are_read_entrywise_and_the_note_says_how_to_write_a_dot():
    feedback = check("jin.dsigmoid", "diag(σ(z)(1 − σ(z)))")
    assert feedback.passed and "read as the entrywise product" in feedback.message
    assert "for the inner product write" in feedback.message


def test_two_matrices_that_fit_both_products_are_read_as_the_matrix_product_and_it_says_so():
    feedback = check("kang.8.relu_jacobian", "diag(x > 0) eye(n)")
    assert feedback.passed and "read as the matrix product" in feedback.message
    assert "for the entrywise product write" in feedback.message


def test_a_product_side_by_side_that_does_not_fit_is_diagnosed_and_the_reading_named():
    feedback = check("kang.9.affine.W", "g x")
    assert feedback.diagnosis == "missing transpose"
    assert "“g x” is read as the matrix product g @ x" in feedback.message


def test_a_value_before_a_bracket_is_a_product_and_a_division_before_it_is_read_first():
    feedback = check("kang.4.mul", "(g(b), g(a))")
    assert feedback.passed and "g(…) is read as g times (…)" in feedback.message
    feedback = check("jin.grads.w2", "1/N hᵀ(y_pred − y)")
    assert feedback.passed and "“1/N hᵀ(y_pred − y)” is read left to right" in feedback.message


CARET = Exercise.from_dict({
    "id": "test.caret", "claim": "", "notebook": "", "task": "", "of": "sum(M) * x**T",
    "wrt": "x", "answer": "sum(M) * T * x**(T - 1)",
    "inputs": {"x": "scalar in [0.5, 2]", "T": "scalar in [1, 3]", "M": "n × n"},
    "sizes": {"n": 2}})


def test_caret_t_where_t_is_a_name_is_a_power_of_a_number_and_a_transpose_of_a_matrix():
    scalar, matrix = read(CARET, "x^T"), read(CARET, "M^T")
    assert ast.unparse(scalar.tree) == "x ** T" and "to the power T" in scalar.readings[0]
    assert ast.unparse(matrix.tree) == "M.T" and "read as the transpose" in matrix.readings[0]
    assert ast.unparse(read(CARET, "Mᵀ").tree) == "M.T" and not read(CARET, "Mᵀ").readings


# --- a proof that runs out of time -----------------------------------------------------------

def test_a_proof_that_runs_out_of_time_is_undecided_and_the_numbers_decide(monkeypatch):
    def endless(*args, **kwargs):  # a simplification that never comes back
        while True:
            pass

    monkeypatch.setattr(_prove, "_is_zero", endless)
    monkeypatch.setattr(_prove, "TIME_LIMIT", 0.2)
    feedback = check("kang.5.sigmoid", "σ(s)(1−σ(s))")
    assert feedback.passed and feedback.settled_by == "JAX"
    assert "SymPy ran out of time" in feedback.message
    wrong = check("kang.5.sigmoid", "σ(s)(1+σ(s))")  # far from autodiff: no proof is tried
    assert not wrong.passed and "SymPy ran out of time" not in wrong.message


def test_an_answer_far_from_autodiff_is_rejected_without_asking_sympy(monkeypatch):
    asked = []
    real = _prove.prove
    monkeypatch.setattr(_prove, "prove", lambda *a, **k: asked.append(a) or real(*a, **k))
    assert not check("kang.5.sigmoid", "σ(s)(1+σ(s))").passed and asked == []
    right = check("kang.5.sigmoid", "σ(s) - σ(s)**2")
    assert right.passed and right.settled_by == "SymPy" and len(asked) == 1


def test_an_array_made_by_the_answer_is_limited_to_the_size_of_an_exercise():
    feedback = check("kang.10.batch.b", "np.ones(10**12) @ G")
    assert feedback.diagnosis == "cannot be evaluated" and "more than 1000000 entries" in feedback.message


@pytest.mark.parametrize("answer", ["{" * 3000 + "s" + "}" * 3000, r"\frac{" * 500 + "s" + "}{2}" * 500,
                                    "s+" * 900 + "s", "-" * 1500 + "s", "s " * 3000])
def test_a_deeply_nested_or_overlong_answer_is_refused_without_a_traceback(answer):
    feedback = check("kang.5.sigmoid", answer)
    assert feedback.diagnosis == "could not read the answer" and "Traceback" not in feedback.message
