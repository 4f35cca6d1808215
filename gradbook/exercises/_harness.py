"""Inside the grading kernel: run a student's cells so that no failure stops the grading.

Each cell's source is executed in the kernel's namespace with a time limit (SIGALRM, where
the platform has it); an exception is printed as one line and remembered, and the next cell
runs. A check cell grades whatever the answer cell left in `answer` and hands the verdict to
the grader as structured output (GRADE_MIME).
"""
from __future__ import annotations

import contextlib
import signal
import sys

_failed: dict[str, str] = {}  # exercise id -> why its answer cell gave no answer


class CellTimeout(BaseException):
    """A cell ran past its time limit (BaseException, so that `except Exception` cannot eat it)."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise CellTimeout(f"the cell ran longer than its limit of {seconds:.3g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _namespace() -> dict:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else sys.modules["__main__"].__dict__


def _run(source: str, label: str, limit: float) -> str | None:
    """Execute `source`; return None, or the error as one line."""
    try:
        code = compile(source, label, "exec")
    except SyntaxError as error:
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    try:
        with _time_limit(limit):
            exec(code, _namespace())  # noqa: S102 - running the student's own cell is the point
    except CellTimeout as error:
        return f"timed out: {error}"
    except BaseException as error:  # noqa: BLE001 - a student's cell may raise anything at all
        line = next((tb.tb_lineno for tb in _frames(error.__traceback__)
                     if tb.tb_frame.f_code.co_filename == label), None)
        where = f" (line {line})" if line else ""
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}{where}"
    return None


def _frames(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def cell(source: str, limit: float) -> None:
    """Run one of the student's other code cells; an error is shown and grading goes on."""
    error = _run(source, "<a cell of the submission>", limit)
    if error:
        print(f"this cell failed ({error}); grading goes on")


def answer_cell(exercise_id: str, source: str, limit: float) -> None:
    """Run the answer cell of one exercise, starting from no `answer` at all."""
    _namespace().pop("answer", None)
    error = _run(source, f"<answer to {exercise_id}>", limit)
    if error:
        _failed[exercise_id] = error
        print(f"the answer cell failed: {error}")


def skipped(exercise_id: str | None, reason: str) -> None:
    """A cell that stopped the kernel before; it is not run again."""
    print(f"not run: {reason}")
    if exercise_id:
        _failed[exercise_id] = reason


def check_cell(exercise_id: str, limit: float) -> None:
    """Grade the exercise's answer and show the verdict, with its record for the grader."""
    from IPython.display import display

    from ._grader import GRADE_MIME, Feedback, check

    if exercise_id in _failed:
        feedback = Feedback(exercise_id, False, f"the answer cell failed: {_failed[exercise_id]}",
                            "answer cell failed")
    else:
        answer = _namespace().pop("answer", None)  # gone, so the next exercise cannot inherit it
        try:
            with _time_limit(limit):
                feedback = check(exercise_id, answer)
        except CellTimeout as error:
            feedback = Feedback(exercise_id, False, f"grading the answer timed out: {error}",
                                "timed out")
        except Exception as error:  # noqa: BLE001 - e.g. a function answer that raises
            feedback = Feedback(exercise_id, False, f"grading the answer raised "
                                f"{type(error).__name__}: {error}", "cannot be evaluated")
    feedback._shown = True
    display({"text/markdown": feedback._repr_markdown_(), "text/plain": repr(feedback),
             GRADE_MIME: feedback.to_json()}, raw=True)
