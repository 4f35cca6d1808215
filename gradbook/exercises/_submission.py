"""Grading a submitted student notebook: run it in a fresh kernel, collect a verdict per exercise.

The submission's code cells are rewritten to run through the harness (_harness.py), so that
an exception in one cell does not stop the rest, and every check cell is replaced by the
grader's own, whatever the student did to it. The notebook runs with build/_execute.py's
execute_notebook (IPC, no network, a time limit). When a cell kills the kernel or outlasts
the notebook's time limit, the notebook runs again without that cell, so the exercises
after it are still graded.
"""
from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ._grader import GRADE_MIME

HARNESS = "_gradbook_harness"
MAX_RUNS = 3


class NotAnExerciseNotebook(ValueError):
    """The file is not a notebook that `python -m gradbook exercises` made."""


@dataclass
class Report:
    """The verdicts on one submission, in the notebook's order."""

    submission: str
    notebook: str
    results: list = field(default_factory=list)  # Feedback.to_json() records
    notes: list = field(default_factory=list)    # what happened to the run (timeouts, deaths)

    @property
    def score(self) -> int:
        """How many exercises passed."""
        return sum(bool(r["passed"]) for r in self.results)

    def to_json(self) -> dict:
        """The score table as JSON: per exercise its id, passed, diagnosis and feedback."""
        return {"submission": self.submission, "notebook": self.notebook, "score": self.score,
                "total": len(self.results), "exercises": self.results, "notes": self.notes}

    def to_text(self) -> str:
        """The score table as text, then the feedback for each exercise."""
        width = max([len(r["id"]) for r in self.results] + [8])
        lines = [f"{self.submission}: {self.score} of {len(self.results)} exercises right", "",
                 f"  {'exercise':<{width}}  passed  {'diagnosis':<34}  settled by"]
        for r in self.results:
            lines.append(f"  {r['id']:<{width}}  {'yes' if r['passed'] else 'no':<6}  "
                         f"{r['diagnosis'] or '-':<34}  {r.get('settled_by') or '-'}")
        lines.append("")
        for r in self.results:
            lines.append(f"{r['id']}: " + r["feedback"].replace("\n", "\n    "))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def read_submission(path: Path):
    """The submitted notebook and its exercise ids, or NotAnExerciseNotebook."""
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise NotAnExerciseNotebook(f"{path}: no such file") from None
    except Exception as error:  # noqa: BLE001 - any unreadable file is refused the same way
        raise NotAnExerciseNotebook(f"{path}: not a notebook ({type(error).__name__})") from None
    meta = nb.metadata.get("gradbook", {}).get("exercises") if isinstance(
        nb.metadata.get("gradbook"), dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("ids"), list) or not meta["ids"]:
        raise NotAnExerciseNotebook(f"{path}: not a gradbook exercise notebook (make them with "
                                    "python -m gradbook exercises)")
    from ._bank import UnknownExercise, lookup

    try:
        for exercise_id in meta["ids"]:
            lookup(exercise_id)
    except UnknownExercise as error:
        raise NotAnExerciseNotebook(f"{path}: {error}; was it made by another version of "
                                    "gradbook?") from None
    return nb, str(meta.get("notebook", "")), list(meta["ids"])


def grade_submission(path: Path, timeout: float = 60.0) -> Report:
    """Run a submission in a fresh kernel and grade each of its exercises."""
    nb, notebook, ids = read_submission(path)
    limit = max(1.0, timeout / 3)
    cells, roles = _harness_cells(nb, ids, limit)
    report = Report(Path(path).name, notebook)
    skipped: dict[int, str] = {}
    for attempt in range(MAX_RUNS):
        run = _harness_notebook(cells, roles, skipped)
        with tempfile.TemporaryDirectory(prefix="gradbook-grade-") as cwd:
            failure = asyncio.run(_execute(run, Path(cwd), timeout))
        if failure is None:
            break
        kind, exercise_id = roles[failure.cell] if failure.cell is not None else (None, None)
        what = f"the answer cell of {exercise_id}" if kind == "answer" else f"a {kind} cell"
        if kind not in ("answer", "cell") or attempt == MAX_RUNS - 1:
            report.notes.append(f"the notebook stopped in {what}: {failure.reason}")
            break
        report.notes.append(f"{what} stopped the notebook ({failure.reason}); the notebook was "
                            "run again without it")
        skipped[failure.cell] = failure.reason
    report.results = [_verdict(run, roles, exercise_id, failure) for exercise_id in ids]
    return report


async def _execute(nb, cwd: Path, timeout: float):
    from ..build._execute import execute_notebook

    return await execute_notebook(nb, cwd, timeout)


def _harness_cells(nb, ids: list[str], limit: float):
    """(source, role) per cell to run: the student's code through the harness, our checks."""
    cells = [(f"import gradbook.exercises._harness as {HARNESS}", ("setup", None))]
    checked = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("gradbook", {}) if isinstance(cell.metadata.get("gradbook"), dict) else {}
        if meta.get("check") in ids:
            cells.append((f"{HARNESS}.check_cell({meta['check']!r}, {limit!r})", ("check", meta["check"])))
            checked.add(meta["check"])
        elif meta.get("answer") in ids:
            cells.append((f"{HARNESS}.answer_cell({meta['answer']!r}, {cell.source!r}, {limit!r})",
                          ("answer", meta["answer"])))
        else:
            cells.append((f"{HARNESS}.cell({cell.source!r}, {limit!r})", ("cell", None)))
    for exercise_id in ids:  # a check cell the student deleted is put back at the end
        if exercise_id not in checked:
            cells.append((f"{HARNESS}.check_cell({exercise_id!r}, {limit!r})", ("check", exercise_id)))
    return [c for c, _ in cells], [r for _, r in cells]


def _harness_notebook(cells, roles, skipped):
    out = []
    for index, (source, (kind, exercise_id)) in enumerate(zip(cells, roles)):
        if index in skipped:
            source = f"{HARNESS}.skipped({exercise_id!r}, {skipped[index]!r})"
        out.append(nbformat.v4.new_code_cell(source, id=f"graded-{index:03d}"))
    return nbformat.v4.new_notebook(cells=out, metadata={"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}})


def _verdict(nb, roles, exercise_id, failure) -> dict:
    for cell, (kind, eid) in zip(nb.cells, roles):
        if kind == "check" and eid == exercise_id:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if GRADE_MIME in data:
                    record = data[GRADE_MIME]
                    return json.loads(record) if isinstance(record, str) else dict(record)
    why = failure.reason if failure is not None else "its check cell did not run"
    return {"id": exercise_id, "passed": False, "diagnosis": "not graded", "settled_by": None,
            "feedback": f"not graded: {why}"}
