"""Printed numbers hold to half a unit in their last printed digit, and no further."""
import pytest

from gradbook import ClaimFailed, check_printed
from gradbook.checks._tolerance import half_unit


def test_half_unit_follows_the_printed_digits():
    assert str(half_unit("0.8022")[1]) == "0.00005"
    assert str(half_unit("-12")[1]) == "0.5"
    assert str(half_unit("1.40")[1]) == "0.005"


def test_printed_number_within_half_a_unit_passes(ledger):
    check_printed("kang.5.example", "ŷ", 0.80218388, "0.8022")
    assert ledger.checks[-1].passed


def test_printed_number_off_by_one_in_last_digit_is_rejected(ledger):
    with pytest.raises(ClaimFailed) as caught:
        check_printed("kang.5.example", "ŷ", 0.80218388, "0.8023")
    assert "printed 0.8023 but computed 0.80218388" in str(caught.value)
    assert "half a unit" in str(caught.value)


def test_nested_lists_name_the_wrong_entry(ledger):
    with pytest.raises(ClaimFailed, match=r"∂L/∂W\[1, 0\]: printed -4"):
        check_printed("kang.9.example", "∂L/∂W", [[50, 60], [-5, -6]], [["50", "60"], ["-4", "-6"]])


def test_shape_mismatch_is_rejected(ledger):
    with pytest.raises(ClaimFailed, match="printed shape"):
        check_printed("kang.9.example", "z", [24, 47, 0], ["24", "47"])


def test_text_that_is_not_a_number_is_an_error(ledger):
    with pytest.raises(ValueError, match="not a printed number"):
        check_printed("kang.9.example", "z", 24, "about 24")
