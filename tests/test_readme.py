"""The README's table of notebooks says what the ledger says: same notebooks, claims, status."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_rows():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- notebooks-table")[1].split("<!-- end of notebooks-table -->")[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (sorted(re.split(r",\s*", cells[2])), cells[3])
    return rows


def test_readme_lists_every_notebook_with_its_claims_and_status():
    ledger = json.loads((ROOT / "notebooks" / "ledger.json").read_text(encoding="utf-8"))
    expected = {}
    for source in sorted((ROOT / "derivations").glob("[!_]*.py")):
        entries = [e for e in ledger["claims"] if source.stem in e["notebooks"]]
        ok = entries and all(e["status"] in ("verified", "expected-failure") for e in entries)
        expected[source.stem] = (sorted(e["id"] for e in entries), "verified" if ok else "failed")
    assert readme_rows() == expected
