"""The cache key: what a kernel actually runs besides a notebook's own cells.

That is the runtime engine (every module under gradbook/ except the build, the book and the
command line), the derivations' own helper modules (derivations/_*.py), the catalog files, the pinned
dependencies and the Python version. Python files are hashed by their syntax tree with
docstrings removed, so a comment or docstring edit re-executes nothing; any change to code does.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

BUILD_FORMAT = b"gradbook-build-2"
PACKAGE = Path(__file__).resolve().parent.parent
NOT_RUN_BY_KERNELS = ("build", "book", "cli.py", "__main__.py")


def runtime_files(derivations: Path | None) -> list[Path]:
    """The files a kernel's run can depend on, in a fixed order."""
    engine = [p for p in sorted(PACKAGE.rglob("*"))
              if p.suffix in (".py", ".json") and "__pycache__" not in p.parts
              and p.relative_to(PACKAGE).parts[0] not in NOT_RUN_BY_KERNELS]
    helpers = []
    if derivations is not None and derivations.is_dir():
        helpers = sorted(p for p in derivations.rglob("_*.py") if "__pycache__" not in p.parts)
        helpers += sorted(p for d in derivations.glob("_*") if d.is_dir() for p in d.rglob("*.py")
                          if "__pycache__" not in p.parts and p not in helpers)
        helpers += project_modules(derivations)
    return engine + helpers


_IMPORT = re.compile(r"^\s*(?:from\s+([A-Za-z_]\w*)|import\s+([A-Za-z_]\w*))", re.MULTILINE)


def project_modules(derivations: Path) -> list[Path]:
    """The project's own modules that a derivation imports (`from my_models import loss`):
    `NAME.py` or the package `NAME/` at the project's root, which every kernel can import."""
    root = derivations.parent
    names = sorted({a or b for p in derivations.glob("*.py")
                    for a, b in _IMPORT.findall(p.read_text(encoding="utf-8", errors="replace"))})
    found = []
    for name in names:
        if (root / f"{name}.py").is_file():
            found.append(root / f"{name}.py")
        elif (root / name / "__init__.py").is_file() and (root / name).resolve() != PACKAGE:
            found += sorted(p for p in (root / name).rglob("*.py") if "__pycache__" not in p.parts)
    return found


def fingerprint(lock_file: Path | None, derivations: Path | None = None,
                store: Path | None = None) -> bytes:
    """One digest of everything in runtime_files, the lock file and the Python version.

    `store` remembers each file's syntax-tree digest by the hash of its bytes, so that a
    no-op build parses no file (parsing them all is most of a no-op build's time otherwise).
    """
    digest = hashlib.sha256(BUILD_FORMAT)
    known = _DigestStore(store)
    for path in runtime_files(derivations):
        name = path.relative_to(PACKAGE.parent if path.is_relative_to(PACKAGE) else derivations.parent)
        digest.update(str(name.as_posix()).encode() + b"\0" + known.digest(path) + b"\0")
    known.save()
    if lock_file is not None and lock_file.exists():
        digest.update(lock_file.read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return digest.hexdigest().encode()


def code_digest(path: Path) -> bytes:
    """A Python file's syntax tree without docstrings (its bytes if it does not parse)."""
    raw = path.read_bytes()
    if path.suffix != ".py":
        return hashlib.sha256(raw).digest()
    try:
        tree = ast.parse(raw)
    except SyntaxError:
        return hashlib.sha256(raw).digest()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).digest()


class _DigestStore:
    """code_digest, remembered across builds in a JSON file keyed by the sha256 of a file's bytes."""

    def __init__(self, path: Path | None):
        self.path, self.seen, self.known = path, {}, {}
        if path is not None:
            try:
                self.known = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.known = {}
        self.loaded = dict(self.known)

    def digest(self, path: Path) -> bytes:
        raw = hashlib.sha256(path.read_bytes()).hexdigest()
        if raw not in self.known:
            self.known[raw] = code_digest(path).hex()
        self.seen[raw] = self.known[raw]
        return bytes.fromhex(self.seen[raw])

    def save(self) -> None:
        """Keep only this build's entries; write atomically, and never fail a build for it."""
        if self.path is None or self.seen == self.loaded:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".digests.", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.seen, handle, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            pass


def inputs_digest(*folders: Path) -> str:
    """The sha256 of every file's path and bytes under `folders`: what the student notebooks
    are made from (and are), so that a build can skip remaking them when none changed."""
    digest = hashlib.sha256(BUILD_FORMAT)
    for folder in folders:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and not p.name.startswith(".")) if folder.is_dir() else []
        for path in files:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0"
                          + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
