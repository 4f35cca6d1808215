"""Benchmark the build against plain `jupyter nbconvert --execute`, as ratios taken in one run.

Measured side by side, each as a fresh process, in a scratch copy of the project:
  cold     build.py on an empty notebooks folder (every notebook executed, in parallel), with
           the default settings and an empty XLA compilation cache (as in CI)
  cold_no_cache   the same with --no-jax-cache (no persistent compilation cache at all)
  cold_warm_cache the same with the cache filled by the cold build (a developer's rebuild)
  cold_one_thread the same as cold_no_cache with --xla-threads one
  no-op    build.py again with nothing changed
  touched  build.py after one source's code changed (that notebook re-executed)
  nbconvert_all  `jupyter nbconvert --to notebook --execute` over the same notebooks, serially
  nbconvert_one  the same for the touched notebook alone (its own execution time)
Targets: cold <= 0.6 x nbconvert_all; no-op < 0.3 s (issue 14); touched <= 1.3 x nbconvert_one.
Usage: python bench/build_speed.py [--repeat N] [--touch NAME]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], cwd: Path) -> float:
    """Seconds for one run of `command`; fails loudly if the command fails."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"benchmark step failed: {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    return seconds


def main(argv=None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--repeat", type=int, default=1, help="take the best of N runs of each step")
    args.add_argument("--touch", default="03_sigmoid", help="the derivation to change for 'touched'")
    opts = args.parse_args(argv)
    python = sys.executable
    jupyter = str(Path(python).with_name("jupyter"))
    with tempfile.TemporaryDirectory(prefix="gradbook-bench-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "derivations", work / "derivations")
        # a whole project's layout: a build also keeps the student notebooks current
        shutil.copytree(ROOT / "notebooks" / "exercises", work / "notebooks" / "exercises")
        sources = sorted((work / "derivations").glob("[!_]*.py"))
        build = [python, str(ROOT / "build.py"), "--quiet", "--derivations", str(work / "derivations")]

        # nbconvert's input: the same notebooks, unexecuted (conversion is not timed).
        plain = work / "plain"
        plain.mkdir()
        for src in sources:
            subprocess.run([python, "-m", "jupytext", "--quiet", "--to", "ipynb", "--output",
                            str(plain / f"{src.stem}.ipynb"), str(src)], check=True)
        nbconvert = [jupyter, "nbconvert", "--to", "notebook", "--execute", "--log-level=ERROR",
                     "--output-dir", str(work / "nbconvert-out")]

        results: dict[str, list[float]] = {k: [] for k in (
            "cold", "cold_no_cache", "cold_warm_cache", "cold_one_thread", "no-op", "touched",
            "nbconvert_all", "nbconvert_one")}
        touched_src = work / "derivations" / f"{opts.touch}.py"
        original = touched_src.read_text()
        for attempt in range(opts.repeat):
            out = work / f"notebooks-{attempt}"
            cache = ["--jax-cache", str(work / f"jax-cache-{attempt}")]
            flags = ["--notebooks", str(out)] + cache
            results["cold"].append(timed(build + flags, work))
            for key, extra in (("cold_warm_cache", cache), ("cold_no_cache", ["--no-jax-cache"]),
                               ("cold_one_thread", ["--no-jax-cache", "--xla-threads", "one"])):
                scratch = ["--notebooks", str(work / f"{key}-{attempt}")]
                results[key].append(timed(build + scratch + extra, work))
            results["no-op"].append(timed(build + flags, work))
            touched_src.write_text(original + f"\n# %%\nbenchmark_touch = {attempt}\n")
            results["touched"].append(timed(build + flags, work))
            touched_src.write_text(original)
            results["nbconvert_all"].append(timed(nbconvert + sorted(map(str, plain.glob("*.ipynb"))), work))
            results["nbconvert_one"].append(timed(nbconvert + [str(plain / f"{opts.touch}.ipynb")], work))

    best = {k: min(v) for k, v in results.items()}
    print(f"gradbook build benchmark: {len(sources)} notebooks, {os.cpu_count()} cores, "
          f"best of {opts.repeat}")
    for key, seconds in best.items():
        print(f"  {key:<14} {seconds:7.2f} s")
    cold = best["cold"] / best["nbconvert_all"]
    touched = best["touched"] / best["nbconvert_one"]
    print(f"  cold / nbconvert_all    = {cold:.2f}  (target <= 0.6, toward 0.4)")
    for key in ("cold_no_cache", "cold_warm_cache", "cold_one_thread"):
        print(f"  {key + ' / nbconvert_all':<23} = {best[key] / best['nbconvert_all']:.2f}")
    print(f"  no-op                   = {best['no-op']:.2f} s (target < 0.3 s)")
    print(f"  touched / nbconvert_one = {touched:.2f}  (target <= 1.3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
