"""The search index: pages, their sections, claims and formulas, as one script the pages load.

A script rather than a JSON file, because a page opened from disk (file://) may not fetch().
"""
from __future__ import annotations

import json

from ._markdown import claim_href

TEXT_LIMIT = 4000  # characters of prose kept per section


def search_index(pages, rendered: dict, ledger: dict, claim_text: dict[str, str]) -> str:
    """`window.GRADBOOK_SEARCH = [[kind, title, href, text], ...]`, in a stable order."""
    entries = []
    for claim in ledger["claims"]:
        cid = claim["id"]
        entries.append(["claim", cid, claim_href(cid),
                         f'{claim_text.get(cid, "")} {claim.get("source", "")} {claim["status"]}'])
    for page in pages:
        found = rendered[page.slug]
        for anchor, heading, text in found["sections"]:
            href = page.href + (f"#{anchor}" if anchor else "")
            title = page.title if not anchor else f"{page.title} › {heading}"
            entries.append(["page" if not anchor else "section", title, href, text[:TEXT_LIMIT]])
        for anchor, tex in found["formulas"]:
            entries.append(["formula", page.title, f"{page.href}#{anchor}", tex])
    data = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    return f"window.GRADBOOK_SEARCH={data};\n"
