"""Benchmark `python -m gradbook grade DIR`: submissions graded per minute, at --jobs 1 and 2.

A class is made from the committed student notebooks (notebooks/exercises/): each of the
--students gets every exercise notebook of --notebooks, half of the answers right (the bank's
reference answers) and half wrong ('0'). The class is graded once per --jobs value in a fresh
process (`python -m gradbook grade DIR --jobs N -q`, start-up included, the sandbox as the
machine allows it); wall-clock seconds and submissions per minute are reported.
Nothing is asserted: this reports figures (see the README), it is not a timed test.
Usage: python bench/grade_speed.py [--students N] [--notebooks 03_sigmoid,04_logistic_regression] [--jobs 1,2]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def make_class(folder: Path, students: int, notebooks: list[str]) -> int:
    """Write the class's submissions into `folder`; return how many."""
    from gradbook.exercises._bank import lookup

    count = 0
    for student in range(students):
        for name in notebooks:
            nb = nbformat.read(ROOT / "notebooks" / "exercises" / f"{name}.ipynb", as_version=4)
            nb.metadata["gradbook"]["student"] = f"student {student + 1}"
            answers = [c for c in nb.cells if "answer" in c.metadata.get("gradbook", {})]
            for i, cell in enumerate(answers):
                exercise = lookup(cell.metadata["gradbook"]["answer"])
                right = (i + student) % 2 == 0
                cell.source = f"answer = {exercise.answer if right else '0'!r}"
            nbformat.write(nb, folder / f"s{student + 1:02d}_{name}.ipynb")
            count += 1
    return count


def grade(folder: Path, jobs: int) -> float:
    """Wall-clock seconds of grading the folder in a fresh process (the kernels are its
    grandchildren, killed rather than waited for, so CPU time is not counted reliably)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gradbook", "grade", str(folder), "--jobs",
                           str(jobs), "-q", "--out", str(folder / f"reports-{jobs}")],
                          cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"grade_speed: grading failed: {done.stderr.strip()[-2000:]}")
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=4)
    p.add_argument("--notebooks", default="03_sigmoid,04_logistic_regression")
    p.add_argument("--jobs", default="1,2")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gradbook-grade-speed-") as scratch:
        folder = Path(scratch)
        n = make_class(folder, args.students, args.notebooks.split(","))
        print(f"{n} submissions ({args.students} students x {args.notebooks})")
        for jobs in map(int, args.jobs.split(",")):
            seconds = grade(folder, jobs)
            print(f"  --jobs {jobs}: {seconds:6.1f} s, {60 * n / seconds:5.1f} submissions per minute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
