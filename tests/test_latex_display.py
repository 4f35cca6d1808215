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


def test_a_long_sum_is_broken_over_aligned_lines_none_wider_than_the_page(ledger):
    from gradbook.checks._symbolic import WIDE, _visible

    xs = sp.symbols("x_{1:41}")
    with sp.evaluate(False):
        total = sp.Add(*[3 * x for x in xs])
    shown = prove_equal("kang.5.sigmoid", total, 3 * sp.Add(*xs), lhs="s")._repr_markdown_()
    lines = shown.split("$$")[1].split("\\\\")
    assert len(lines) > 3 and all(_visible(line) <= WIDE + 10 for line in lines)


def test_a_wide_matrix_written_out_entry_by_entry_is_shown_by_its_size(ledger):
    def entry(i, j):
        a, b = sp.Symbol(f"a_{{{i}{j}}}"), sp.Symbol(f"b_{{{j}{i}}}")
        return a * b + a ** 2 + b ** 2 + 1

    wide = sp.Matrix(3, 6, entry)  # each row about 150 characters
    shown = prove_equal("kang.5.sigmoid", wide, wide + sp.zeros(3, 6), lhs="A", box=False)
    assert r"3\times 6" in shown._repr_markdown_() and "a_{00}" not in shown._repr_markdown_()
    narrow = sp.Matrix(3, 4, lambda i, j: sp.Symbol(f"a_{{{i}{j}}}") + 1)  # many entries, short rows
    assert "a_{00}" in prove_equal("kang.5.sigmoid", narrow, narrow, lhs="A")._repr_markdown_()


def test_a_proof_can_show_the_identity_it_establishes(ledger):
    g, x = sp.symbols("g x")
    shown = prove_equal("kang.5.sigmoid", sp.Derivative(g * x, x), g, shown=r"\bar{G} X^{T}")
    assert r"\bar{G} X^{T}" in shown._repr_markdown_() and "entry by entry" in repr(shown)


def test_a_long_first_expression_is_broken_too(ledger):
    from gradbook.checks._symbolic import WIDE, _visible

    xs = sp.symbols("x_{1:41}")
    with sp.evaluate(False):
        total = sp.Add(sp.Add(*[3 * x for x in xs]), sp.Add(*[-3 * x for x in xs]))
    shown = prove_equal("kang.5.sigmoid", total, 0, box=False)._repr_markdown_()
    lines = shown.split("$$")[1].split("\\\\")
    assert len(lines) > 3 and all(_visible(line) <= WIDE + 10 for line in lines)
    assert lines[-1].strip().startswith("&= 0")
