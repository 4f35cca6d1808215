"""The two commands: `python -m gradbook exercises [--check]` and `python -m gradbook grade FILE...`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def exercises_main(argv: list[str], root: Path) -> int:
    """Write root/notebooks/exercises/*.ipynb and the exercise bank; --check compares only."""
    p = argparse.ArgumentParser(
        prog="python -m gradbook exercises",
        description="Write one student notebook per derivation that declares exercises, to "
                    "notebooks/exercises/, and the exercise bank the grader reads "
                    "(gradbook/exercises/_bank_data.py). Nothing is executed.")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1, naming each file that is missing, differs or is "
                        "stale, when the committed files are not what the derivations make")
    p.add_argument("--list", action="store_true", help="list the exercises of each notebook")
    args = p.parse_args(argv)
    from ._extract import DeclarationError
    from ._generate import NOTEBOOKS, generate
    from ._student import StudentNotebookError

    root = Path(root)
    if not (root / "derivations").is_dir():
        print(f"exercises: error: no derivations folder at {root / 'derivations'}", file=sys.stderr)
        return EXIT_USAGE
    try:
        files = generate(root)
    except (DeclarationError, StudentNotebookError, ValueError) as error:
        print(f"exercises: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.list:
        return _list(files)
    folder = root / NOTEBOOKS
    stale = sorted(p for p in folder.glob("*.ipynb") if p.relative_to(root) not in files) \
        if folder.is_dir() else []
    if args.check:
        problems = [f"{root / rel}: {why}" for rel, text in sorted(files.items())
                    for why in [_compare(root / rel, text)] if why]
        problems += [f"{p}: no derivation makes it (stale; delete it)" for p in stale]
        if problems:
            print("exercises --check: out of date (run python -m gradbook exercises):",
                  file=sys.stderr)
            print("\n".join(f"  {line}" for line in problems), file=sys.stderr)
            return EXIT_FAILED
        print(f"exercises --check: {len(files)} file(s) match what the derivations make")
        return EXIT_OK
    from ..build._build import write_atomically

    written = 0
    for rel, text in sorted(files.items()):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if _compare(target, text):
            write_atomically(target, text)
            written += 1
    for path in stale:
        path.unlink()
    print(f"exercises: {len(files) - 1} student notebook(s) in {NOTEBOOKS}/ and the bank; "
          f"{written} file(s) written, {len(stale)} stale removed")
    return EXIT_OK


def _compare(path: Path, text: str) -> str | None:
    if not path.exists():
        return "missing"
    if path.read_bytes() != text.encode("utf-8"):
        return "differs from what the derivations make"
    return None


def _list(files) -> int:
    from ._bank import Exercise

    namespace: dict = {}
    exec(next(t for p, t in files.items() if p.suffix == ".py"), namespace)  # noqa: S102 - our bank
    for entry in namespace["BANK"]:
        ex = Exercise.from_dict(entry)
        what = ", ".join(f"∂/∂{w}" for w in ex.wrt) if ex.kind == "grad" else \
            f"the Jacobian with respect to {', '.join(ex.wrt)}"
        print(f"{ex.notebook:<34} {ex.id:<24} {what}")
    return EXIT_OK


def grade_main(argv: list[str]) -> int:
    """Grade submitted exercise notebooks: a score table (text and JSON) per submission."""
    p = argparse.ArgumentParser(
        prog="python -m gradbook grade",
        description="Run each submitted exercise notebook in a fresh kernel and grade every "
                    "exercise in it. Writes SUBMISSION.grade.txt and SUBMISSION.grade.json next "
                    "to it (or in --out), and prints the table. Exit 0 when every file could be "
                    "graded, whatever the score; 2 when one is not a gradbook exercise notebook.")
    p.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION.ipynb")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="time allowed for one notebook to run (default: %(default)g); a single "
                        "cell gets a third of it")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where the .grade.txt and .grade.json files go (default: beside each "
                        "submission)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the score line")
    args = p.parse_args(argv)
    from ._submission import NotAnExerciseNotebook, grade_submission

    status = EXIT_OK
    for path in args.submissions:
        try:
            report = grade_submission(path, timeout=args.timeout)
        except NotAnExerciseNotebook as error:
            print(f"grade: {error}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        folder = args.out or path.parent
        text = report.to_text()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            from ..build._build import write_atomically

            write_atomically(folder / f"{path.stem}.grade.txt", text + "\n")
            write_atomically(folder / f"{path.stem}.grade.json",
                             json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n")
        except OSError as error:
            print(f"grade: cannot write the score table to {folder}: {error.strerror}",
                  file=sys.stderr)
            status = max(status, EXIT_FAILED)
        print(text.splitlines()[0] if args.quiet else text)
    return status
