"""Notebook 14's exercises and the answer language's corr, conv, pad and flip.

The exercises are read from the derivation's declarations (as `python -m gradbook exercises`
reads them), so these tests do not wait for the bank to be regenerated.
"""
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from gradbook.exercises._declare import make_exercise
from gradbook.exercises._evaluate import EvalError, JaxBackend, NumpyBackend, SymBackend, run
from gradbook.exercises._extract import read_cells
from gradbook.exercises._generate import generate
from gradbook.exercises._grader import EXPECTED_MISTAKE, check
from gradbook.exercises._parse import ParseError, parse

ROOT = Path(__file__).resolve().parents[1]
DERIVATION = ROOT / "derivations" / "14_convolution.py"


@pytest.fixture(scope="module")
def exercises():
    out = {}
    for cell in read_cells(DERIVATION):
        for exercise_id, task, fields in cell.exercises:
            out[exercise_id] = make_exercise(exercise_id, task, DERIVATION.stem, **fields)
    return out


def test_notebook_14_declares_the_input_and_the_kernel_gradient(exercises):
    assert {"conv.input.x", "conv.kernel.w"} <= set(exercises)
    assert all(ex.mistakes for ex in exercises.values())


# --- the input gradient --------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["corr(pad(g, k - 1), flip(w))", "conv(g, w)",
                                    "np.correlate(np.pad(g, 2), w[::-1])",
                                    "corr(g, flip(w), mode='full')"])
def test_a_right_input_gradient_passes(exercises, answer):
    feedback = check(exercises["conv.input.x"], answer)
    assert feedback.passed, feedback


@pytest.mark.parametrize("answer", ["corr(pad(g, k - 1), w)", "conv(g, flip(w))"])
def test_the_unflipped_kernel_gets_the_teachers_message(exercises, answer):
    feedback = check(exercises["conv.input.x"], answer)
    assert not feedback.passed and feedback.diagnosis == EXPECTED_MISTAKE, feedback
    assert feedback.message.startswith("The unflipped kernel")


def test_a_flipped_sign_of_the_input_gradient_is_diagnosed(exercises):
    feedback = check(exercises["conv.input.x"], "-conv(g, w)")
    assert not feedback.passed and feedback.diagnosis == "flipped sign", feedback


# --- the kernel gradient -------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["corr(x, g)", r"\operatorname{corr}(x, g)",
                                    "jnp.correlate(x, g, mode='valid')"])
def test_a_right_kernel_gradient_passes(exercises, answer):
    feedback = check(exercises["conv.kernel.w"], answer)
    assert feedback.passed, feedback


@pytest.mark.parametrize("answer, opening", [
    ("corr(x, flip(g))", "The flip belongs to the input gradient only"),
    ("conv(x, g, mode='valid')", "The flip belongs to the input gradient only"),
    ("corr(g, x)", "The arguments are swapped")])
def test_a_kernel_gradient_mistake_gets_its_message(exercises, answer, opening):
    feedback = check(exercises["conv.kernel.w"], answer)
    assert not feedback.passed and feedback.diagnosis == EXPECTED_MISTAKE, feedback
    assert feedback.message.startswith(opening)


# --- the student notebook ------------------------------------------------------------------

def test_the_student_notebook_of_14_keeps_the_setup_and_gives_nothing_away():
    files = generate(ROOT)
    text = files[Path("notebooks") / "exercises" / "14_convolution.ipynb"]
    assert '"conv.input.x"' in text and '"conv.kernel.w"' in text
    assert "def correlate(a, k)" in text  # the setup is kept
    for result in ("flip(w))", "corr(x, g)", "correlate(x, g)", "w[::-1]", "jnp.convolve"):
        assert result not in text


# --- what corr, conv, pad and flip mean, in every backend -----------------------------------

BACKENDS = [JaxBackend(), NumpyBackend(), SymBackend()]


def _value(text, env, backend):
    if isinstance(backend, SymBackend):
        env = {n: np.array([sp.Rational(repr(float(v))) for v in np.ravel(x)],
                           dtype=object).reshape(np.shape(x)) for n, x in env.items()}
    value = run(parse(text, set(env)).tree, backend, env)
    return np.asarray(value, dtype=np.float64)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize("n, m", [(5, 3), (2, 3), (4, 4)])
def test_corr_and_conv_mean_what_numpy_means(backend, n, m):
    rng = np.random.default_rng(n * 10 + m)
    env = {"a": rng.standard_normal(n), "k": rng.standard_normal(m)}
    a, k = env["a"], env["k"]
    expected = {"corr(a, k)": np.correlate(a, k, "valid"),
                "corr(a, k, mode='full')": np.correlate(a, k, "full"),
                "conv(a, k)": np.convolve(a, k, "full"),
                "np.convolve(a, k, 'valid')": np.convolve(a, k, "valid"),
                "pad(a, 2)": np.pad(a, 2), "pad(a, (0, 1))": np.pad(a, (0, 1)),
                "flip(k)": k[::-1]}
    for text, value in expected.items():
        np.testing.assert_allclose(_value(text, env, backend), value, rtol=1e-12, atol=1e-12,
                                   err_msg=text)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_a_2d_corr_correlates_along_both_axes(backend):
    rng = np.random.default_rng(14)
    env = {"a": rng.standard_normal((3, 4)), "k": rng.standard_normal((2, 3))}
    windows = np.lib.stride_tricks.sliding_window_view(env["a"], (2, 3))
    np.testing.assert_allclose(_value("corr(a, k)", env, backend),
                               np.einsum("ijab,ab->ij", windows, env["k"]), rtol=1e-12)
    np.testing.assert_allclose(_value("flip(k)", env, backend), env["k"][::-1, ::-1])


def test_an_unknown_mode_is_refused_where_it_is_written():
    with pytest.raises(ParseError, match="takes mode='full' or mode='valid'"):
        parse("conv(g, w, mode='same')", {"g", "w"})


def test_a_kernel_with_other_axes_than_its_array_is_refused():
    env = {"a": np.ones((3, 3)), "k": np.ones(2)}
    with pytest.raises(EvalError, match="as many axes"):
        run(parse("corr(a, k)", {"a", "k"}).tree, NumpyBackend(), env)
