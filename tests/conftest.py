"""Strict test settings: warnings are errors (pyproject.toml); each test records into its own ledger."""
import os

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")


@pytest.fixture
def ledger():
    """A fresh ledger that the checks in one test record into."""
    from gradbook import Ledger, use_ledger

    with use_ledger(Ledger()) as fresh:
        yield fresh
