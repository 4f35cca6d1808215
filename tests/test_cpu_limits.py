"""A cell's time limits: CPU time, wall time for a cell that sleeps, and the grader's own guard for
a cell that turns the kernel's timers off. Each costs only the exercise whose cell hit it."""
from __future__ import annotations

import time

import pytest

from gradbook.exercises._submission import CellLimits, grade_submission
from gradbook.exercises.kernel import runner

from test_grade_attacks import submission, table

BURN = "n = 0\nwhile True:\n    n += 1"
SLEEP = "import time\ntime.sleep(3600)\nanswer = 'yhat - y'"
TIMERS_OFF = """\
import signal, time
signal.setitimer(signal.ITIMER_PROF, 0)
signal.setitimer(signal.ITIMER_REAL, 0)
time.sleep(3600)
"""


# --- the runner's timers, in this process (no kernel) --------------------------------------------

@pytest.fixture
def run(monkeypatch):
    """runner._run with a namespace of its own (not this process's __main__)."""
    monkeypatch.setattr(runner, "_namespace", dict)
    return lambda source, cpu, wall: runner._run(source, "a cell", (cpu, wall))


def test_a_cell_that_computes_is_stopped_by_its_cpu_time_limit(run):
    start = time.process_time()
    said = run(BURN, 0.3, 30)
    assert said == "timed out: the cell used more than its 0.3 s of CPU time"
    assert time.process_time() - start < 2


def test_a_cell_that_sleeps_is_stopped_by_its_wall_time_limit(run):
    start = time.monotonic()
    said = run("__import__('time').sleep(30)", 30, 0.3)
    assert said.startswith("timed out: the cell ran past its wall-time limit of 0.3 s without "
                           "using its 30 s of CPU time"), said
    assert time.monotonic() - start < 5


def test_a_cell_that_swallows_its_timeout_is_stopped_again(run):
    swallow = "try:\n    for i in range(10**12):\n        pass\nexcept BaseException:\n    pass\n"
    start = time.process_time()
    said = run(swallow + BURN, 0.2, 10)
    assert said == "timed out: the cell used more than its 0.2 s of CPU time", said
    assert time.process_time() - start < 10


def test_a_finally_that_sleeps_past_the_cpu_limit_meets_the_wall_limit(run):
    said = run("try:\n    for i in range(10**12):\n        pass\nfinally:\n"
               "    __import__('time').sleep(60)", 0.2, 1.5)
    assert said == ("timed out: the cell used more than its 0.2 s of CPU time, and went on past "
                    "its wall-time limit of 1.5 s"), said


def test_a_cell_within_its_limits_leaves_no_timer_behind(run):
    assert run("sum(range(1000))", 0.2, 0.2) is None
    time.sleep(0.5)  # a timer left armed would raise here, or kill this process


# --- graded in a kernel --------------------------------------------------------------------------

def test_a_cell_past_its_cpu_limit_costs_only_its_exercise_and_a_sleeping_cell_meets_the_wall_limit(
        tmp_path):
    path = submission(tmp_path, "04_logistic_regression", {
        "kang.5.bce_yhat": BURN, "kang.5.bce_logit": SLEEP,
        "kang.5.logreg": "answer = '((yhat - y)*x, yhat - y, (yhat - y)*w)'"}, setup=False)
    report = grade_submission(path, timeout=60, cell_limits=CellLimits(cpu=1, wall=4)).to_json()
    assert table(report) == {"kang.5.bce_yhat": (False, "answer cell failed"),
                             "kang.5.bce_logit": (False, "answer cell failed"),
                             "kang.5.logreg": (True, None)}, report
    why = [r["feedback"] for r in report["exercises"]]
    assert why[0].endswith("timed out: the cell used more than its 1 s of CPU time"), why[0]
    assert "the cell ran past its wall-time limit of 4 s without using its 1 s" in why[1], why[1]
    assert not any("run again" in n for n in report["notes"]), report["notes"]  # the kernel's own
    assert report["sandbox"][:2] == [
        "CPU time 1 s a cell (the kernel's timer)",
        "wall time 4 s a cell (the kernel's timer) and, whatever the kernel does, 9 s a cell and "
        "60 s for the notebook (the grader's clock)"]


def test_a_cell_that_turns_the_kernels_timers_off_is_stopped_by_the_graders_guard(tmp_path):
    path = submission(tmp_path, "03_sigmoid", {
        "kang.5.sigmoid": TIMERS_OFF, "jin.dsigmoid": "answer = 'diag(y_pred*(1 - y_pred))'"},
        setup=False)
    start = time.monotonic()
    report = grade_submission(path, timeout=60, cell_limits=CellLimits(cpu=2, wall=3)).to_json()
    assert table(report) == {"kang.5.sigmoid": (False, "answer cell failed"),
                             "jin.dsigmoid": (True, None)}, report
    assert "did not finish within the grader's wall-clock guard of 8 s a cell" in \
        report["exercises"][0]["feedback"], report
    assert any("run again without it" in n for n in report["notes"]), report["notes"]
    assert time.monotonic() - start < 55  # the guard, not the notebook's 60 s
