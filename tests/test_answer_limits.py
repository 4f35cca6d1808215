"""Answers that would make the grader compute for hours or fill its memory are refused quickly,
with a message that says why; ordinary answers with powers are graded as before.

The hostile answers are graded in a child process with a 4 GiB address-space limit and a time
limit, so that a regression fails these tests instead of taking the machine down with it.
"""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy as sp

from gradbook.exercises import _bounds
from gradbook.exercises._evaluate import EvalError, JaxBackend, NumpyBackend, SymBackend, run
from gradbook.exercises._grader import check
from gradbook.exercises._parse import ParseError, parse

SECONDS = 2.0  # each refusal, once the grader has started (the first answer starts JAX)

HOSTILE = {
    "a tower of powers of ten": ("kang.5.sigmoid", "10**10**10", "the power 10000000000"),
    "a tower of twos": ("kang.5.sigmoid", "2**2**2**2**2", "the power 65536"),
    "a huge integer power": ("kang.5.sigmoid", "9**99999999", "the power 99999999"),
    "a huge power of a sum": ("kang.5.sigmoid", "(s + 1)**10**6", "the power 1000000"),
    "a power written in LaTeX": ("kang.5.sigmoid", "10^{10^{10}}", "the power 10000000000"),
    "a number past float64": ("kang.5.sigmoid", "1e999", "beyond float64's range"),
    "a product past float64": ("kang.5.sigmoid", "(10**300)**2 * s", "beyond float64's range"),
    "an exponential past float64": ("kang.5.sigmoid", "exp(700) * exp(700) * s",
                                    "beyond float64's range"),
    "sizes raised to a tower": ("jin.dsigmoid", "diag(z) * N**N**N**N", ""),
    "an outer product of 10^10 entries": (
        "kang.5.sigmoid", "sum(outer(ones(10**5), ones(10**5)))", "more than 1000000 entries"),
    "an identity of 10^12 entries": ("kang.5.sigmoid", "sum(eye(10**6))", "entries"),
    "a broadcast of 10^9 entries": (
        "kang.5.sigmoid", "sum(ones(1000).reshape(-1, 1, 1) * ones(1000).reshape(1, -1, 1) "
                          "* ones(1000))", "entries"),
    "an einsum of 10^9 products": (
        "kang.5.sigmoid", "einsum('i,j,k->', ones(1000), ones(1000), ones(1000))", "allowed"),
    "a matrix product of 10^12 products": (
        "kang.5.sigmoid", "sum(ones(10**6).reshape(1000, 1000) @ ones(10**6).reshape(1000, 1000)"
                          " @ ones(10**6).reshape(1000, 1000))", "multiplications"),
    "a deeply nested formula": ("kang.5.sigmoid", "(" * 10000 + "s" + ")" * 10000,
                                "characters long"),
    "a formula nested 1000 deep": ("kang.5.sigmoid", "(" * 990 + "s" + ")" * 990,
                                   "nested"),
}

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
    from gradbook.exercises._grader import check
    check("kang.5.sigmoid", "s")  # start the grader and JAX before the clock runs
    check("jin.dsigmoid", "z")
    for name, (exercise, answer, _) in json.loads(sys.argv[1]).items():
        start = time.perf_counter()
        feedback = check(exercise, answer)
        print(json.dumps({"name": name, "seconds": time.perf_counter() - start,
                          "passed": feedback.passed, "diagnosis": feedback.diagnosis,
                          "message": feedback.message}), flush=True)
""")


@pytest.fixture(scope="module")
def hostile_verdicts():
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(HOSTILE)], capture_output=True,
                          text=True, timeout=300)
    verdicts = {v["name"]: v for v in map(json.loads, done.stdout.splitlines())}
    assert done.returncode == 0, f"the grader died or hung: {done.stderr[-2000:]}"
    return verdicts


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_answer_is_refused_quickly_and_says_why(hostile_verdicts, name):
    verdict = hostile_verdicts[name]
    assert not verdict["passed"]
    assert HOSTILE[name][2] in verdict["message"], verdict["message"]
    assert verdict["seconds"] < SECONDS, f"{name}: {verdict['seconds']:.2f} s"


# --- ordinary powers: one right answer passes, one wrong is rejected ---------------------------

ORDINARY = [
    ("kang.3.chain", "2*x*cos(x**2)", "x*cos(x**2)"),                      # x**2
    ("kang.5.bce_yhat", "-y*yhat**-1 + (1 - y)*(1 - yhat)**-1",          # s**-1
     "-y*yhat**-1 - (1 - y)*(1 - yhat)**-1"),
    ("kang.5.sigmoid", "exp(-s)/(1 + exp(-s))**2", "exp(-s)/(1 + exp(-s))"),  # exp(-x)
    ("bptt.delta.h0", "w*(1 - h1**2)*(g1 + w*(1 - h2**2)*(g2 + w*(1 - h3**2)*g3))",  # 1 - h**2
     "w*(1 - h1**2)*(g1 + w*(1 - h2**2)*(g2 + w*(1 - h3)*g3))"),
]


@pytest.mark.parametrize("exercise_id, right, wrong", ORDINARY)
def test_an_ordinary_power_is_graded_as_before(exercise_id, right, wrong):
    assert check(exercise_id, right).passed
    assert not check(exercise_id, wrong).passed


def test_a_power_at_the_bound_is_read_and_one_past_it_is_refused():
    parse(f"s**{_bounds.MAX_EXPONENT}", {"s"})
    with pytest.raises(ParseError, match="larger in size than the 1000 allowed"):
        parse(f"s**-{_bounds.MAX_EXPONENT + 1}", {"s"})


# --- the backends' own bounds, where no literal gives the size away ----------------------------

def _sym_scope():
    return {"N": sp.Integer(4), "s": sp.Symbol("s"), "a": sp.Symbol("a"), "b": sp.Symbol("b"),
            "c": sp.Symbol("c")}


def test_sympy_refuses_an_exact_power_of_too_many_bits_before_computing_it():
    with pytest.raises(EvalError, match="bits"):
        run(parse("(N**N**N)**N**N", set(_sym_scope())).tree, SymBackend(), _sym_scope())


def test_sympy_refuses_a_power_of_a_sum_too_long_to_expand():
    with pytest.raises(EvalError, match="expand into more than"):
        run(parse("(a + b + c)**100", set(_sym_scope())).tree, SymBackend(), _sym_scope())


def test_sympy_refuses_a_long_power_that_a_product_gathers():
    with pytest.raises(EvalError, match="expand into more than"):
        run(parse("(a + b + c)**50 * (a + b + c)**50", set(_sym_scope())).tree, SymBackend(),
            _sym_scope())


def test_sympy_still_computes_a_short_power_of_a_sum():
    value = run(parse("(a + b)**3", set(_sym_scope())).tree, SymBackend(), _sym_scope())
    assert sp.expand(value - (sp.Symbol("a") + sp.Symbol("b"))**3) == 0


@pytest.mark.parametrize("backend", [JaxBackend(), NumpyBackend()], ids=["jax", "numpy"])
def test_an_array_past_the_bound_is_refused_before_it_is_made(backend):
    env = {"x": np.ones(3)}
    with pytest.raises(EvalError, match="more than 1000000 entries"):
        run(parse("outer(ones(10**4), ones(10**4)) * 0", {"x"}).tree, backend, env)
    assert float(run(parse("sum(outer(ones(10**3), ones(10**3)))", {"x"}).tree, backend,
                     env)) == 10**6


def test_a_sympy_answer_nested_too_deeply_is_refused_not_raised():
    s = sp.Symbol("s", real=True)
    deep = s
    for _ in range(300):
        deep = sp.sin(deep)
    feedback = check("kang.5.sigmoid", deep)
    assert not feedback.passed and "nested too deeply" in feedback.message


def test_an_answer_infinite_at_every_point_is_diagnosed_not_raised():
    feedback = check("kang.5.sigmoid", "exp(1000 + 0*s) * sigma(s)*(1 - sigma(s))")
    assert not feedback.passed and "inf" in feedback.message
