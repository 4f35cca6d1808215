"""Every formula gradbook writes renders in MathJax and KaTeX, in one notation."""
import json
from pathlib import Path

import pytest

from gradbook._mathcheck import formulas, latex_problems
from gradbook._notation import constant_latex, tidy, tidy_markdown

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in ROOT.glob("notebooks/**/*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("tex, problem", [
    (r"v_{6} = \sum_{i} v_{5}_{i}", "double subscripts"),
    (r"x^{2}^{3}", "double superscripts"),
    (r"\frac{a}{b", "never closed"),
    (r"a}", "closes nothing"),
    (r"\foo{x}", r"unknown macro \foo"),
    (r"a &= b", "'&' outside"),
    (r"\left( x", r"\left without \right"),
    (r"\begin{weird} x \end{weird}", "unknown environment"),
    (r"\begin{aligned} x", "without its \\end"),
])
def test_what_mathjax_refuses_is_refused(tex, problem):
    assert any(problem in p for p in latex_problems(tex)), latex_problems(tex)


@pytest.mark.parametrize("tex", [
    r"\begin{aligned}\bar{f} &= 1 \\ \overline{v_{9}} &= \boxed{W_{2}^{T} \bar{v}}\end{aligned}",
    r"\left[\begin{matrix}a & b\\c & d\end{matrix}\right]_{i}^{2}",
    r"\sum_{i} v_{5,i} + \text{for every {summed} element}\ \frac{\partial L}{\partial x}",
    r"\operatorname{tr}(\bar{G}^{\mathsf{T}} Q) \odot \mathbf{1}^{\mathsf{T}}",
])
def test_what_gradbook_writes_is_accepted(tex):
    assert latex_problems(tex) == []


def test_formulas_are_found_outside_code_only():
    md = "a $x_1$ and $$\\frac{a}{b}$$ but not `$y$` nor\n```\n$z$\n```\ncost \\$5"
    assert formulas(md) == ["x_1", r"\frac{a}{b}"]


def test_an_index_on_a_subscripted_name_joins_its_subscript():
    assert tidy(r"\sum_{i} v_{5}_{i}") == r"\sum_{i} v_{5,i}"
    assert latex_problems(tidy(r"v_{5}_{i}")) == []


def test_a_bar_spans_the_whole_symbol_and_stays_visible_over_a_hat():
    assert tidy(r"\bar{y_{pred}}") == r"\overline{y_{pred}}"
    assert tidy(r"\bar{\hat{x}} = \gamma \bar{y}") == r"\overline{\hat{x}} = \gamma \bar{y}"


def test_constants_are_written_as_the_number_they_stand_for():
    assert tidy(r"1.0000000000000001 \cdot 10^{-5} v_{11}") == r"10^{-5} v_{11}"
    assert tidy(r"0.70710678118654748 x") == r"\frac{1}{\sqrt{2}} x"
    assert constant_latex(1e-5) == "10^{-5}" and constant_latex(2.5e-7) == r"2.5 \cdot 10^{-7}"
    assert constant_latex(0.7071) == "0.7071"  # a different number is not rounded to 1/√2


def test_tidying_leaves_code_alone():
    md = "```python\nx = v_{5}_{i}\n```\n$v_{5}_{i}$"
    assert tidy_markdown(md) == "```python\nx = v_{5}_{i}\n```\n$v_{5,i}$"


def _notebook_formulas(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for number, cell in enumerate(nb["cells"], 1):
        texts = ["".join(cell["source"])] if cell["cell_type"] == "markdown" else []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            texts += ["".join(data[k]) for k in ("text/markdown", "text/latex") if k in data]
        for text in texts:
            for tex in formulas(text):
                yield number, tex


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_every_formula_in_a_built_notebook_renders(path):
    try:  # the converter the book renders with, where it is installed, as a second reader
        from gradbook.book._math import to_mathml as convert
    except ImportError:
        convert = None
    refused = []
    for cell, tex in _notebook_formulas(path):
        problems = latex_problems(tex)
        if convert and not problems:
            try:
                convert(tex, True)
            except ValueError as error:  # MathError: the book's converter refused it
                problems = [f"the book's converter: {error}"]
        refused += [f"cell {cell}: {p} in {tex[:80]!r}" for p in problems]
    assert refused == []


def test_a_float_made_an_exact_fraction_is_written_as_its_constant():
    assert tidy(r"f = \frac{1767766952966369 v_{8}}{2500000000000000}") == r"f = \frac{1}{\sqrt{2}} v_{8}"
    assert tidy(r"\frac{3 x}{100000}") == r"3 \cdot 10^{-5} x"
    assert tidy(r"\frac{12 x}{7}") == r"\frac{12 x}{7}"  # a small fraction stays as written
