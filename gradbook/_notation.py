"""One notation for the LaTeX gradbook writes, applied where it is shown.

- an index put on a name that has a subscript joins it: v_{5}_{i} (which MathJax refuses as a
  double subscript) becomes v_{5,i};
- a bar over anything but a single letter spans all of it: \\overline{y_{pred}},
  \\overline{\\hat{x}} (a \\bar over a hat merges with it, so the gradient of x̂ looked like x̂);
- constants SymPy writes as floating-point noise are written as the number they stand for:
  1.0000000000000001 \\cdot 10^{-5} is 10^{-5}, 0.70710678118654748 is 1/\\sqrt{2},
  \\frac{v}{100000} is 10^{-5} v, and \\frac{1767766952966369 v}{2500000000000000} is 1/\\sqrt{2} v.
"""
from __future__ import annotations

import math
import re

_GROUP = r"\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}"  # a {group}, nested up to three deep
_DOUBLE_SUB = re.compile(r"_\{([^{}]*)\}_" + r"(?:\{([^{}]*)\}|([A-Za-z0-9]))")
_POWER_OF_TEN = re.compile(r"\\frac" + _GROUP + r"\{(10000+)\}")  # \frac{v}{100000}: 10^{-5} v
_LONG_FRACTION = re.compile(r"\\frac" + _GROUP + r"\{(\d{6,})\}")  # a float's exact fraction
_BAR = re.compile(r"\\bar" + _GROUP)
_FLOAT = re.compile(r"(?<![\d.])(\d+\.\d{8,})(?:\s*\\cdot\s*10\^\{(-?\d+)\})?")


def tidy(tex: str) -> str:
    """LaTeX in gradbook's one notation (see the module docstring)."""
    tex = _DOUBLE_SUB.sub(lambda m: f"_{{{m.group(1)},{m.group(2) or m.group(3)}}}", tex)
    tex = _LONG_FRACTION.sub(_long_fraction, tex)
    tex = _POWER_OF_TEN.sub(lambda m: rf"10^{{-{len(m.group(2)) - 1}}}"
                            + ("" if m.group(1) == "1" else f" {m.group(1)}"), tex)
    tex = _BAR.sub(_bar, tex)
    return _FLOAT.sub(_constant, tex)


def _long_fraction(m: re.Match) -> str:
    """\\frac{1767766952966369 v}{2500000000000000} (a float made a fraction) as 1/√2 v."""
    number = re.match(r"(\d+)\s*(.*)", m.group(1), re.S)
    if number is None:
        return m.group(0)
    latex = constant_latex(int(number.group(1)) / int(m.group(2)))
    if latex is None:
        return m.group(0)
    return f"{latex} {number.group(2)}".strip()


def _bar(m: re.Match) -> str:
    inner = m.group(1)
    single = re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+", inner.strip()) and inner.strip() not in (
        r"\hat", r"\tilde")
    return rf"\bar{{{inner}}}" if single else rf"\overline{{{inner}}}"


# Numbers a formula may contain, as written: the value -> its LaTeX.
_EXACT = {1 / math.sqrt(2): r"\frac{1}{\sqrt{2}}", math.sqrt(2): r"\sqrt{2}", math.pi: r"\pi",
          math.e: "e", 1 / 3: r"\frac{1}{3}", 2 / 3: r"\frac{2}{3}", 1 / 6: r"\frac{1}{6}",
          1 / math.sqrt(2 * math.pi): r"\frac{1}{\sqrt{2\pi}}", math.sqrt(2 / math.pi):
          r"\sqrt{2/\pi}"}


def constant_latex(value: float) -> str | None:
    """A float as the constant it stands for (10^{-5}, \\frac{1}{\\sqrt{2}}), or None."""
    for exact, latex in _EXACT.items():
        if math.isclose(value, exact, rel_tol=1e-15):
            return latex
    if value > 0:
        exponent = round(math.log10(value))
        if exponent != 0 and math.isclose(value, 10.0 ** exponent, rel_tol=1e-15):
            return f"10^{{{exponent}}}"
    short = f"{value:.12g}"  # a decimal the float is the nearest double to: 0.1, 2.5e-3
    if float(short) == value:
        return _decimal_latex(short)
    return None


def _decimal_latex(text: str) -> str:
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return mantissa
    exponent = int(exponent)
    return (f"10^{{{exponent}}}" if mantissa == "1" else
            rf"{mantissa} \cdot 10^{{{exponent}}}")


def _constant(m: re.Match) -> str:
    value = float(m.group(1)) * 10.0 ** int(m.group(2) or 0)
    return constant_latex(value) or m.group(0)


_CODE_OR_MATH = re.compile(r"(```.*?```|`[^`\n]*`)|(\$\$.+?\$\$|(?<![\\$])\$(?!\$).+?(?<![\\$])\$)", re.S)


def tidy_markdown(markdown: str) -> str:
    """Markdown with every formula in it tidied; code spans and blocks left as they are."""
    return _CODE_OR_MATH.sub(lambda m: m.group(1) or tidy(m.group(2)), markdown)
