"""Every derivation source runs as plain Python, and every check in it passes (autodidax-style)."""
import json
import runpy
from pathlib import Path

import pytest

from gradbook import Ledger, load_catalog, use_ledger

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for p in (ROOT / "derivations").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_derivation_runs_and_verifies_its_claims(source, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(source.parent)
    with use_ledger(Ledger()) as ledger:
        runpy.run_path(str(source), run_name="__main__")
    statuses = {e["id"]: e["status"] for e in ledger.to_json()["claims"]}
    assert statuses and set(statuses.values()) <= {"verified", "expected-failure"}, statuses


def test_every_catalog_claim_is_verified_in_the_committed_ledger():
    ledger = json.loads((ROOT / "notebooks" / "ledger.json").read_text(encoding="utf-8"))
    status = {entry["id"]: entry["status"] for entry in ledger["claims"]}
    catalog = load_catalog()
    missing = [cid for cid in catalog.claims if cid not in status]
    assert not missing, f"claims no notebook verifies: {missing}"
    wrong = {cid: s for cid, s in status.items()
             if s != ("expected-failure" if catalog[cid].expected_failure else "verified")}
    assert not wrong, f"claims not verified: {wrong}"
