"""Every derivation runs, in a real kernel, and builds exactly the committed notebook.

One build serves both purposes (autodidax-style "the docs cannot rot", and `build.py --check`):
the whole project is built once per test session into a scratch folder, and each derivation is
then a test of its own: it executed with every claim verified, and its notebook is byte-identical
to the one committed, as build/_fresh.py defines it (the same definition as `build.py --check`).
"""
import json
import shutil
from pathlib import Path

import pytest

from gradbook.build import Options, build
from gradbook.build._fresh import differences
from gradbook.checks._catalog import load_catalog
from gradbook.checks._ledger import holds

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for p in (ROOT / "derivations").glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory):
    """Build every notebook from scratch (no cache) into a copy of notebooks/, once."""
    work = tmp_path_factory.mktemp("build")
    scratch = work / "notebooks"
    shutil.copytree(ROOT / "notebooks", scratch, ignore=shutil.ignore_patterns("exercises"))
    options = Options(derivations=ROOT / "derivations", notebooks=scratch, force=True, jobs=2,
                      quiet=True, lock_file=ROOT / "requirements.lock", jax_cache=work / "jax")
    outcomes = build(options, report=lambda line: None)
    return scratch, {o.name: o for o in outcomes}


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_derivation_runs_verifies_its_claims_and_matches_the_committed_notebook(source, fresh_build):
    scratch, outcomes = fresh_build
    outcome = outcomes[source.stem]
    assert not outcome.failed, outcome.message
    statuses = {e["id"]: e["status"] for e in outcome.ledger["claims"]}
    assert statuses and all(holds(s) for s in statuses.values()), statuses
    built, committed = scratch / f"{source.stem}.ipynb", ROOT / "notebooks" / f"{source.stem}.ipynb"
    assert committed.exists(), f"{committed.name} is not committed: run make notebooks"
    why = differences(built, committed)
    assert why is None, f"{committed.name} differs from what its source builds: {why}; run make notebooks"


def test_the_committed_ledger_is_what_the_sources_build(fresh_build):
    scratch, _ = fresh_build
    why = differences(scratch / "ledger.json", ROOT / "notebooks" / "ledger.json")
    assert why is None, f"notebooks/ledger.json differs from what the sources build: {why}"


def test_no_committed_notebook_is_stale():
    built_by_sources = {p.stem for p in SOURCES}
    stale = [p.name for p in (ROOT / "notebooks").glob("*.ipynb") if p.stem not in built_by_sources]
    assert not stale, f"no derivation builds {stale}: delete them"


def test_every_catalog_claim_is_verified_in_the_committed_ledger():
    ledger = json.loads((ROOT / "notebooks" / "ledger.json").read_text(encoding="utf-8"))
    status = {entry["id"]: entry["status"] for entry in ledger["claims"]}
    catalog = load_catalog()
    missing = [cid for cid in catalog.claims if cid not in status]
    assert not missing, f"claims no notebook verifies: {missing}"
    wrong = {cid: s for cid, s in status.items()
             if s != ("expected-failure" if cid in catalog and catalog[cid].expected_failure else "verified")}
    assert not wrong, f"claims not verified: {wrong}"
    own = {e["id"] for e in ledger["claims"]} - set(catalog.claims)
    assert own == {"machine.kang.circuit", "machine.kang.logreg", "machine.jin.network",
                   "machine.deriv.network",  # declared by notebook 17 itself
                   "real.mlp", "real.cnn", "real.gru", "real.transformer"}, own  # and by 18
