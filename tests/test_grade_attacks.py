"""A submission cannot raise its own score: every forgery below scores 0 for what it targets."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat

from gradbook.exercises._cli import grade_main
from gradbook.exercises._generate import NOTEBOOKS
from gradbook.exercises._sandbox import namespaces_work
from gradbook.exercises._submission import CellLimits, grade_submission

ROOT = Path(__file__).resolve().parents[1]


def submission(tmp_path, notebook: str, answers: dict, extra: list[str] = (), name=None,
               setup=True) -> Path:
    """A student notebook with these answer cells, extra cells of the student's own first, and
    without its setup cells when `setup` is False (they only cost time where no answer needs them)."""
    nb = nbformat.read(ROOT / NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    if not setup:
        nb.cells = [c for c in nb.cells if c.cell_type == "markdown" or "gradbook" in c.metadata]
    for cell in nb.cells:
        exercise_id = cell.metadata.get("gradbook", {}).get("answer")
        if exercise_id in answers:
            cell.source = answers[exercise_id]
    at = next(i for i, c in enumerate(nb.cells) if "gradbook" in c.metadata)
    nb.cells[at:at] = [nbformat.v4.new_code_cell(s) for s in extra]
    path = tmp_path / f"{name or notebook}.ipynb"
    nbformat.write(nb, path)
    return path


def graded(tmp_path, path: Path, *options) -> dict:
    assert grade_main([str(path), "--out", str(tmp_path / "out"), "-q", *options]) == 0
    return json.loads((tmp_path / "out" / f"{path.stem}.grade.json").read_text(encoding="utf-8"))


def table(report: dict) -> dict:
    return {r["id"]: (r["passed"], r["diagnosis"]) for r in report["exercises"]}


PATCH_CHECK = """\
import gradbook.exercises._grader as g
from gradbook.exercises._feedback import Feedback
g.check = lambda exercise_id, answer: Feedback(exercise_id, True, "right", settled_by="SymPy")
"""
GRADE_HOOK = """\
from IPython.display import display
def _forge(info):
    display({"application/vnd.gradbook.grade+json": {"id": "kang.5.logreg", "passed": True,
             "diagnosis": None, "settled_by": "SymPy", "feedback": "right"}}, raw=True)
get_ipython().events.register("pre_run_cell", _forge)
"""
REPORT_HOOK = """\
def _write_reports(result):
    for name in ["forged", "04_logistic_regression"]:
        try:
            open("{out}/" + name + ".grade.json", "w").write('{{"score": 3}}')
        except OSError:
            pass
get_ipython().events.register("post_run_cell", _write_reports)
"""


def test_the_issues_two_attacks_and_a_report_writing_hook_score_nothing(tmp_path):
    path = submission(tmp_path, "04_logistic_regression",
                      {"kang.5.bce_yhat": "answer = '0'", "kang.5.bce_logit": "answer = 'yhat - y'",
                       "kang.5.logreg": "answer = ('0', '0', '0')"},
                      [PATCH_CHECK, GRADE_HOOK, REPORT_HOOK.format(out=tmp_path / "out")])
    (tmp_path / "out").mkdir()
    report = graded(tmp_path, path)  # the grader's report, written after the kernel has ended
    assert [r["passed"] for r in report["exercises"]] == [False, True, False], report
    assert report["score"] == 1
    assert any("claimed a grade" in n for n in report["notes"]), report["notes"]
    if namespaces_work():  # the teacher's folders are out of the kernel's reach altogether
        assert not (tmp_path / "out" / "forged.grade.json").exists()


SYS_MODULES = """\
import sys, types
fake = types.ModuleType("gradbook.exercises._grader")
fake.check = lambda *args: True
for name in list(sys.modules):
    if name.startswith("gradbook"):
        sys.modules[name] = fake
answer = ("0", "0")
"""
LIAR = """\
class Liar:
    def __eq__(self, other): return True
    def __str__(self): return "(g*b, g*a)"
    __repr__ = __str__
answer = Liar()
"""
GRAD_RENAMED = """\
import jax
slope = jax.grad
def answer(x):
    return slope(lambda t: 3 * t)(x)
"""


def test_forged_grader_modules_lying_objects_and_renamed_autodiff_score_nothing(tmp_path):
    path = submission(tmp_path, "02_gates", {
        "kang.4.add": SYS_MODULES, "kang.4.mul": LIAR, "once.copy": GRAD_RENAMED,
        "kang.4.max": "answer = '(g*(a > b), g*(b > a))'"})
    verdicts = table(graded(tmp_path, path))
    assert verdicts.pop("kang.4.add")[0] is False  # graded as the wrong answer it is
    assert verdicts == {"kang.4.mul": (False, "not an answer"), "once.copy": (False, "uses autodiff"),
                        "kang.4.max": (True, None)}


FORGED_RECORD = """\
from IPython.display import display
display({"application/vnd.gradbook.answer+json": {"id": "deriv.hidden", "form": "text",
         "text": "(W2.T @ delta2) * a1 * (1 - a1)", "passed": True}}, raw=True)
answer = "0"
"""
SECOND_RECORD_HOOK = """\
from IPython.display import display
def _second(info):
    if "hand_over('deriv.layer1.W'" in info.raw_cell:
        display({"application/vnd.gradbook.answer+json": {"id": "deriv.layer1.W", "form": "text",
                 "text": "((W2.T @ delta2) * a1 * (1 - a1)) @ x.T"}}, raw=True)
get_ipython().events.register("pre_run_cell", _second)
"""
SLEEP_IN_FINALLY = """\
import time
try:
    while True:
        pass
finally:
    time.sleep(3600)
"""


def test_forged_answer_records_and_a_sleep_in_finally_score_nothing(tmp_path):
    path = submission(tmp_path, "10_deep_networks", {
        "deriv.hidden": FORGED_RECORD, "deriv.layer1.W": "answer = '0'",
        "deriv.batch.W": SLEEP_IN_FINALLY, "deriv.batch.b": "answer = 'sum(Delta, axis=1, keepdims=True) / B'"},
        [SECOND_RECORD_HOOK], setup=False)
    # small cell limits: the loop meets the CPU limit, its finally the wall limit, in seconds
    report = grade_submission(path, timeout=45, cell_limits=CellLimits(cpu=2, wall=4)).to_json()
    assert table(report) == {"deriv.hidden": (False, "tampering"),
                             "deriv.layer1.W": (False, "tampering"),
                             "deriv.batch.W": (False, "answer cell failed"),
                             "deriv.batch.b": (True, None)}, report
    assert "timed out: the cell used more than its 2 s of CPU time, and went on past its " \
        "wall-time limit of 4 s" in report["exercises"][2]["feedback"], report
