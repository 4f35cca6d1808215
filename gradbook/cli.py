"""The command line: `python -m gradbook COMMAND` (build, derive, exercises, grade).

`build.py [options]` is `python -m gradbook build [options]`: it builds, executes and checks
the notebooks. The other commands live with their concern and are imported only when used.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .build._build import Options, UsageError, build
from .checks._ledger import holds

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


COMMANDS = {
    "build": "build the notebooks from derivations/ (the default; also: python build.py)",
    "derive": "write a derivation that derives a forward function's backward pass node by node",
    "exercises": "write the student notebooks in notebooks/exercises/ (--check: compare only)",
    "grade": "grade a submitted exercise notebook: a score table, and feedback per exercise",
    "autograder": "write a Gradescope autograder bundle that grades an exercise notebook",
    "book": "make book/, a static site of the executed notebooks (math as MathML, claims indexed)",
}


def usage() -> str:
    """The top-level help: one line per command."""
    lines = ["usage: python -m gradbook COMMAND [options]   (COMMAND --help for its options)", ""]
    lines += [f"  {name:<10} {what}" for name, what in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None, root: Path | None = None) -> int:
    """Run one command (build when the first argument names none); return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    root = Path(root or Path.cwd())
    command = argv[0] if argv and argv[0] in COMMANDS else None
    if command is None and argv[:1] in (["help"], ["commands"]):
        print(usage())
        return EXIT_OK
    if command in (None, "build"):
        return build_main(argv[1:] if command else argv, root)
    if command == "derive":
        from .graph._scaffold import derive_main

        return derive_main(argv[1:], root)
    if command == "book":
        from .book._cli import book_main

        return book_main(argv[1:], root)
    from .exercises._cli import autograder_main, exercises_main, grade_main

    if command == "autograder":
        return autograder_main(argv[1:], root)
    return exercises_main(argv[1:], root) if command == "exercises" else grade_main(argv[1:])


def parser(root: Path) -> argparse.ArgumentParser:
    """The build's options, with defaults relative to the project root."""
    p = argparse.ArgumentParser(
        prog="build.py",
        epilog="Other commands: python -m gradbook help",
        description="Turn every derivation in derivations/ into an executed notebook in "
                    "notebooks/, verify its claims, and write notebooks/ledger.json.")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="build only this derivation (its file name without .py); repeatable")
    p.add_argument("--no-execute", dest="execute", action="store_false",
                   help="convert sources to notebooks without running them (no ledger is written)")
    p.add_argument("--check", action="store_true",
                   help="rebuild everything into a temporary folder and fail, naming the file, "
                        "when a committed notebook or the ledger differs from what its source builds")
    p.add_argument("--force", action="store_true",
                   help="re-execute every notebook even when nothing it depends on changed")
    p.add_argument("--jobs", "-j", type=_positive_int, default=os.cpu_count() or 1, metavar="N",
                   help="notebooks executed at once (default: one per core, %(default)s here)")
    p.add_argument("--timeout", type=float, default=600, metavar="SECONDS",
                   help="time allowed for one notebook to execute (default: %(default)g)")
    p.add_argument("--jax-cache", type=Path, default=root / ".cache" / "jax", metavar="DIR",
                   help="the kernels' persistent XLA compilation cache (default: .cache/jax)")
    p.add_argument("--no-jax-cache", dest="jax_cache", action="store_const", const=None,
                   help="compile everything afresh in every kernel")
    p.add_argument("--xla-threads", choices=("one", "all"), default="all",
                   help="XLA compute threads per kernel (default: %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print only failures and the final result")
    p.add_argument("--derivations", type=Path, default=root / "derivations", metavar="DIR",
                   help="where the sources are (default: derivations/)")
    p.add_argument("--notebooks", type=Path, default=root / "notebooks", metavar="DIR",
                   help="where notebooks and the ledger are written (default: notebooks/)")
    return p


class _Stdout:
    """stdout that goes quiet, instead of stopping the build, once its reader is gone (| head)."""

    def __init__(self, stream):
        self.stream, self.gone = stream, False

    def write(self, text: str) -> int:
        self._guard(lambda: self.stream.write(text))
        return len(text)

    def flush(self) -> None:
        self._guard(self.stream.flush)

    def _guard(self, action) -> None:
        if self.gone:
            return
        try:
            action()
        except BrokenPipeError:
            self.gone = True
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())  # quiet at exit too

    def __getattr__(self, name):
        return getattr(self.stream, name)


def build_main(argv: list[str], root: Path) -> int:
    """Run the build; return 0 when all is well, 1 on failures, 2 on usage errors."""
    saved = sys.stdout
    try:
        saved.fileno()
        sys.stdout = _Stdout(saved)
    except (AttributeError, OSError, ValueError):  # a StringIO, pytest's capture: nothing to guard
        pass
    try:
        return _build_command(argv, root)
    finally:
        sys.stdout = saved


def _build_command(argv: list[str], root: Path) -> int:
    args = parser(root).parse_args(argv)
    options = Options(derivations=args.derivations, notebooks=args.notebooks, only=args.only,
                      execute=args.execute, force=args.force or args.check, jobs=args.jobs,
                      timeout=args.timeout, quiet=args.quiet, lock_file=root / "requirements.lock",
                      jax_cache=args.jax_cache, xla_one_thread=args.xla_threads == "one",
                      digest_cache=root / ".cache" / "gradbook" / "digests.json")
    try:
        if args.check:
            return _check(options) or _check_exercises(options, root)
        if _write_exercises(options) == EXIT_FAILED:
            return EXIT_FAILED
        outcomes = build(options)
    except UsageError as error:
        print(f"build.py: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("build.py: interrupted; notebooks already written are complete, the others untouched",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return _finish(options, outcomes)


def _finish(options: Options, outcomes) -> int:
    failed = [o for o in outcomes if o.failed]
    ledger = options.notebooks / "ledger.json"
    if not options.quiet or failed:
        print(_summary_table(outcomes, ledger if options.execute else None))
    if failed:
        print(f"\n{len(failed)} notebook(s) failed:", file=sys.stderr)
        for o in failed:
            print(f"  {o.name}: {o.message}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _summary_table(outcomes, ledger_path: Path | None) -> str:
    import json

    lines = ["", f"{'notebook':<32} {'result':<10} {'claims':>7} {'seconds':>8}"]
    for o in outcomes:
        claims = o.ledger.get("claims", [])
        good = sum(holds(e["status"]) for e in claims)
        lines.append(f"{o.name:<32} {o.status:<10} {f'{good}/{len(claims)}':>7} {o.seconds:8.1f}")
    if ledger_path is not None and ledger_path.exists():
        s = json.loads(ledger_path.read_text(encoding="utf-8"))["summary"]
        lines.append(f"\nledger {ledger_path.name}: {s['verified']} verified, "
                     f"{s['expected-failure']} expected failure(s), {s['failed']} failed; "
                     f"{len(s['not_covered'])} of {s['catalog']} catalog claims not yet covered"
                     + (f"; {s['own']} claim(s) declared by the derivations themselves" if s.get("own") else ""))
    return "\n".join(lines)


def _check(options: Options) -> int:
    """Build into a copy of the notebooks folder and compare, file by file, with the committed one
    (as build/_fresh.py defines it: equal but for float64 rounding figures that still hold)."""
    from .build._fresh import differences

    committed = options.notebooks
    with tempfile.TemporaryDirectory(prefix="gradbook-check-") as tmp:
        scratch = Path(tmp) / "notebooks"
        if committed.is_dir():
            shutil.copytree(committed, scratch)
        options.notebooks = scratch
        outcomes = build(options)
        if any(o.failed for o in outcomes):
            options.notebooks = committed
            return _finish(options, outcomes)
        names = sorted(_listing(scratch) | _listing(committed))
        differ = []
        for name in names:
            a, b = committed / name, scratch / name
            if not a.exists():
                differ.append(f"{a}: missing (its source builds it; run make notebooks and commit)")
            elif not b.exists():
                differ.append(f"{a}: no derivation builds it (stale; delete it)")
            elif (why := differences(b, a)) is not None:
                differ.append(f"{a}: differs from what its source builds (run make notebooks): {why}")
    if differ:
        print("build.py --check: committed notebooks are out of date:", file=sys.stderr)
        print("\n".join(f"  {d}" for d in differ), file=sys.stderr)
        return EXIT_FAILED
    if not options.quiet:
        print(f"build.py --check: {len(names)} file(s) match what the sources build")
    return EXIT_OK


def _listing(folder: Path) -> set[str]:
    """The files a build writes in a folder (subfolders such as exercises/ are checked apart)."""
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


def _has_exercises(options: Options) -> bool:
    return not options.only and (options.derivations.parent / "notebooks" / "exercises").is_dir()


def _write_exercises(options: Options) -> int:
    """A whole build makes the student notebooks too, first: the bank they write is part of the
    cache key, so the notebooks executed next are built against the bank as it will stay.

    Skipped when nothing they are made from (the engine, the derivations) nor they themselves
    changed since the last time they were made: a no-op build then imports no SymPy.
    """
    if not _has_exercises(options):
        return EXIT_OK
    import contextlib
    import io

    from .build._cache import PACKAGE, inputs_digest

    root = options.derivations.parent
    folders = (PACKAGE, options.derivations, root / "notebooks" / "exercises")
    stamp = root / ".cache" / "gradbook" / "exercises.key"
    try:
        if stamp.read_text(encoding="utf-8") == inputs_digest(*folders):
            return EXIT_OK
    except OSError:
        pass
    from .exercises._cli import exercises_main

    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        code = exercises_main([], root)
    if not options.quiet or code:
        print(said.getvalue().rstrip())
    if code == EXIT_OK:
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(inputs_digest(*folders), encoding="utf-8")
        except OSError:
            pass
    return code


def _check_exercises(options: Options, root: Path) -> int:
    """--check covers the student notebooks too, when the project has them."""
    if not _has_exercises(options):
        return EXIT_OK
    from .exercises._cli import exercises_main

    return exercises_main(["--check"], options.derivations.parent)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
