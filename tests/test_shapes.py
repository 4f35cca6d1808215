"""Shape checks, including a documented erratum that must be rejected as printed."""
import numpy as np
import pytest

from gradbook import ClaimFailed, check_shape


def test_stated_shape_passes(ledger):
    check_shape("yook.shapes", "X", np.zeros((1, 2)), (1, 2))
    assert ledger.checks[-1].passed


def test_wrong_shape_is_rejected(ledger):
    with pytest.raises(ClaimFailed, match=r"has shape \(2 × 3\), but the text states \(3 × 2\)"):
        check_shape("yook.shapes", "W", np.zeros((2, 3)), (3, 2))


def test_erratum_rejected_as_printed_is_an_expected_failure(ledger):
    check_shape("yook.erratum.shape", "X", np.zeros((1, 2)), (1, 3), erratum=True)
    assert ledger.entry("yook.erratum.shape")["status"] == "expected-failure"


def test_erratum_that_holds_after_all_is_an_error(ledger):
    with pytest.raises(ClaimFailed, match="expected to fail"):
        check_shape("yook.erratum.shape", "X", np.zeros((1, 3)), (1, 3), erratum=True)


def test_only_catalogued_errata_may_be_expected_to_fail(ledger):
    with pytest.raises(ValueError, match="not marked as an erratum"):
        check_shape("yook.shapes", "X", np.zeros((1, 2)), (1, 3), erratum=True)
