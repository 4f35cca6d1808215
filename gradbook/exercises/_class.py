"""Grading a whole class: many submissions in parallel, progress as they finish, one roster CSV.

Each submission is graded in a worker process of its own (spawned, so that no JAX state is
shared), in its own sandboxed kernel. The roster has one row per submission (file, student,
one column per exercise with its credit, total, out of), sorted by file, so that it is the same
whatever order the workers finished in.
"""
from __future__ import annotations

import csv
import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path


def submissions_in(paths: list[Path]) -> list[Path]:
    """The files to grade: each file given, and each *.ipynb in a folder given (not its reports)."""
    out = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        else:
            out.append(path)
    return out


def default_jobs() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def grade_all(paths: list[Path], jobs: int, grade_one, progress=None):
    """(path, report or error) per submission, in the order given; `progress(done, total, path, result)`."""
    results: dict = {}
    if jobs <= 1 or len(paths) <= 1:
        for path in paths:
            results[path] = _safely(grade_one, path)
            if progress:
                progress(len(results), len(paths), path, results[path])
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=context) as pool:
            futures = {pool.submit(_safely, grade_one, path): path for path in paths}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if progress:
                    progress(len(results), len(paths), futures[future], results[futures[future]])
    return [(path, results[path]) for path in paths]


def _safely(grade_one, path):
    from ._submission import NotAnExerciseNotebook

    try:
        return grade_one(path)
    except NotAnExerciseNotebook as error:
        return error


def roster(reports: list) -> str:
    """The roster CSV: file, student, one column per exercise (its credit: 1, 0 or partial),
    total, out of."""
    ids: list[str] = []
    for report in reports:
        ids += [r["id"] for r in report["exercises"] if r["id"] not in ids]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "student", *ids, "total", "out of"])
    for report in sorted(reports, key=lambda r: r["submission"]):
        credit = {r["id"]: f"{r.get('credit', 1.0 if r['passed'] else 0.0):g}"
                  for r in report["exercises"]}
        writer.writerow([report["submission"], report.get("student") or "",
                         *[credit.get(i, "") for i in ids], f"{report.get('points', report['score']):g}",
                         report["total"]])
    return buffer.getvalue()
