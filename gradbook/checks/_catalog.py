"""The claims catalog: every result the source documents state, with the id the ledger uses."""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

CATALOG_DIR = Path(__file__).with_name("catalog")  # one JSON file per group of sources
KINDS = ("sym", "jax", "fd", "num", "shape", "measured")


@dataclass(frozen=True)
class Document:
    """One source document: its short name, title and what it is."""

    short: str
    title: str
    kind: str
    author: str | None = None
    year: int | None = None
    file: str = ""


@dataclass(frozen=True)
class Claim:
    """One catalog entry: what a document states and the kinds of check it needs."""

    id: str
    doc: str
    section: str
    claim: str
    kinds: tuple[str, ...]
    expected_failure: bool = False
    note: str = ""
    source: str = ""  # a derivation's own claim: its source in words, instead of doc + section

    @classmethod
    def from_json(cls, entry: dict) -> "Claim":
        """A claim from its catalog entry (a catalog file's, or one a notebook declared)."""
        unknown = set(entry["kinds"]) - set(KINDS)
        if unknown:
            raise ValueError(f"claim {entry.get('id', '?')}: unknown kinds {sorted(unknown)}; "
                             f"kinds are {', '.join(KINDS)}")
        return cls(**{**entry, "kinds": tuple(entry["kinds"])})

    def to_json(self) -> dict:
        """The claim as a catalog entry (how a derivation's own claims travel to the build)."""
        out = {"id": self.id, "doc": self.doc, "section": self.section, "claim": self.claim,
               "kinds": list(self.kinds), "source": self.source}
        if self.expected_failure:
            out.update(expected_failure=True, note=self.note)
        return out


@dataclass(frozen=True)
class Catalog:
    """All claims and documents, looked up by id with a helpful error for a typo."""

    documents: dict[str, Document]
    claims: dict[str, Claim] = field(default_factory=dict)

    def __getitem__(self, claim_id: str) -> Claim:
        try:
            return self.claims[claim_id]
        except KeyError:
            close = difflib.get_close_matches(claim_id, self.claims, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownClaim(
                f"no claim {claim_id!r} in the catalog (gradbook/checks/catalog/, or a "
                f"derivation's own claims(...)){hint}"
            ) from None

    def __contains__(self, claim_id: str) -> bool:
        return claim_id in self.claims

    def extended(self, claims) -> "Catalog":
        """This catalog plus a derivation's own claims (an id already listed is an error)."""
        added = dict(self.claims)
        for claim in claims:
            if claim.id in added and added[claim.id] != claim:
                raise ValueError(f"claim {claim.id} is already in the catalog; choose another id")
            added[claim.id] = claim
        return Catalog(documents=self.documents, claims=added)

    def cite(self, claim_id: str) -> str:
        """The claim's source as 'Title' (short), section — how notebooks cite it."""
        claim = self[claim_id]
        if claim.source:
            return claim.source
        doc = self.documents[claim.doc]
        return f"“{doc.title}” ({doc.short}), {claim.section}"


class UnknownClaim(KeyError):
    """A claim id that the catalog does not list."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return self.args[0]


@lru_cache(maxsize=1)
def load_catalog(folder: Path = CATALOG_DIR) -> Catalog:
    """Read every catalog file in `folder` (in name order) into one catalog, once."""
    documents: dict[str, Document] = {}
    claims: dict[str, Claim] = {}
    files = [(path.name, json.loads(path.read_text(encoding="utf-8")))
             for path in sorted(Path(folder).glob("*.json"))]
    for name, data in files:  # every file's documents first: any claim may cite any of them
        add_entries(documents, claims, data.get("documents", {}), [], where=f"catalog file {name}")
    for name, data in files:
        add_entries(documents, claims, {}, data.get("claims", []), where=f"catalog file {name}")
    return Catalog(documents=documents, claims=claims)


def add_entries(documents: dict, claims: dict, new_documents: dict, new_claims: list,
                where: str) -> None:
    """Add documents and claims to a catalog's dicts, refusing duplicates and unknown kinds."""
    for short, doc in new_documents.items():
        if short in documents:
            raise ValueError(f"{where}: document {short!r} is already defined")
        documents[short] = Document(short=short, **doc)
    for entry in new_claims:
        cid = entry.get("id", "?")
        try:
            claim = Claim.from_json(entry)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        if cid in claims:
            raise ValueError(f"{where}: claim {cid} is already defined")
        if entry["doc"] not in documents and not entry.get("source"):
            raise ValueError(f"{where}: claim {cid} cites unknown document {entry['doc']!r}")
        claims[cid] = claim
