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
    """Grade submitted exercise notebooks: a score table (text and JSON) each, and a roster."""
    from ._class import default_jobs

    p = argparse.ArgumentParser(
        prog="python -m gradbook grade",
        description="Run each submitted exercise notebook in a fresh sandboxed kernel and grade "
                    "every exercise in it, outside the kernel. Writes SUBMISSION.grade.txt and "
                    "SUBMISSION.grade.json next to it (or in --out), and roster.csv for a class. "
                    "Exit 0 when every file could be graded, whatever the score; 2 when one is "
                    "not a gradbook exercise notebook.")
    p.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION.ipynb|DIR")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="time allowed for one notebook to run (default: %(default)g); a single "
                        "cell gets a third of it")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where the .grade.txt and .grade.json files and roster.csv go (default: "
                        "beside each submission; the roster beside the first)")
    p.add_argument("--jobs", "-j", type=int, default=default_jobs(), metavar="N",
                   help="submissions graded at once (default: one per core, here %(default)d)")
    p.add_argument("--sandbox", choices=("auto", "namespaces", "limits", "off"), default="auto",
                   help="auto (default): namespaces where the platform allows them, else "
                        "resource limits only; the score table says which protections held")
    p.add_argument("--memory", type=int, default=4096, metavar="MiB",
                   help="memory (address space) of the student's kernel (default: %(default)d)")
    p.add_argument("--roster", type=Path, default=None, metavar="CSV",
                   help="where the roster goes (default: roster.csv in --out or beside the first "
                        "submission; written when more than one submission is graded)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the score lines")
    args = p.parse_args(argv)
    from ._class import grade_all, roster, submissions_in
    from ._sandbox import Limits, plan

    paths = submissions_in(args.submissions)
    if not paths:
        print("grade: no .ipynb files in " + ", ".join(map(str, args.submissions)), file=sys.stderr)
        return EXIT_USAGE
    try:
        sandbox = plan(args.sandbox, Limits(memory_mb=args.memory,
                                            cpu_s=int(2 * args.timeout) + 10))
    except OSError as error:
        print(f"grade: {error}", file=sys.stderr)
        return EXIT_USAGE
    import functools

    from ._submission import grade_submission

    grade_one = functools.partial(grade_submission, timeout=args.timeout, plan=sandbox)
    many = len(paths) > 1

    def progress(done, total, path, result):
        if many:
            what = (f"{result.score} of {len(result.results)}" if hasattr(result, "score")
                    else "not graded")
            print(f"[{done}/{total}] {path.name}: {what}", file=sys.stderr, flush=True)

    status, reports = EXIT_OK, []
    for path, report in grade_all(paths, args.jobs, grade_one, progress):
        if isinstance(report, Exception):
            print(f"grade: {report}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        folder = args.out or path.parent
        text = report.to_text()
        status = max(status, _write(folder, path.stem, text, report.to_json()))
        reports.append(report.to_json())
        print(text.splitlines()[0] if args.quiet else text)
    if many and reports:
        target = args.roster or (args.out or paths[0].parent) / "roster.csv"
        status = max(status, _write_file(target, roster(reports)))
        print(f"roster: {target} ({len(reports)} submission(s))")
    return status


def _write(folder: Path, stem: str, text: str, data: dict) -> int:
    status = _write_file(folder / f"{stem}.grade.txt", text + "\n")
    return max(status, _write_file(folder / f"{stem}.grade.json",
                                   json.dumps(data, indent=1, ensure_ascii=False) + "\n"))


def _write_file(target: Path, text: str) -> int:
    from ..build._build import write_atomically

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, text)
    except OSError as error:
        print(f"grade: cannot write {target}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def autograder_main(argv: list[str], root: Path) -> int:
    """Write a Gradescope autograder bundle for one exercise notebook."""
    from ._gradescope import VISIBILITIES, make_bundle
    from ._submission import NotAnExerciseNotebook

    p = argparse.ArgumentParser(
        prog="python -m gradbook autograder",
        description="Write a Gradescope autograder bundle (setup.sh, run_autograder, a copy of "
                    "gradbook, the dependency pins) for an exercise notebook to --out, and "
                    "--out/autograder.zip to upload. On Gradescope each submission is graded "
                    "as `grade` grades it, into results.json with one test per exercise.")
    p.add_argument("notebook", type=Path, metavar="NOTEBOOK.ipynb",
                   help="the student notebook (notebooks/exercises/NN_topic.ipynb)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="time allowed for a submission's notebook (default: %(default)g)")
    p.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                   help="when students see each exercise's result (default: %(default)s, as "
                        "soon as it is graded)")
    args = p.parse_args(argv)
    try:
        archive = make_bundle(args.notebook, args.out, root, args.timeout, args.visibility)
    except NotAnExerciseNotebook as error:
        print(f"autograder: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"autograder: cannot write {args.out}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILED
    print(f"autograder: {archive} (upload it to Gradescope as the autograder)")
    return EXIT_OK
