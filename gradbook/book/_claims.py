"""The claims index: every claim of the ledger, what it states, its status, and where it is checked."""
from __future__ import annotations

import html
from collections import defaultdict

from ..checks._catalog import Claim, load_catalog
from ..checks._ledger import EXPECTED_FAILURE, LEDGER_MIME, VERIFIED
from ._markdown import claim_href

STATUS_WORDS = {VERIFIED: "verified",
                EXPECTED_FAILURE: "erratum: the document's statement is wrong, and rejected as such"}


def declared_claims(pages) -> dict[str, Claim]:
    """The claims the derivations declare themselves, as their notebooks' ledger output carries them."""
    out = {}
    for page in pages:
        for cell in page.notebook.get("cells", []):
            for output in cell.get("outputs") or []:
                data = (output.get("data") or {}).get(LEDGER_MIME)
                for entry in (data or {}).get("defined", []) if isinstance(data, dict) else []:
                    out[entry["id"]] = Claim.from_json(entry)
    return out


def where_checked(checks_by_page) -> dict[str, list]:
    """claim id -> [(page, cell anchor, kinds shown there)], in page and cell order."""
    out: dict[str, dict] = defaultdict(dict)
    for page, checks in checks_by_page:
        for claim, kind, _passed, anchor in checks:
            kinds = out[claim].setdefault((page.href, page.title, anchor), [])
            if kind and kind not in kinds:
                kinds.append(kind)
    return {claim: [(*key, kinds) for key, kinds in cells.items()] for claim, cells in out.items()}


def claims_body(ledger: dict, pages, checks_by_page) -> str:
    """The claims page: a summary, then one entry per ledger claim."""
    catalog = load_catalog()
    catalog = catalog.extended([c for c in declared_claims(pages).values() if c.id not in catalog])
    cells = where_checked(checks_by_page)
    claims = ledger["claims"]
    counts = defaultdict(int)
    for claim in claims:
        counts[claim["status"]] += 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    rows = [f'<h1 id="claims">Claims index</h1>\n<p class="summary">{len(claims)} claims in '
            f"<code>notebooks/ledger.json</code>: {html.escape(summary)}. Each links to the cells "
            "whose checks verify it; each check line on a page links back here.</p>\n"]
    rows += [_claim(c, catalog, cells.get(c["id"], [])) for c in claims]
    return '<article class="claims">\n' + "".join(rows) + "</article>\n"


def _claim(entry: dict, catalog, cells: list) -> str:
    e = html.escape
    cid, status = entry["id"], entry["status"]
    states = catalog[cid].claim if cid in catalog else ""
    checks = entry.get("checks", [])
    passed = sorted({c["kind"] for c in checks if c.get("passed") and not c.get("expected_failure")})
    rejected = [c for c in checks if c.get("expected_failure")]
    out = [f'<section class="claim status-{e(status)}" id="{e(claim_href(cid).split("#")[1])}">\n',
           f'<h2><code>{e(cid)}</code> <span class="status">{e(STATUS_WORDS.get(status, status))}</span></h2>\n',
           f'<p class="states">{e(states)}</p>\n' if states else "",
           f'<p class="cite">Source: {e(entry.get("source", ""))}</p>\n',
           f'<p class="kinds">Checks passed: {e(", ".join(passed) or "none")}'
           f' ({len(checks)} check{"s" if len(checks) != 1 else ""} in all)</p>\n']
    for c in rejected:
        out.append(f'<p class="erratum">✗ rejected as printed ({e(c["kind"])}): {e(c["detail"])}</p>\n')
    if entry.get("reason"):
        out.append(f'<p class="reason">{e(entry["reason"])}</p>\n')
    if cells:
        links = "".join(f'<li><a href="{e(href)}#{e(anchor)}">{e(title)} · {e(anchor)}</a>'
                        f'{" (" + e(", ".join(kinds)) + ")" if kinds else ""}</li>\n'
                        for href, title, anchor, kinds in cells)
        out.append(f'<ul class="verified-in">\n{links}</ul>\n')
    else:
        out.append('<p class="reason">No check line for this claim was found on any page.</p>\n')
    out.append("</section>\n")
    return "".join(out)
