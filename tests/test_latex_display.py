"""How checks and proofs show on the page: a rejection is marked as one, partials are ∂, and a
bar over a hatted symbol stays visible."""
import sympy as sp

from gradbook import check_that, prove_equal, rejects


def test_a_rejected_wrong_formula_is_marked_as_a_rejection_not_a_pass(ledger, capsys):
    with rejects("kang.11.bugs", "a wrong constant"):
        check_that("kang.11.bugs", "num", False, "3 is not 4")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("✗ rejected as expected") and "✓" not in line


def test_a_holding_claim_keeps_its_tick(ledger, capsys):
    check_that("kang.11.bugs", "num", True, "3 is 3")
    assert capsys.readouterr().out.startswith("✓")


def test_proof_steps_write_partials_with_the_partial_sign(ledger):
    x = sp.Symbol("x")
    shown = prove_equal("kang.5.sigmoid", sp.Derivative(x ** 2, x), 2 * x)._repr_markdown_()
    assert r"\partial" in shown and r"\frac{d}{d x}" not in shown


def test_the_gradient_of_a_hatted_symbol_keeps_its_bar(ledger):
    x_hat = sp.Symbol(r"\bar{\hat{x}}")
    shown = prove_equal("kang.5.sigmoid", 2 * x_hat, x_hat + x_hat, lhs="z")._repr_markdown_()
    assert r"\overline{\hat{x}}" in shown and r"\bar{\hat{x}}" not in shown
