"""Benchmark `python -m gradbook book`: a whole book, a rebuild with nothing changed, one notebook changed.

Each build runs in a fresh process (`python -m gradbook book`, start-up included) on a copy of
the notebooks, into a scratch folder; the best of --repeat runs is kept, with the files written.
  cold       an empty output folder: every page rendered and written
  unchanged  the same notebooks again: nothing rendered, nothing written
  one        one sentence added to one notebook: its page, the search index (and the claims
             page or the start page only where what they show changed) rewritten
Nothing is asserted: this reports figures (see the README), it is not a timed test.
Usage: python bench/book_speed.py [--repeat N] [--notebooks DIR]
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(notebooks: Path, out: Path) -> tuple[float, float, str]:
    """Wall-clock and CPU seconds of one build in a fresh process, and its one-line report.

    CPU seconds (user + system) say more than wall-clock time on a busy shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gradbook", "book", "--notebooks", str(notebooks),
                           "--out", str(out)], cwd=notebooks.parent, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode:
        raise SystemExit(f"book_speed: the build failed: {done.stderr.strip()}")
    return seconds, cpu, re.sub(r" in [0-9.]+ s$", "", done.stdout.strip().splitlines()[-1])


def touch_one(notebook: Path, n: int) -> None:
    """Add a sentence to the notebook's first Markdown cell."""
    data = json.loads(notebook.read_text(encoding="utf-8"))
    cell = next(c for c in data["cells"] if c["cell_type"] == "markdown")
    cell["source"] = "".join(cell["source"]) + f"\n\nEdit number {n}."
    notebook.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    args = p.parse_args()
    best: dict[str, tuple[float, float, str]] = {}
    with tempfile.TemporaryDirectory(prefix="gradbook-book-bench-") as tmp:
        notebooks = Path(tmp) / "notebooks"
        shutil.copytree(args.notebooks, notebooks)
        one = sorted(notebooks.glob("*.ipynb"))[len(list(notebooks.glob("*.ipynb"))) // 2]
        for n in range(args.repeat):
            out = Path(tmp) / f"book{n}"
            for name, prepare in (("cold", None), ("unchanged", None), ("one", lambda: touch_one(one, n))):
                if prepare:
                    prepare()
                result = build(notebooks, out)
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
    print(f"book build, best of {args.repeat}, fresh processes ({one.name} changed in 'one'):")
    for name, (seconds, cpu, report) in best.items():
        print(f"  {name:<10} {seconds:6.2f} s wall {cpu:6.2f} s CPU   {report.split(' -> ')[0]}; "
              f"{report.split('(', 1)[-1].rstrip(')')}")


if __name__ == "__main__":
    main()
