"""A Gradescope autograder bundle: gradbook grading one exercise notebook on Gradescope's machines.

`python -m gradbook autograder NOTEBOOK --out DIR` writes DIR/ with Gradescope's documented
files (setup.sh, run_autograder; see the Gradescope autograder documentation, "Autograder
Specifications"), a copy of the gradbook package, the exact dependency pins, and
autograder.json (which notebook, its exercises, the time limit), and DIR/autograder.zip with
the same files at its root, byte-identical from one run to the next. On Gradescope,
run_autograder grades the submitted notebook and writes /autograder/results/results.json:
one test per exercise (name, number, score, max_score, status, output, visibility), the
total score, and the sandbox's protections in extra_data.
"""
from __future__ import annotations

import json
import shutil
import stat
import sys
import time
import zipfile
from pathlib import Path

VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
apt-get install -y python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir -r /autograder/source/requirements.lock
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this once per submission: the notebook is in /autograder/submission, and
# the results go to /autograder/results/results.json. AUTOGRADER_ROOT and GRADBOOK_PYTHON
# let the same script run in a test tree laid out like Gradescope's.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${GRADBOOK_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT"
PYTHONPATH="$ROOT/source" exec "$PYTHON" -m gradbook.exercises._gradescope "$ROOT"
"""


def make_bundle(notebook: Path, out: Path, root: Path, timeout: float = 60.0,
                visibility: str = "visible") -> Path:
    """Write the bundle for the exercise notebook `notebook` to `out`; return the zip's path."""
    from ._submission import read_submission

    nb, name, ids = read_submission(notebook)
    package = Path(__file__).resolve().parents[1]
    files: dict[str, bytes] = {
        "setup.sh": SETUP.encode(), "run_autograder": RUN.encode(),
        "requirements.lock": _pins(root),
        "autograder.json": (json.dumps({"notebook": name, "exercises": ids, "timeout": timeout,
                                        "visibility": visibility}, indent=1) + "\n").encode()}
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[f"gradbook/{path.relative_to(package).as_posix()}"] = path.read_bytes()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for rel, data in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for script in ("setup.sh", "run_autograder"):
        (out / script).chmod(0o755)
    archive = out / "autograder.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in sorted(files.items()):
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            mode = 0o755 if rel in ("setup.sh", "run_autograder") else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return archive


def _pins(root: Path) -> bytes:
    """The project's exact pins, without the test-only ones (the bundle needs no pytest)."""
    lock = Path(root) / "requirements.lock"
    lines = lock.read_text(encoding="utf-8").splitlines() if lock.exists() else []
    return ("\n".join(ln for ln in lines if ln and not ln.startswith("#")) + "\n").encode()


def results(report: dict | None, config: dict, why: str | None = None,
            seconds: float = 0.0) -> dict:
    """results.json in Gradescope's documented format: one test per exercise, 1 point each (partial credit as earned)."""
    by_id = {r["id"]: r for r in (report or {}).get("exercises", [])}
    tests = []
    for number, exercise_id in enumerate(config["exercises"], 1):
        r = by_id.get(exercise_id)
        passed = bool(r and r["passed"])
        credit = float(r.get("credit", 1.0 if passed else 0.0)) if r else 0.0
        output = (f"{r['diagnosis'] + ': ' if r.get('diagnosis') else ''}{r['feedback']}"
                  if r else f"not graded: {why or 'no answer'}")
        tests.append({"name": f"Exercise {number} · {exercise_id}", "number": str(number),
                      "score": credit, "max_score": 1.0,
                      "status": "passed" if passed else "failed", "output": output,
                      "visibility": config.get("visibility", "visible")})
    notes = (report or {}).get("notes", [])
    summary = why or (f"{sum(t['score'] for t in tests):g} of {len(tests)} points" +
                      "".join(f"\nnote: {n}" for n in notes))
    return {"score": sum(t["score"] for t in tests), "execution_time": round(seconds),
            "output": summary, "visibility": config.get("visibility", "visible"),
            "stdout_visibility": "hidden",
            "extra_data": {"sandbox": (report or {}).get("sandbox", [])}, "tests": tests}


def run(root: Path) -> int:
    """Grade the notebook in root/submission and write root/results/results.json."""
    from ._submission import NotAnExerciseNotebook, grade_submission

    start = time.monotonic()
    config = json.loads((root / "source" / "autograder.json").read_text(encoding="utf-8"))
    found = sorted((root / "submission").rglob("*.ipynb"))
    chosen = [p for p in found if p.stem == config["notebook"]] or found
    report, why = None, None
    if not chosen:
        why = f"no notebook was submitted (expected {config['notebook']}.ipynb)"
    else:
        try:
            report = grade_submission(chosen[0], timeout=float(config["timeout"])).to_json()
            if report["notebook"] != config["notebook"]:
                report, why = None, (f"{chosen[0].name} is the exercise notebook "
                                     f"{report['notebook']}, not {config['notebook']}")
        except NotAnExerciseNotebook as error:
            why = str(error).replace(str(root), "")
    data = results(report, config, why, time.monotonic() - start)
    target = root / "results" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(data["output"])
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
