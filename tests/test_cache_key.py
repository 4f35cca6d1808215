"""The cache key changes with what a kernel runs, and with nothing else."""
import shutil
from pathlib import Path

import pytest

from gradbook.build import _cache

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """A copy of the package and a derivations folder, with the key computed over the copy."""
    package = tmp_path / "gradbook"
    shutil.copytree(ROOT / "gradbook", package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "derivations").mkdir()
    (tmp_path / "derivations" / "_helpers.py").write_text("SCALE = 2\n")
    monkeypatch.setattr(_cache, "PACKAGE", package)
    return tmp_path


def key(root):
    return _cache.fingerprint(None, root / "derivations")


def edit(path: Path, old: str, new: str):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_docstring_or_comment_edit_keeps_the_key(engine):
    before = key(engine)
    numeric = engine / "gradbook" / "checks" / "_numeric.py"
    edit(numeric, '"""Numeric checks:', '"""Numeric checks (reworded):')
    edit(numeric, "import inspect", "import inspect  # a comment")
    assert key(engine) == before


def test_a_code_edit_in_a_runtime_module_changes_the_key(engine):
    before = key(engine)
    edit(engine / "gradbook" / "checks" / "_tolerance.py", "\nAUTODIFF_RTOL = 1e-10", "\nAUTODIFF_RTOL = 1e-9")
    assert key(engine) != before


def test_a_helper_module_of_the_derivations_changes_the_key(engine):
    before = key(engine)
    (engine / "derivations" / "_helpers.py").write_text("SCALE = 3\n")
    assert key(engine) != before


def test_a_catalog_edit_changes_the_key(engine):
    before = key(engine)
    edit(engine / "gradbook" / "checks" / "catalog" / "seeds.json", "§2.1", "§2.1 ")
    assert key(engine) != before


def test_the_build_code_and_the_book_are_not_part_of_the_key(engine):
    before = key(engine)
    edit(engine / "gradbook" / "build" / "_build.py", "import hashlib", "import hashlib\nimport json as _j")
    edit(engine / "gradbook" / "cli.py", "import argparse", "import argparse\nimport json as _j")
    edit(engine / "gradbook" / "book" / "_build.py", "\nimport ", "\nimport json as _j\nimport ")
    assert key(engine) == before


def test_a_project_module_a_derivation_imports_is_in_the_key(engine):
    (engine / "derivations" / "01_mine.py").write_text("# %%\nfrom my_models import loss\n")
    (engine / "my_models.py").write_text("def loss(w):\n    return w * w\n")
    (engine / "notes.py").write_text("X = 1\n")  # at the root too, but imported by no derivation
    before = key(engine)
    (engine / "notes.py").write_text("X = 2\n")
    assert key(engine) == before
    edit(engine / "my_models.py", "w * w", "w * w * w")
    assert key(engine) != before


def test_remembered_digests_give_the_key_that_parsing_gives(engine, tmp_path):
    store = tmp_path / "cache" / "digests.json"
    fresh = key(engine)
    assert _cache.fingerprint(None, engine / "derivations", store) == fresh
    assert store.exists() and _cache.fingerprint(None, engine / "derivations", store) == fresh
    edit(engine / "gradbook" / "checks" / "_tolerance.py", "\nAUTODIFF_RTOL = 1e-10", "\nAUTODIFF_RTOL = 1e-9")
    assert _cache.fingerprint(None, engine / "derivations", store) == key(engine) != fresh
