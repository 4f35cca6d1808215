"""Strict test settings: warnings are errors (pyproject.toml); each test records into its own ledger.

`make test` runs the tests in two processes (pytest-xdist, `-n 2`): the tests of a module that
defines a module- or session-scoped fixture (the build of every notebook, the book) are kept in
one process, so that the fixture is made once, and are started first.
"""
import ast
import os
from pathlib import Path

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")


@pytest.fixture
def ledger():
    """A fresh ledger that the checks in one test record into."""
    from gradbook import Ledger, use_ledger

    with use_ledger(Ledger()) as fresh:
        yield fresh


def _modules_sharing_a_fixture(tests: Path) -> set[str]:
    """The test modules (as node ids name them) that define a module- or session-scoped fixture."""
    found = set()
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for decorator in getattr(node, "decorator_list", ()):
                if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "pytest.fixture" \
                        and any(k.arg == "scope" and isinstance(k.value, ast.Constant) and
                                k.value.value in ("module", "session") for k in decorator.keywords):
                    found.add(f"{tests.name}/{path.name}")
    return found


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's load scheduling (test by test, to whichever process is free), except that such a
    module's tests go to one process, as one unit, largest units first (see the module docstring).
    (xdist's own `--dist loadgroup` marks do not reach pytest 9's node ids.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    grouped = _modules_sharing_a_fixture(Path(__file__).resolve().parent)

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in grouped else nodeid

    return SharedFixtureScheduling(config, log)
