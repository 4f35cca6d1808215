"""The cache key: what a kernel actually runs besides a notebook's own cells.

That is the runtime engine (every module under gradbook/ except the build and the command
line), the derivations' own helper modules (derivations/_*.py), the catalog files, the pinned
dependencies and the Python version. Python files are hashed by their syntax tree with
docstrings removed, so a comment or docstring edit re-executes nothing; any change to code does.
"""
from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

BUILD_FORMAT = b"gradbook-build-2"
PACKAGE = Path(__file__).resolve().parent.parent
NOT_RUN_BY_KERNELS = ("build", "cli.py", "__main__.py")


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
    return engine + helpers


def fingerprint(lock_file: Path | None, derivations: Path | None = None) -> bytes:
    """One digest of everything in runtime_files, the lock file and the Python version."""
    digest = hashlib.sha256(BUILD_FORMAT)
    for path in runtime_files(derivations):
        name = path.relative_to(PACKAGE.parent if path.is_relative_to(PACKAGE) else derivations)
        digest.update(str(name.as_posix()).encode() + b"\0" + code_digest(path) + b"\0")
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
