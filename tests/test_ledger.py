"""The ledger: one status per claim, strict about missing kinds and unknown ids."""
import pytest

from gradbook import ClaimFailed, Ledger, check_that, load_catalog, rejects, summary, verifies
from gradbook.checks._catalog import UnknownClaim


def test_claim_with_every_kind_checked_is_verified(ledger):
    ledger.record("kang.2.forward", "num", True, "q = 3")
    ledger.record("kang.2.forward", "jax", True, "f = -12")
    entry = ledger.entry("kang.2.forward")
    assert entry["status"] == "verified"
    assert [c["kind"] for c in entry["checks"]] == ["num", "jax"]


def test_claim_missing_a_kind_is_not_verified(ledger):
    ledger.record("kang.2.forward", "num", True, "q = 3")
    entry = ledger.entry("kang.2.forward")
    assert entry["status"] == "failed" and "jax" in entry["reason"]


def test_unknown_claim_id_suggests_the_nearest(ledger):
    with pytest.raises(UnknownClaim, match="did you mean 'kang.5.sigmoid'"):
        ledger.record("kang.5.sigmod", "sym", True, "")


def test_unknown_kind_is_an_error(ledger):
    with pytest.raises(ValueError, match="unknown check kind"):
        ledger.record("kang.2.forward", "vibes", True, "")


def test_failed_check_raises_and_stays_in_the_ledger(ledger):
    with pytest.raises(ClaimFailed, match="claim kang.2.forward \\[num\\] failed: q is 4"):
        ledger.record("kang.2.forward", "num", False, "q is 4")
    assert ledger.entry("kang.2.forward")["status"] == "failed"


def test_summary_fails_when_a_declared_claim_was_never_checked(ledger):
    verifies("kang.2.forward")
    with pytest.raises(AssertionError, match="kang.2.forward: no check was run"):
        summary()


def test_rejects_records_the_caught_mistake(ledger):
    with rejects("kang.11.bugs", "a wrong constant"):
        check_that("kang.2.forward", "jax", 3 == 4, "three is four")
    (check,) = ledger.checks
    assert check.claim == "kang.11.bugs" and check.passed and "a wrong constant: rejected" in check.detail


def test_rejects_fails_when_the_mistake_goes_unseen(ledger):
    with pytest.raises(ClaimFailed, match="cannot see this mistake"):
        with rejects("kang.11.bugs", "not a mistake at all"):
            check_that("kang.2.forward", "jax", True, "three is three")


def test_catalog_has_every_claim_of_the_five_documents():
    catalog = load_catalog()
    seeds = [c for c in catalog.claims.values() if c.doc in {"kang", "jin", "yook", "deriv", "once"}]
    assert len(seeds) == 55
    assert [c.id for c in catalog.claims.values() if c.expected_failure] == ["yook.erratum.shape"]


def test_a_claim_citing_an_unknown_document_is_refused(tmp_path):
    (tmp_path / "a.json").write_text('{"documents": {}, "claims": [{"id": "x.y", "doc": "nobody", '
                                     '"section": "§1", "claim": "c", "kinds": ["sym"]}]}')
    with pytest.raises(ValueError, match="cites unknown document 'nobody'"):
        load_catalog.__wrapped__(tmp_path)


def test_a_derivations_own_claim_is_treated_like_a_catalog_claim(ledger):
    from gradbook import declare_claim

    declare_claim("mine.circuit", source="My textbook, §3", states="f = (x + y)z", kinds=("num",))
    check_that("mine.circuit", "num", True, "three is three")
    entry = ledger.to_json()["claims"][0]
    assert (entry["id"], entry["source"], entry["status"]) == ("mine.circuit", "My textbook, §3", "verified")
    assert ledger.to_json()["defined"][0]["id"] == "mine.circuit"


def test_a_fresh_ledger_is_empty():
    assert Ledger().to_json() == {"claims": []}


def test_a_derivations_own_claim_with_an_unknown_kind_is_refused(ledger):
    from gradbook import declare_claim

    with pytest.raises(ValueError, match=r"claim mine.x: unknown kinds \['proof'\]"):
        declare_claim("mine.x", source="My textbook", states="s", kinds=("proof",))
