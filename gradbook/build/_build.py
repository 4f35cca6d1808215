"""The build: each derivation source becomes an executed notebook, and all of them a ledger.

Notebooks run in parallel, each in its own kernel. A notebook is re-executed only when what
execution depends on changed (its code cells, the runtime engine and helpers, the pins;
see _cache.py); it is
written only when complete (temporary file, then rename), so a failure or Ctrl-C leaves the
previous notebook in place.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..checks._catalog import Claim, load_catalog
from ._cache import PACKAGE, fingerprint
from ._convert import NOTEBOOK_METADATA, cell_lines, code_hash, source_to_notebook
from ..checks._ledger import EXPECTED_FAILURE, FAILED, LEDGER_MIME, VERIFIED, Ledger, holds



@dataclass
class Options:
    """What to build and how (see cli.py for the command-line flags)."""

    derivations: Path
    notebooks: Path
    only: list[str] = field(default_factory=list)
    execute: bool = True
    force: bool = False
    jobs: int = 1
    timeout: float = 600.0
    quiet: bool = False
    lock_file: Path | None = None
    jax_cache: Path | None = None  # a persistent XLA compilation cache shared by the kernels
    digest_cache: Path | None = None  # where the cache key's per-file digests are remembered
    xla_one_thread: bool = False   # one XLA compute thread per kernel when kernels share cores

    def kernel_env(self) -> dict:
        """What the kernels' environment adds: the project's root on the import path (a
        derivation may import the project's own modules, `from my_models import loss`), and
        for speed a compilation cache and a thread count, neither of which changes a number."""
        root = self.derivations.resolve().parent
        env = {}
        # not where a folder named gradbook that is not this package would shadow it (a scratch
        # project's copy of the exercise bank, say)
        if not (root / "gradbook").exists() or (root / "gradbook").resolve() == PACKAGE:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
        if self.jax_cache is not None:
            env.update(JAX_COMPILATION_CACHE_DIR=str(self.jax_cache),
                       JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                       JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
        if self.xla_one_thread:
            env["XLA_FLAGS"] = " ".join(f for f in (os.environ.get("XLA_FLAGS"),
                                                     "--xla_cpu_multi_thread_eigen=false") if f)
        return env


@dataclass
class Outcome:
    """How one notebook went: built, cached (up to date), reused outputs, converted, or failed."""

    name: str
    status: str
    seconds: float = 0.0
    ledger: dict = field(default_factory=dict)
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class UsageError(Exception):
    """A problem with the command line or the folders: reported plainly, exit code 2."""


def discover(derivations: Path, only: list[str]) -> list[Path]:
    """The derivation sources to build, in name order; `only` selects some by name."""
    if not derivations.is_dir():
        raise UsageError(f"no derivations folder at {derivations}")
    sources = sorted(p for p in derivations.glob("*.py") if not p.name.startswith("_"))
    if not only:
        return sources
    by_name = {p.stem: p for p in sources}
    wanted = [Path(n).stem for n in only]
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise UsageError(f"unknown derivation(s): {', '.join(unknown)}; "
                         f"available: {', '.join(by_name) or '(none)'}")
    return [by_name[n] for n in dict.fromkeys(wanted)]


def build(options: Options, report=print) -> list[Outcome]:
    """Build the selected notebooks, write the ledger, and return one Outcome per notebook."""
    sources = discover(options.derivations, options.only)
    _require_writable(options.notebooks)
    engine = fingerprint(options.lock_file, options.derivations, options.digest_cache)
    if not options.quiet:
        report(f"building {len(sources)} notebook(s) with {options.jobs} worker(s)")
    outcomes, todo = [], []
    for source in sources:  # up-to-date notebooks first, without starting an event loop
        done = _up_to_date(source, options, engine)
        if done is not None and not options.quiet:
            report(progress_line(done))
        if done is None:
            todo.append(source)
        else:
            outcomes.append(done)
    if todo:
        import asyncio  # only when something is built: a no-op build stays fast

        outcomes = sorted(outcomes + asyncio.run(_build_all(todo, options, engine, report)),
                          key=lambda o: o.name)
    if options.execute:
        names = [p.stem for p in discover(options.derivations, [])]
        ledger = merge_ledgers(options.notebooks, names, outcomes)
        write_atomically(options.notebooks / "ledger.json",
                         json.dumps(ledger, indent=1, ensure_ascii=False) + "\n")
    return outcomes


async def _build_all(sources, options, engine, report):
    import asyncio

    workers = asyncio.Semaphore(max(1, options.jobs))  # granted in the order tasks ask
    # The longest source usually runs longest: starting it first shortens the whole build.
    longest_first = sorted(sources, key=lambda p: p.stat().st_size, reverse=True)
    tasks = [asyncio.create_task(_build_one(src, options, engine, workers)) for src in longest_first]
    outcomes = []
    try:
        for next_done in asyncio.as_completed(tasks):
            outcome = await next_done
            outcomes.append(outcome)
            if not options.quiet or outcome.failed:
                report(progress_line(outcome))
    finally:  # on Ctrl-C: stop every kernel before leaving
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return sorted(outcomes, key=lambda o: o.name)


def _up_to_date(source: Path, options: Options, engine: bytes) -> Outcome | None:
    """The outcome of a notebook whose source and engine are those it was built from, or None."""
    previous = None if options.force else _read_json(options.notebooks / f"{source.stem}.ipynb")
    meta = previous.get("metadata", {}).get("gradbook", {}) if previous else {}
    if previous and meta.get("source_hash") == _source_hash(source.read_bytes(), engine):
        return Outcome(source.stem, "cached", 0.0, _ledger_output(previous))
    return None


def _source_hash(raw: bytes, engine: bytes) -> str:
    return hashlib.sha256(raw + b"\0" + engine).hexdigest()


async def _build_one(source: Path, options: Options, engine: bytes, workers) -> Outcome:
    import nbformat  # only a notebook that is built needs it (a no-op build stays fast)

    name, started = source.stem, time.monotonic()
    target = options.notebooks / f"{name}.ipynb"
    raw = source.read_bytes()
    source_hash = _source_hash(raw, engine)
    previous = _read_notebook(target)
    meta = previous.metadata.get("gradbook", {}) if previous else {}

    text = raw.decode("utf-8")
    label = f"derivations/{source.name}"
    try:
        compile(text, label, "exec")
    except SyntaxError as error:
        return Outcome(name, "failed", time.monotonic() - started,
                       message=f"{label}, line {error.lineno}: SyntaxError: {error.msg}")
    nb = source_to_notebook(source, text)
    exec_hash = code_hash(nb, engine)
    status = "converted"
    if (previous and not options.force and meta.get("exec_hash") == exec_hash
            and _reuse_outputs(previous, nb)):
        status = "reused"  # only prose changed: keep the outputs, skip the kernel
    elif options.execute:
        async with workers:
            started = time.monotonic()
            failure = await _execute(nb, source.parent, options.timeout, options.kernel_env())
        if failure is not None:
            return Outcome(name, "failed", time.monotonic() - started,
                           _declared_as_failed(nb),
                           _failure_message(label, text, nb, failure))
        status = "built"
    problem = _unreproducible_output(nb)
    if problem:
        return Outcome(name, "failed", time.monotonic() - started, message=f"{label}: {problem}")
    nb.metadata.language_info = nbformat.from_dict(NOTEBOOK_METADATA["language_info"])
    nb.metadata.gradbook = nbformat.from_dict(
        {"source": label, "source_hash": source_hash,
         **({"exec_hash": exec_hash} if status != "converted" else {})})
    nbformat.validate(nb)
    write_atomically(target, nbformat.writes(nb) + "\n")
    return Outcome(name, status, time.monotonic() - started, _ledger_output(nb))


async def _execute(nb, cwd, timeout, env):
    from ._execute import execute_notebook  # nbclient is imported only when a kernel is needed

    return await execute_notebook(nb, cwd, timeout, env)


def _reuse_outputs(previous, nb) -> bool:
    old = [c for c in previous.cells if c.cell_type == "code"]
    new = [c for c in nb.cells if c.cell_type == "code"]
    if [c.source for c in old] != [c.source for c in new]:
        return False
    for o, n in zip(old, new):
        n.outputs, n.execution_count = o.outputs, o.execution_count
    return True


def _read_notebook(path: Path):
    """A notebook written earlier, or None when there is none (or it cannot be read)."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None


def _read_json(path: Path) -> dict | None:
    """A notebook written earlier as plain JSON, unvalidated: enough for its hashes and ledger."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _ledger_output(nb) -> dict:
    """The ledger a notebook's closing summary() left in its outputs (empty if none)."""
    found = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {}).get(LEDGER_MIME)
            if data:
                found = {**found, **data}
    return found


def _declared_as_failed(nb) -> dict:
    """A failed notebook's claims: all it declared, plus the one the kernel said failed."""
    data = _ledger_output(nb)
    declared = data.get("declared", [])
    return {"declared": declared, "failed": sorted(set(declared) | set(data.get("failed", [])))}


def _failure_message(label, text, nb, failure) -> str:
    """'derivations/x.py, line 18 (cell 1): `the line that raised`', then the reason."""
    where = label
    if failure.cell is not None:
        cell = nb.cells[failure.cell].source.splitlines()
        first = next((i for i, ln in enumerate(cell) if ln.strip()), 0)
        in_cell = failure.line - 1 if failure.line and 0 < failure.line <= len(cell) else first
        start = cell_lines(text, nb).get(failure.cell)
        line = start - first + in_cell if start else None
        where += (f", line {line}" if line else "") + f" (cell {failure.cell}): `{cell[in_cell].strip() if cell else ''}`"
    return f"{where}\n  {failure.reason}"


_UNREPRODUCIBLE = [
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "a memory address"),
]


def _unreproducible_output(nb) -> str | None:
    """Outputs must not depend on the machine: no memory addresses, no absolute paths."""
    machine_paths = {str(Path.home()), tempfile.gettempdir(), os.getcwd(), str(PACKAGE.parent)}
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")] + [v for v in out.get("data", {}).values() if isinstance(v, str)]
            for text in texts:
                for pattern, what in _UNREPRODUCIBLE:
                    hit = pattern.search(text)
                    if hit:
                        return f"output of cell {index} contains {what} ({hit.group(0)}); outputs must be reproducible"
                for path in machine_paths:
                    if len(path) > 1 and path in text:
                        return f"output of cell {index} contains a machine path ({path}); outputs must be reproducible"
    return None


def merge_ledgers(notebooks: Path, names: list[str], outcomes: list[Outcome]) -> dict:
    """One ledger for the project: every notebook's checks under their claim ids.

    Notebooks built in this run report through their Outcome; the others are read from disk.
    """
    by_name = {o.name: o for o in outcomes}
    datas = {}
    for name in names:
        outcome = by_name.get(name)
        if outcome is None:
            nb = _read_json(notebooks / f"{name}.ipynb")
            datas[name] = _ledger_output(nb) if nb else {}
        else:
            datas[name] = outcome.ledger
    # A derivation's own claims (declare_claim) join the catalog, as the notebook defined them.
    own = [Claim.from_json(c) for d in datas.values() for c in d.get("defined", [])]
    catalog = load_catalog().extended(own)
    ledger, where, failures = Ledger(catalog), {}, {}
    for name in names:
        outcome = by_name.get(name)
        if outcome is not None and outcome.failed:
            for claim in outcome.ledger.get("failed", []):
                failures[claim] = f"notebook {name} failed: {' '.join(outcome.message.split())}"
                where.setdefault(claim, []).append(name)
            continue
        for entry in datas[name].get("claims", []):
            ledger.load(entry["id"], entry["checks"])
            where.setdefault(entry["id"], []).append(name)
    entries = []
    for claim_id in catalog.claims:
        if claim_id not in where:
            continue
        entry = ledger.entry(claim_id) if claim_id not in failures else {
            "id": claim_id, "source": catalog.cite(claim_id), "status": FAILED,
            "reason": failures[claim_id], "checks": []}
        entries.append({**entry, "notebooks": where[claim_id]})
    counts = {s: sum(e["status"] == s for e in entries) for s in (VERIFIED, EXPECTED_FAILURE, FAILED)}
    return {"claims": entries,
            "summary": {**counts, "catalog": len(catalog.claims) - len(set(c.id for c in own)),
                        "own": len(set(c.id for c in own)),
                        "not_covered": [c for c in catalog.claims if c not in where]}}


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def progress_line(outcome: Outcome) -> str:
    """One line per notebook as it finishes: name, what happened, claims verified, seconds."""
    claims = outcome.ledger.get("claims", [])
    good = sum(holds(e["status"]) for e in claims)
    words = {"built": "executed", "cached": "up to date", "reused": "outputs reused (prose changed)",
             "converted": "converted, not executed", "failed": "FAILED"}[outcome.status]
    line = f"  {outcome.name:<32} {words:<30} {good}/{len(claims)} claims verified {outcome.seconds:6.1f} s"
    if outcome.failed:
        lines = outcome.message.splitlines()
        reason = lines[1 if len(lines) > 1 else 0].strip()
        line = f"  {outcome.name:<32} FAILED after {outcome.seconds:.1f} s: {reason[:120]}"
    return line


def _require_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the notebooks folder {folder}: {error.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"the notebooks folder {folder} is not writable")
