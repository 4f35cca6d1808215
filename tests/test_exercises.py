"""Student notebooks: made from the derivations without running them, carrying no solution, and
graded end to end in a kernel that survives what a student's cells can do to it."""
import json
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from gradbook.exercises._cli import exercises_main, grade_main
from gradbook.exercises._extract import DeclarationError
from gradbook.exercises._generate import BANK_FILE, NOTEBOOKS, declared, generate
from gradbook.exercises._student import StudentNotebookError, normalise_spelling

ROOT = Path(__file__).resolve().parent.parent
DECLARED = declared(ROOT)
STUDENT = sorted((ROOT / NOTEBOOKS).glob("*.ipynb"))


def test_every_notebook_01_to_10_has_at_least_two_exercises():
    per_notebook = {}
    for ex, _ in DECLARED.values():
        per_notebook.setdefault(ex.notebook[:2], []).append(ex.id)
    for number in [f"{n:02d}" for n in range(1, 11)]:
        assert len(per_notebook.get(number, [])) >= 2, (number, per_notebook.get(number))


def test_the_boxed_results_of_the_documents_are_among_the_exercises():
    for claim in ("kang.5.sigmoid", "kang.5.bce_yhat", "kang.5.bce_logit", "kang.9.affine.W",
                  "kang.9.affine.x", "kang.9.affine.b", "kang.10.batch.X", "kang.10.batch.W",
                  "kang.10.batch.b", "kang.8.relu_jacobian", "jin.relu_mask", "deriv.hidden",
                  "deriv.batch.W", "kang.7.vjp"):
        assert claim in DECLARED


def test_the_committed_student_notebooks_and_bank_are_what_the_derivations_make(capsys):
    assert exercises_main(["--check"], ROOT) == 0, capsys.readouterr().err


def test_making_them_is_byte_reproducible_and_runs_no_derivation():
    started = time.monotonic()
    first = generate(ROOT)
    seconds = time.monotonic() - started
    assert first == generate(ROOT)
    assert seconds < 20, f"generating the exercises took {seconds:.1f} s"
    for rel, text in first.items():
        assert "/work/" not in text and str(ROOT) not in text, rel


def _scratch_project(tmp_path, names=("03_sigmoid.py",)) -> Path:
    (tmp_path / "derivations").mkdir()
    for name in names:
        shutil.copy(ROOT / "derivations" / name, tmp_path / "derivations" / name)
    return tmp_path


def test_check_names_each_missing_differing_and_stale_file(tmp_path, capsys):
    root = _scratch_project(tmp_path, ("03_sigmoid.py", "07_affine_layer.py"))
    assert exercises_main([], root) == 0
    assert exercises_main(["--check"], root) == 0
    folder = root / NOTEBOOKS
    (folder / "03_sigmoid.ipynb").write_text("{}", encoding="utf-8")
    (folder / "07_affine_layer.ipynb").unlink()
    (folder / "99_old.ipynb").write_text("{}", encoding="utf-8")
    capsys.readouterr()
    assert exercises_main(["--check"], root) == 1
    err = capsys.readouterr().err
    assert "03_sigmoid.ipynb: differs" in err and "07_affine_layer.ipynb: missing" in err
    assert "99_old.ipynb: no derivation makes it" in err
    assert exercises_main([], root) == 0 and not (folder / "99_old.ipynb").exists()
    assert exercises_main(["--check"], root) == 0


def test_no_solution_leaks_into_a_student_notebook():
    assert len(STUDENT) >= 10
    for path in STUDENT:
        nb = nbformat.read(path, as_version=4)
        everything = json.dumps(nb, ensure_ascii=False)
        texts = [c.source for c in nb.cells] + [json.dumps(c.get("outputs", []), ensure_ascii=False)
                                                for c in nb.cells] + [everything]
        haystack = normalise_spelling("\n".join(texts).replace("\\\\", "\\"))
        assert "\\boxed" not in everything and "derivations/" not in everything, path.name
        for cell in nb.cells:
            assert not any(re.match(r"\s*(from|import)\s+.*(derivations|\d\d_)", line)
                           for line in cell.source.splitlines()), (path.name, cell.id)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
        mine = [(ex, spellings) for ex, spellings in DECLARED.values() if ex.notebook == path.stem]
        assert mine, path.name
        for ex, spellings in mine:
            for text in spellings + [ex.answer]:
                needle = normalise_spelling(text)
                if len(needle) >= 6:
                    assert needle not in haystack, (path.name, ex.id, text)


def test_a_kept_cell_that_needs_a_solution_cell_is_refused(tmp_path):
    root = _scratch_project(tmp_path)
    source = root / "derivations" / "03_sigmoid.py"
    source.write_text(source.read_text(encoding="utf-8") + "\n\n# %%\nsigmoid_slope(0.0)\n",
                      encoding="utf-8")
    with pytest.raises(StudentNotebookError, match="uses sigmoid_slope, which only a cell tagged solution"):
        generate(root)


def test_a_spelling_of_the_result_left_in_the_prose_is_refused(tmp_path):
    root = _scratch_project(tmp_path)
    source = root / "derivations" / "03_sigmoid.py"
    source.write_text(source.read_text(encoding="utf-8").replace(
        '# %% [markdown] tags=["solution"]\n# # 03', "# %% [markdown]\n# # 03", 1), encoding="utf-8")
    with pytest.raises(StudentNotebookError, match="a spelling of the result of kang.5.sigmoid"):
        generate(root)


def test_an_exercise_declared_with_a_computed_argument_is_refused(tmp_path):
    root = _scratch_project(tmp_path)
    source = root / "derivations" / "03_sigmoid.py"
    source.write_text(source.read_text(encoding="utf-8").replace(
        'of="sigma(s)"', 'of="sigma(" + "s)"'), encoding="utf-8")
    with pytest.raises(DeclarationError, match="must be a literal"):
        generate(root)


# --- grading a submission -------------------------------------------------------------------------

def _submission(tmp_path, answers: dict, name="submission.ipynb", keep_setup=True,
                edit=None) -> Path:
    nb = nbformat.read(ROOT / NOTEBOOKS / "03_sigmoid.ipynb", as_version=4)
    if not keep_setup:
        nb.cells = [c for c in nb.cells if c.cell_type == "markdown" or "gradbook" in c.metadata]
    if edit:
        edit(nb)
    for cell in nb.cells:
        exercise_id = cell.metadata.get("gradbook", {}).get("answer")
        if exercise_id in answers:
            cell.source = answers[exercise_id]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def _table(tmp_path, name="submission"):
    data = json.loads((tmp_path / f"{name}.grade.json").read_text(encoding="utf-8"))
    return {r["id"]: (r["passed"], r["diagnosis"]) for r in data["exercises"]}, data


def test_a_filled_in_student_notebook_is_graded_with_a_score_table(tmp_path, capsys):
    path = _submission(tmp_path, {
        "kang.5.sigmoid": "s = sp.Symbol('s')\nanswer = sp.exp(-s) / (1 + sp.exp(-s))**2",
        "jin.dsigmoid": 'answer = "-diag(y_pred*(1 - y_pred))"'})
    assert grade_main([str(path), "--timeout", "120"]) == 0
    table, data = _table(tmp_path)
    assert table == {"kang.5.sigmoid": (True, None), "jin.dsigmoid": (False, "flipped sign")}
    assert data["score"] == 1 and data["total"] == 2 and data["notebook"] == "03_sigmoid"
    text = (tmp_path / "submission.grade.txt").read_text(encoding="utf-8")
    assert "submission.ipynb: 1 of 2 exercises right" in text and "flipped sign" in text
    assert "1 of 2 exercises right" in capsys.readouterr().out


RIGHT = ("import jax.numpy as jnp\n\ndef answer(z):\n    s = 1 / (1 + jnp.exp(-z))\n"
         "    return jnp.diag(s * (1 - s))")


def test_grading_survives_an_exception_and_a_dying_kernel(tmp_path):
    def meddle(nb):  # a cell of the student's own that fails, and a check cell deleted
        nb.cells.insert(0, nbformat.v4.new_code_cell("undefined_name + 1"))
        nb.cells = [c for c in nb.cells if c.metadata.get("gradbook", {}).get("check") != "jin.dsigmoid"]

    raising = _submission(tmp_path, {"kang.5.sigmoid": "answer = 1/0", "jin.dsigmoid": RIGHT},
                          "raising.ipynb", keep_setup=False, edit=meddle)
    dying = _submission(tmp_path, {"kang.5.sigmoid": "import os\nos._exit(1)",
                                   "jin.dsigmoid": RIGHT}, "dying.ipynb", keep_setup=False)
    assert grade_main([str(raising), str(dying), "--timeout", "120", "-q"]) == 0
    for name, why in (("raising", "ZeroDivisionError: division by zero (line 1)"),
                      ("dying", "the kernel died")):
        table, data = _table(tmp_path, name)
        assert table == {"kang.5.sigmoid": (False, "answer cell failed"),
                         "jin.dsigmoid": (True, None)}, (name, data)
        assert why in data["exercises"][0]["feedback"], (name, data)


def test_grading_survives_an_endless_loop(tmp_path):
    looping = _submission(tmp_path, {"kang.5.sigmoid": "while True:\n    pass", "jin.dsigmoid": RIGHT},
                          "looping.ipynb", keep_setup=False)
    assert grade_main([str(looping), "--timeout", "12", "-q"]) == 0
    table, data = _table(tmp_path, "looping")
    assert table == {"kang.5.sigmoid": (False, "answer cell failed"), "jin.dsigmoid": (True, None)}
    assert "timed out" in data["exercises"][0]["feedback"]


def test_a_file_that_is_not_an_exercise_notebook_exits_2(tmp_path, capsys):
    (tmp_path / "not.ipynb").write_text("this is not JSON", encoding="utf-8")
    assert grade_main([str(tmp_path / "not.ipynb")]) == 2
    assert grade_main([str(ROOT / "notebooks" / "03_sigmoid.ipynb")]) == 2
    assert grade_main([str(tmp_path / "missing.ipynb")]) == 2
    err = capsys.readouterr().err
    assert "not a notebook" in err and "not a gradbook exercise notebook" in err
    assert "no such file" in err


def test_the_bank_is_a_module_of_the_package():
    text = (ROOT / BANK_FILE).read_text(encoding="utf-8")
    assert text.startswith('"""The exercise bank: generated') and "\nBANK = [" in text
