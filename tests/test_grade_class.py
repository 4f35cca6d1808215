"""A class at once: a folder graded in parallel into one roster, and the Gradescope bundle."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat

from gradbook.exercises._cli import autograder_main, grade_main
from test_grade_attacks import ROOT, submission

SIGMOID = "s = sp.Symbol('s')\nanswer = sp.exp(-s) / (1 + sp.exp(-s))**2"
JACOBIAN = "answer = 'diag(y_pred*(1 - y_pred))'"


def test_a_folder_is_graded_in_parallel_into_one_roster(tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    ada = submission(folder, "03_sigmoid", {"kang.5.sigmoid": SIGMOID, "jin.dsigmoid": JACOBIAN},
                     name="ada", setup=True)
    nb = nbformat.read(ada, as_version=4)
    nb.metadata["gradbook"]["student"] = "Ada Lovelace"
    nbformat.write(nb, ada)
    submission(folder, "03_sigmoid", {"kang.5.sigmoid": "answer = 'sigma(s)'",
                                      "jin.dsigmoid": JACOBIAN}, name="bob")
    assert grade_main([str(folder), "--jobs", "2", "-q"]) == 0
    rows = list(csv.reader((folder / "roster.csv").read_text(encoding="utf-8").splitlines()))
    assert rows == [["file", "student", "kang.5.sigmoid", "jin.dsigmoid", "total", "out of"],
                    ["ada.ipynb", "Ada Lovelace", "1", "1", "2", "2"],
                    ["bob.ipynb", "", "0", "1", "1", "2"]]
    assert "[2/2]" in capsys.readouterr().err
    assert (folder / "bob.grade.json").exists() and (folder / "ada.grade.txt").exists()


def test_the_gradescope_bundle_grades_a_submission_into_results_json(tmp_path):
    notebook = ROOT / "notebooks" / "exercises" / "04_logistic_regression.ipynb"
    assert autograder_main([str(notebook), "--out", str(tmp_path / "bundle")], ROOT) == 0
    first = (tmp_path / "bundle" / "autograder.zip").read_bytes()
    assert autograder_main([str(notebook), "--out", str(tmp_path / "again")], ROOT) == 0
    assert (tmp_path / "again" / "autograder.zip").read_bytes() == first  # reproducible
    autograder = tmp_path / "autograder"  # laid out as Gradescope lays it out
    with zipfile.ZipFile(tmp_path / "bundle" / "autograder.zip") as zf:
        assert {"setup.sh", "run_autograder", "autograder.json", "requirements.lock"} <= set(zf.namelist())
        zf.extractall(autograder / "source")
    (autograder / "submission").mkdir()
    (autograder / "results").mkdir()
    submission(autograder / "submission", "04_logistic_regression", {
        "kang.5.bce_yhat": "answer = '-y/yhat + (1 - y)/(1 - yhat)'",
        "kang.5.bce_logit": "answer = 'y - yhat'"}, setup=False)
    env = {**os.environ, "AUTOGRADER_ROOT": str(autograder), "GRADBOOK_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(autograder / "source" / "run_autograder")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads((autograder / "results" / "results.json").read_text(encoding="utf-8"))
    assert set(results) >= {"score", "tests", "output", "visibility", "stdout_visibility"}
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert isinstance(test["score"], float) and test["max_score"] == 1.0
    assert [t["score"] for t in results["tests"]] == [1.0, 0.0, 0.0]
    assert results["score"] == 1.0
    assert "flipped sign" in results["tests"][1]["output"]
    assert "no answer" in results["tests"][2]["output"]
