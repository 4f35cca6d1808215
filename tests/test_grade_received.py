"""What the grader takes from a kernel is data: read without eval, checked, run apart."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sympy as sp

from gradbook.exercises._grader import check
from gradbook.exercises._parse import AutodiffUsed
from gradbook.exercises._received import Refused, answer_from
from gradbook.exercises._sandbox import plan
from gradbook.exercises._srepr import SreprError, from_srepr
from gradbook.exercises.kernel import runner

KERNEL_SIDE = Path(runner.__file__).parent


def test_the_kernel_side_imports_nothing_of_gradbook():
    for path in KERNEL_SIDE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "." for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.startswith(("gradbook", "."))}, path.name


def test_a_sympy_answer_is_rebuilt_from_its_srepr():
    s, y = sp.symbols("s y")
    answer = answer_from({"form": "sympy", "items": [{"srepr": sp.srepr(sp.exp(-s) - y)}],
                          "tuple": False}, None)
    assert answer == sp.exp(-s) - y


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "Add('__import__(1)')",
                                  "Symbol('x').__class__", "Pow(Integer(10), Integer(10**20))",
                                  "sympify('1')", "(lambda: 1)()"])
def test_an_srepr_that_is_not_sympy_data_is_refused(text):
    with pytest.raises(SreprError):
        from_srepr(text)


def test_a_record_that_claims_a_verdict_is_only_its_answer():
    record = {"form": "text", "text": "y - yhat", "passed": True, "diagnosis": None}
    assert check("kang.5.bce_logit", answer_from(record, None)).passed is False


def test_an_object_that_is_not_an_answer_is_refused():
    with pytest.raises(Refused, match="is not an answer"):
        answer_from({"form": "other", "type": "__main__.Liar"}, None)


def _function(source, **kw):
    return {"form": "function", "name": "answer", "source": source, "params": ["s", "y"],
            "helpers": {}, "modules": {"jnp": "jax.numpy"}, "values": {}, "unsent": {}, **kw}


@pytest.mark.parametrize("source", [
    "def answer(s, y):\n    import jax\n    return jax.grad(f)(s)\n",
    "def answer(s, y):\n    return getattr(jnp, 'gr' + 'ad')\n",
    "def answer(s, y):\n    return jnp.__dict__\n",
    "def answer(s, y):\n    return open('/etc/passwd').read()\n"])
def test_a_function_that_reaches_out_of_its_small_world_is_refused(source):
    with pytest.raises((Refused, AutodiffUsed)):
        answer_from(_function(source), plan("off"))


def test_autodiff_under_another_name_is_refused():
    record = _function("def answer(s, y):\n    return slope(f)(s)\n",
                       unsent={"slope": {"type": "builtins.function", "name": "grad"}})
    with pytest.raises(AutodiffUsed, match="slope"):
        answer_from(record, plan("off"))


def test_a_function_is_called_in_a_process_of_its_own_and_graded():
    right = _function("def answer(s, y):\n    return sig(s) - y\n",
                      helpers={"sig": "def sig(t):\n    return 1 / (1 + jnp.exp(-t))\n"})
    wrong = _function("def answer(s, y):\n    return y - 1 / (1 + jnp.exp(-s))\n")
    for record, passed in ((right, True), (wrong, False)):
        function = answer_from(record, plan("off"))
        try:
            assert check("kang.5.bce_logit", function).passed is passed
        finally:
            function.close()


def test_a_table_of_values_at_the_banks_points_fails_at_the_submissions_own_point():
    from gradbook.exercises._bank import lookup
    from gradbook.exercises._grader import Grader

    ex = lookup("kang.5.bce_logit")
    reference = Grader(ex)
    table = {(round(p["s"], 9), round(p["y"], 9)): float(reference.truth(label, p)[0])
             for label, p in reference.points}
    source = (f"def answer(s, y):\n    table = {table!r}\n"
              "    return table[(round(float(s), 9), round(float(y), 9))]\n")
    for salt, passed in (("", True), ("a1b2c3", False)):
        function = answer_from(_function(source, modules={}), plan("off"))
        try:
            assert Grader(ex, salt or None).judge(function).passed is passed
        finally:
            function.close()
