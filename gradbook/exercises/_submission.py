"""Grading a submitted student notebook: its cells run in a sandboxed kernel, its verdicts made here.

The submission's code cells are rewritten to run through the kernel's runner (kernel/runner.py,
handed over as source text: the kernel imports nothing of the grader to run it), so that an
exception in one cell does not stop the rest, and every check cell is replaced by the runner's
hand-over of the answer, as data. The grader reads those records, and only those, from the
check cells' outputs, and judges each answer in this process. A record anywhere else, two in
one check cell, or any output that claims a grade is tampering: it is ignored, and the
exercise it touches scores 0. A cell that outlasts its CPU-time or wall-time limit (kept by the
runner in the kernel) fails as an exception does; when a cell kills the kernel, or outlasts the
grader's own wall-clock guard on a cell or the notebook's time limit, the notebook runs again
without that cell, so the exercises after it are still graded.
"""
from __future__ import annotations

import ast
import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ._feedback import GRADE_MIME, Feedback
from ._limits import time_limit
from ._sandbox import Plan, plan as sandbox_plan
from .kernel import runner as _runner_module
from .kernel.runner import ANSWER_MIME

RUNNER = "_gradbook_runner"
RUNNER_SOURCE = Path(_runner_module.__file__).read_text(encoding="utf-8")
MAX_RUNS = 3
PRELOAD = ("numpy", "sympy", "jax.numpy")  # imported before the clock starts on the student's cells
TAMPERING = "tampering"
GUARD_GRACE = 5.0  # seconds past a cell's wall-time limit before the grader stops the cell itself


@dataclass(frozen=True)
class CellLimits:
    """The time limits of each of the student's cells: CPU time, and wall time for a cell that
    waits or sleeps, both kept by the runner in the kernel (where the student's code could defeat
    them), and the grader's own wall-clock guard GUARD_GRACE past them, which it cannot."""

    cpu: float
    wall: float

    def __post_init__(self):
        if not (self.cpu > 0 and self.wall > 0):
            raise ValueError(f"a cell's time limits must be positive, not {self.cpu} s of CPU "
                             f"time and {self.wall} s of wall time")

    @classmethod
    def of(cls, timeout: float) -> "CellLimits":
        """A third of the notebook's time limit in CPU time, half of it in wall time."""
        return cls(max(1.0, timeout / 3), max(1.0, timeout / 2))

    @property
    def guard(self) -> float:
        """The grader's wall-clock guard on a cell."""
        return self.wall + GUARD_GRACE

    def words(self, timeout: float) -> list[str]:
        """The time limits in force, for the score table."""
        return [f"CPU time {self.cpu:.3g} s a cell (the kernel's timer)",
                f"wall time {self.wall:.3g} s a cell (the kernel's timer) and, whatever the "
                f"kernel does, {self.guard:.3g} s a cell and {timeout:.3g} s for the notebook "
                "(the grader's clock)"]


class NotAnExerciseNotebook(ValueError):
    """The file is not a notebook that `python -m gradbook exercises` made."""


@dataclass
class Report:
    """The verdicts on one submission, in the notebook's order."""

    submission: str
    notebook: str
    student: str | None = None
    results: list = field(default_factory=list)      # Feedback.to_json() records
    notes: list = field(default_factory=list)        # what happened to the run
    protections: list = field(default_factory=list)  # the sandbox, in words

    @property
    def score(self) -> int:
        """How many exercises passed."""
        return sum(bool(r["passed"]) for r in self.results)

    @property
    def points(self) -> float:
        """The credit earned: 1 an exercise right, part of 1 for parts right or a declared mistake."""
        return round(sum(float(r.get("credit", 1.0 if r["passed"] else 0.0)) for r in self.results), 4)

    def to_json(self) -> dict:
        """The score table as JSON: per exercise its id, passed, diagnosis and feedback."""
        return {"submission": self.submission, "notebook": self.notebook, "student": self.student,
                "score": self.score, "points": self.points, "total": len(self.results),
                "exercises": self.results,
                "notes": self.notes, "sandbox": self.protections}

    def to_text(self) -> str:
        """The score table as text, then the feedback for each exercise, the notes, the sandbox."""
        width = max([len(r["id"]) for r in self.results] + [8])
        partial = f" ({self.points:g} points with partial credit)" if self.points != self.score else ""
        lines = [f"{self.submission}: {self.score} of {len(self.results)} exercises right{partial}", "",
                 f"  {'exercise':<{width}}  passed  {'diagnosis':<34}  settled by"]
        for r in self.results:
            lines.append(f"  {r['id']:<{width}}  {'yes' if r['passed'] else 'no':<6}  "
                         f"{r['diagnosis'] or '-':<34}  {r.get('settled_by') or '-'}")
        lines.append("")
        for r in self.results:
            lines.append(f"{r['id']}: " + r["feedback"].replace("\n", "\n    "))
        lines += [f"note: {n}" for n in self.notes]
        if self.protections:
            lines += ["", "sandbox: " + "; ".join(self.protections)]
        return "\n".join(lines)


def read_submission(path: Path):
    """The submitted notebook, its notebook name, exercise ids and student, or NotAnExerciseNotebook."""
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


def student_of(nb) -> str | None:
    """The student the notebook names: metadata gradbook.student, or a cell's `student = "..."`."""
    named = nb.metadata.get("gradbook", {}).get("student")
    if isinstance(named, str) and named.strip():
        return named.strip()[:200]
    for cell in nb.cells:
        if cell.cell_type != "code" or "student" not in cell.source:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == \
                    ["student"] and isinstance(node.value, ast.Constant) and \
                    isinstance(node.value.value, str) and node.value.value.strip():
                return node.value.value.strip()[:200]
    return None


def grade_submission(path: Path, timeout: float = 60.0, plan: Plan | None = None,
                     cell_limits: CellLimits | None = None) -> Report:
    """Run a submission in a fresh sandboxed kernel, then grade each of its exercises here.

    `timeout` is the notebook's wall time from its first cell; `cell_limits` each cell's (by
    default CellLimits.of(timeout))."""
    nb, notebook, ids = read_submission(path)
    plan = plan or sandbox_plan()
    limits = cell_limits or CellLimits.of(timeout)
    cells, roles = _harness_cells(nb, ids, (limits.cpu, limits.wall))
    report = Report(Path(path).name, notebook, student_of(nb),
                    protections=limits.words(timeout) + plan.protections())
    skipped: dict[int, str] = {}
    from ._kernel_run import run_sandboxed

    for attempt in range(MAX_RUNS):
        run = _harness_notebook(cells, roles, skipped)
        failure = asyncio.run(run_sandboxed(run, plan, timeout, report.notes, limits.guard))
        if failure is None:
            break
        kind, exercise_id = roles[failure.cell] if failure.cell is not None else (None, None)
        what = f"the answer cell of {exercise_id}" if kind == "answer" else \
            f"cell {failure.cell} (the student's own)" if kind == "cell" else f"the {kind} cell"
        if kind not in ("answer", "cell") or attempt == MAX_RUNS - 1:
            report.notes.append(f"the notebook stopped in {what}: {failure.reason}")
            break
        report.notes.append(f"{what} stopped the notebook ({failure.reason}); the notebook was "
                            "run again without it")
        skipped[failure.cell] = failure.reason
    records, tampered = collect(run, roles, ids, report.notes)
    salt = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    report.results = [verdict(exercise_id, records.get(exercise_id), tampered.get(exercise_id),
                              failure, plan, limits.cpu, salt) for exercise_id in ids]
    return report


def _harness_cells(nb, ids: list[str], limit: tuple[float, float]):
    """(source, role) per cell to run: the runner, the student's code through it, hand-overs;
    each within `limit` (seconds of CPU time, of wall time)."""
    setup = (f"import types as _t\n{RUNNER} = _t.ModuleType({RUNNER!r})\n"
             f"exec(compile({RUNNER_SOURCE!r}, '<gradbook runner>', 'exec'), {RUNNER}.__dict__)\n"
             f"del _t\n{RUNNER}.preload({PRELOAD!r})")
    cells = [(setup, ("setup", None))]
    checked = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("gradbook", {}) if isinstance(cell.metadata.get("gradbook"), dict) else {}
        if meta.get("check") in ids and meta["check"] not in checked:
            cells.append((f"{RUNNER}.hand_over({meta['check']!r}, {limit!r})", ("check", meta["check"])))
            checked.add(meta["check"])
        elif meta.get("answer") in ids:
            cells.append((f"{RUNNER}.answer_cell({meta['answer']!r}, {cell.source!r}, {limit!r})",
                          ("answer", meta["answer"])))
        elif meta.get("check") is None:
            cells.append((f"{RUNNER}.cell({cell.source!r}, {limit!r})", ("cell", None)))
    for exercise_id in ids:  # a check cell the student deleted is put back at the end
        if exercise_id not in checked:
            cells.append((f"{RUNNER}.hand_over({exercise_id!r}, {limit!r})", ("check", exercise_id)))
    return [c for c, _ in cells], [r for _, r in cells]


def _harness_notebook(cells, roles, skipped):
    out = []
    for index, (source, (kind, exercise_id)) in enumerate(zip(cells, roles)):
        if index in skipped:
            source = f"{RUNNER}.skipped({exercise_id!r}, {skipped[index]!r})"
        out.append(nbformat.v4.new_code_cell(source, id=f"graded-{index:03d}"))
    return nbformat.v4.new_notebook(cells=out, metadata={"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}})


def collect(nb, roles, ids, notes: list):
    """The answer record of each exercise, and what tampering touched which exercise.

    A check cell must show exactly one record, for its own exercise; a record elsewhere or a
    second one, and any output claiming a grade, is tampering.
    """
    records: dict = {}
    tampered: dict = {}
    claimed_grade = False
    for index, (cell, (kind, eid)) in enumerate(zip(nb.cells, roles)):
        found = []
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if isinstance(output.get("data"), dict) else {}
            if GRADE_MIME in data:
                claimed_grade = True
            if ANSWER_MIME in data:
                found.append(data[ANSWER_MIME])
        if kind == "check":
            own = [r for r in found if isinstance(r, dict) and r.get("id") == eid]
            if len(found) > 1 or (found and not own):
                tampered[eid] = (f"{len(found)} answer records where the grader hands over one: "
                                 "something in the kernel displayed its own")
            elif own:
                records[eid] = own[0]
        elif found:
            notes.append(f"tampering: a {kind} cell (cell {index}) displayed an answer record; "
                         "it was ignored")
            for record in found:
                if isinstance(record, dict) and record.get("id") in ids:
                    tampered.setdefault(record["id"], "an answer record was displayed outside "
                                        "its check cell")
    if claimed_grade:
        notes.append("tampering: an output claimed a grade (the grade MIME type); grades are "
                     "made by the grader alone, and it was ignored")
    for eid, why in tampered.items():
        notes.append(f"tampering: {eid}: {why}")
    return records, tampered


def verdict(exercise_id: str, record, tampered, failure, plan: Plan, limit: float,
            salt: str = "") -> dict:
    """The grader's verdict on one exercise, from its record alone.

    A function answer is also judged at a point drawn from the submission's own hash (`salt`),
    which no one can know before the submission exists: a table of values cannot pass."""
    from ._bank import lookup
    from ._grader import Grader, check
    from ._received import Refused, RemoteFunction, answer_from
    from ._parse import AutodiffUsed, ParseError

    if tampered:
        return Feedback(exercise_id, False, f"not graded: {tampered}", TAMPERING).to_json()
    if record is None:
        why = failure.reason if failure is not None else "its check cell showed no answer record"
        return Feedback(exercise_id, False, f"not graded: {why}", "not graded").to_json()
    answer = None
    try:
        with time_limit(max(limit, 30.0), _GradingTimeout, cpu=False):
            answer = answer_from(record, plan)
            feedback = Grader(lookup(exercise_id), salt).judge(answer) \
                if isinstance(answer, RemoteFunction) and salt else check(exercise_id, answer)
    except Refused as error:
        feedback = Feedback(exercise_id, False, str(error), error.diagnosis)
    except AutodiffUsed as error:
        feedback = Feedback(exercise_id, False, str(error), "uses autodiff")
    except ParseError as error:
        feedback = Feedback(exercise_id, False, error.explain(), "could not read the answer")
    except _GradingTimeout:
        feedback = Feedback(exercise_id, False, "grading the answer took longer than "
                            f"{max(limit, 30.0):g} s", "timed out")
    except Exception as error:  # noqa: BLE001 - e.g. a function answer that raises
        feedback = Feedback(exercise_id, False, f"grading the answer raised "
                            f"{type(error).__name__}: {error}", "cannot be evaluated")
    finally:
        if hasattr(answer, "close"):
            answer.close()
    return feedback.to_json()


class _GradingTimeout(BaseException):
    """Grading one answer ran past its limit."""
