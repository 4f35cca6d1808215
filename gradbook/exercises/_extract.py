"""Reading a derivation without running it: its cells, their tags, and its exercise(...) calls."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

SOLUTION = "solution"  # the tag of a cell that holds (part of) a solution


class DeclarationError(ValueError):
    """An exercise declaration the generator cannot read (not a literal, not alone in its cell)."""


@dataclass
class Cell:
    """One cell of a derivation: its kind, source, tags, and the exercises it declares."""

    index: int
    kind: str
    source: str
    tags: tuple = ()
    exercises: list = field(default_factory=list)  # (id, task, fields) of exercise(...) calls

    @property
    def solution(self) -> bool:
        """Whether the cell is tagged as (part of) a solution."""
        return SOLUTION in self.tags


def read_cells(path: Path, text: str | None = None) -> list[Cell]:
    """The cells of a percent-format source, with their tags and exercise declarations."""
    import jupytext

    text = Path(path).read_text(encoding="utf-8") if text is None else text
    nb = jupytext.reads(text, fmt="py:percent")
    cells = []
    for index, cell in enumerate(nb.cells):
        c = Cell(index, cell.cell_type, cell.source, tuple(cell.metadata.get("tags", ())))
        if c.kind == "code":
            c.exercises = _declarations(Path(path).name, c)
        cells.append(c)
    return cells


def _declarations(filename: str, cell: Cell) -> list:
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return []
    calls = [n.value for n in tree.body if isinstance(n, ast.Expr) and _is_exercise(n.value)]
    nested = [n for n in ast.walk(tree) if _is_exercise(n) and n not in calls]
    if nested:
        raise DeclarationError(f"{filename}, cell {cell.index}: exercise(...) must be a statement "
                               "of its own, not part of an expression")
    if calls and len(calls) != len(tree.body):
        raise DeclarationError(f"{filename}, cell {cell.index}: a cell that declares exercises "
                               "holds nothing else (it becomes the answer and check cells)")
    return [_literal(filename, call) for call in calls]


def _is_exercise(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "exercise"


def _literal(filename: str, call: ast.Call):
    where = f"{filename}, line {call.lineno}"
    if len(call.args) != 2:
        raise DeclarationError(f"{where}: exercise(id, task, ...) takes the id and the task first")
    try:
        exercise_id, task = (ast.literal_eval(a) for a in call.args)
        fields = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg != "same_as"}
    except (ValueError, TypeError, SyntaxError):
        raise DeclarationError(f"{where}: every argument of exercise(...) except same_as must be a "
                               "literal (strings, numbers, lists, dicts), so that the student "
                               "notebook can be made without running the derivation") from None
    if any(kw.arg is None for kw in call.keywords):
        raise DeclarationError(f"{where}: exercise(...) takes no **unpacking")
    return exercise_id, task, fields
