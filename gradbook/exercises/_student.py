"""A derivation's student notebook: the prose and setup kept, each solution replaced by an exercise.

Cells tagged `solution` are left out (a Markdown one keeps its headings, unless they hold
math); `verifies(...)` and `summary()` go, since they would print the claims; each
`exercise(...)` cell becomes the task, an answer cell and a check cell. Nothing is executed.
The notebook is refused when a kept cell uses a name only a solution cell defines, or when it
contains a spelling of a result.
"""
from __future__ import annotations

import ast
import builtins
import re

import nbformat

from ..build._convert import NOTEBOOK_METADATA
from ._bank import Exercise
from ._extract import Cell

LANGUAGE = (
    "**How to answer.** Under each exercise, write your answer in the answer cell and run the "
    "check cell below it. An answer is a string of plain math, as NumPy reads it: `@` is the "
    "matrix product, `*` the entrywise product, `x.T` a transpose, `(a > 0)` a mask of 0s and "
    "1s, `sum(m, axis=0)` a sum down the rows, `**` or `^` a power; `exp`, `log`, `tanh`, "
    "`sigmoid`, `relu`, `max`, `diag`, `outer` and `where` are there to use, for example "
    "`answer = \"a*b - exp(-c)\"`. A SymPy expression works too, and so does a Python "
    "function whose parameters are named after the inputs (`def answer(a, b): ...`). "
    "An answer that asks autodiff (`jax.grad`, ...) for the result is not accepted.\n\n"
    "**How it is checked.** The grader first tries to prove your formula equal to the right "
    "one with SymPy; when SymPy cannot decide, it compares the two in float64 with JAX's "
    "autodiff at the worked example and at random points. It says which of the two settled "
    "it, and when the answer is wrong, what kind of wrong: a flipped sign, a constant factor, a "
    "missing transpose, and so on, with the numbers. A teacher grades a whole notebook with "
    "`python -m gradbook grade {file}`.")


class StudentNotebookError(ValueError):
    """A student notebook that would not run, or would give a result away."""


def student_notebook(name: str, cells: list[Cell], exercises: dict[str, Exercise],
                     spellings: dict[str, list[str]]) -> nbformat.NotebookNode:
    """The student notebook of derivation `name` (e.g. 03_sigmoid), made from its cells."""
    out = []
    title, rest = _title(cells[0]) if cells and cells[0].kind == "markdown" else (name, None)
    numbered = list(exercises.values())
    out.append(_markdown("exercise-intro", _intro(name, title, numbered)))
    if rest is not None:
        out.append(_markdown("cell-000", rest))
    for cell in cells[1:] if cells and cells[0].kind == "markdown" else cells:
        if cell.exercises:
            for exercise_id, _, _ in cell.exercises:
                out += _exercise_cells(numbered.index(exercises[exercise_id]) + 1,
                                       exercises[exercise_id])
            continue
        kept = _kept_source(cell)
        if kept is None:
            continue
        make = _markdown if cell.kind == "markdown" else _code
        out.append(make(f"cell-{cell.index:03d}", kept))
    nb = nbformat.v4.new_notebook(cells=_without_empty_headings(out))
    nb.metadata = nbformat.from_dict({**NOTEBOOK_METADATA, "gradbook": {
        "exercises": {"notebook": name, "ids": [e.id for e in numbered]}}})
    nb.nbformat, nb.nbformat_minor = 4, 5
    nbformat.validate(nb)
    _refuse_undefined_names(name, nb)
    _refuse_leaks(name, nb, spellings)
    return nb


def _title(cell: Cell) -> tuple[str, str | None]:
    lines = cell.source.splitlines()
    title = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("# ") else ""
    if cell.solution:
        return title, None
    body = "\n".join(lines[1:]).strip() if title else cell.source
    return title, body or None


def _without_empty_headings(cells: list) -> list:
    """Drop a cell of headings only (left of a solution) that another such cell follows."""
    def headings_only(cell):
        return cell.cell_type == "markdown" and all(
            ln.startswith("#") for ln in cell.source.splitlines() if ln.strip())

    return [c for c, nxt in zip(cells, cells[1:] + [None])
            if not (headings_only(c) and (nxt is None or headings_only(nxt)))]


def _kept_source(cell: Cell) -> str | None:
    """What of a cell the student notebook keeps, or None."""
    if cell.kind == "markdown":
        if not cell.solution:
            return cell.source
        headings = [ln for ln in cell.source.splitlines() if ln.startswith("#") and "$" not in ln]
        return "\n\n".join(headings) or None
    if cell.solution:
        return None
    source = _without_calls(cell.source, {"verifies", "summary"})
    return source if source.strip() else None


def _without_calls(source: str, names: set[str]) -> str:
    """The source without its top-level statements that call one of `names`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.splitlines()
    drop = set()
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                isinstance(node.value.func, ast.Name) and node.value.func.id in names:
            drop.update(range(node.lineno - 1, node.end_lineno))
    kept = [ln for i, ln in enumerate(lines) if i not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")


def _intro(name: str, title: str, exercises: list[Exercise]) -> str:
    rows = ["| | exercise | find | source |", "|---|---|---|---|"]
    for i, ex in enumerate(exercises, 1):
        rows.append(f"| {i} | `{ex.id}` | {_what(ex)} | {ex.cite} |")
    number = name.split("_")[0]
    return (f"# {title} — exercises\n\n"
            f"The exercise version of notebook {number}: its prose and setup are kept, and the "
            f"results below are left for you to derive. Each exercise is proven in the notebook "
            f"`{name}` once you have done it yourself.\n\n" + "\n".join(rows) + "\n\n" +
            LANGUAGE.format(file=f"{name}.ipynb"))


def _what(ex: Exercise) -> str:
    if ex.kind == "jacobian":
        return "the Jacobian with respect to " + ", ".join(f"`{w}`" for w in ex.wrt)
    return ", ".join(f"∂/∂`{w}`" for w in ex.wrt)


def _exercise_cells(number: int, ex: Exercise) -> list:
    slug = ex.id.replace(".", "-")
    values, functions = ex.definitions()
    specs = ex.input_specs()
    given = "; ".join(f"`{n}`: {_shape_words(specs[n])}" for n in ex.inputs)
    defined = "; ".join([f"`{k} = {v}`" for k, v in values.items()] +
                        [f"`{f}({', '.join(p)}) = {body}`" for f, (p, body) in functions.items()])
    if ex.kind == "jacobian":
        wanted = "the Jacobian (rows follow the outputs, columns the inputs), one formula"
    elif len(ex.wrt) == 1:
        wanted = f"∂/∂`{ex.wrt[0]}`, one formula"
    else:
        wanted = (f"a tuple of {len(ex.wrt)} formulas, "
                  f"({', '.join(f'∂/∂{w}' for w in ex.wrt)})")
    names = sorted(ex.names() | ex.functions())
    lines = [f"### Exercise {number} · `{ex.id}`", "", ex.task, "",
             f"- **given:** {given}"]
    if defined:
        lines.append(f"- **defined:** {defined}")
    lines += [f"- **answer:** {wanted}, in the names {', '.join(f'`{n}`' for n in names)}",
              f"- *source: {ex.cite}*"]
    answer = (f"# Exercise {ex.id}: {wanted.replace('`', '')}.\n"
              f"# A string of plain math, a SymPy expression, or a function of the named inputs.\n"
              "answer = ...")
    check = f'from gradbook import grade\n\ngrade("{ex.id}", answer)'
    return [_markdown(f"{slug}-task", "\n".join(lines)),
            _code(f"{slug}-answer", answer, {"gradbook": {"answer": ex.id}, "deletable": False}),
            _code(f"{slug}-check", check, {"gradbook": {"check": ex.id}, "deletable": False,
                                           "editable": False})]


def _shape_words(spec) -> str:
    dims = " × ".join(map(str, spec.dims))
    if not spec.dims:
        words = "a scalar"
    elif len(spec.dims) == 1:
        words = f"a vector of length {dims}"
    elif spec.dims[1] == 1:
        words = f"a column, {dims}"
    elif spec.dims[0] == 1:
        words = f"a row, {dims}"
    else:
        words = f"a {dims} matrix"
    if spec.low is not None:
        words += (" between" if not spec.dims else " with entries between") + \
            f" {spec.low:g} and {spec.high:g}"
    return words


def _markdown(cell_id: str, source: str):
    return nbformat.v4.new_markdown_cell(source, id=cell_id)


def _code(cell_id: str, source: str, metadata: dict | None = None):
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    cell.metadata = nbformat.from_dict(metadata or {})
    return cell


def _refuse_undefined_names(name: str, nb) -> None:
    """Every name a kept code cell reads must be defined by an earlier kept cell (or be built in)."""
    import gradbook

    defined = set(dir(builtins)) | {"get_ipython", "display"}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        bound, star = _bound_names(tree)
        if "gradbook" in star:
            defined |= set(gradbook.__all__)
        loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        missing = sorted(loads - defined - bound)
        if missing and not star - {"gradbook"}:
            raise StudentNotebookError(
                f"{name}: the student notebook's cell {cell.id} uses {', '.join(missing)}, which "
                "only a cell tagged solution defines; tag this cell solution too, or untag the "
                "one that defines it")
        defined |= bound


def _bound_names(tree) -> tuple[set[str], set[str]]:
    bound, star = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    star.add(getattr(node, "module", "") or "")
                else:
                    bound.add((alias.asname or alias.name).split(".")[0])
    return bound, star


def normalise_spelling(text: str) -> str:
    """A spelling with spacing and LaTeX's thin spaces and braces removed, for searching."""
    return re.sub(r"\s+|\\[,;!:]|[{}]|\\left|\\right", "", text)


def _refuse_leaks(name: str, nb, spellings: dict[str, list[str]]) -> None:
    """No spelling of a result (nor its reference answer) may appear in the student notebook;
    spellings shorter than six characters ("g") cannot be told from ordinary text and are skipped."""
    haystack = normalise_spelling("\n".join([c.source for c in nb.cells] + [repr(nb.metadata)] +
                                             [repr(c.metadata) for c in nb.cells]))
    for exercise_id, texts in spellings.items():
        for text in texts:
            needle = normalise_spelling(text)
            if len(needle) >= 6 and needle in haystack:
                raise StudentNotebookError(
                    f"{name}: the student notebook contains {text!r}, a spelling of the result of "
                    f"{exercise_id}; tag the cell that holds it solution")
