"""One notation for the LaTeX gradbook writes, applied where it is shown.

- an index put on a name that has a subscript joins it: v_{5}_{i} (which MathJax refuses as a
  double subscript) becomes v_{5,i};
- a bar over anything but a single letter spans all of it: \\overline{y_{pred}},
  \\overline{\\hat{x}} (a \\bar over a hat merges with it, so the gradient of x̂ looked like x̂);
- constants SymPy writes as floating-point noise are written as the number they stand for:
  1.0000000000000001 \\cdot 10^{-5} is 10^{-5}, 0.70710678118654748 is 1/\\sqrt{2},
  \\frac{v}{100000} is 10^{-5} v, and \\frac{1767766952966369 v}{2500000000000000} is 1/\\sqrt{2} v;
- a name is written as mathematics when it is one letter (Latin or Greek, with a hat or the like)
  with an index: h0 is h_{0}, xhat is \\hat{x}, y_pred is y_{\\mathrm{pred}}; any other name is
  a word and is written upright, as in the code: \\mathrm{logits} (italic, it would read as the
  product l·o·g·i·t·s). A path's last key follows the same rule, its prefix upright:
  params.W1 is \\mathrm{params}.W_{1} (see name_latex);
- an upright word set next to another factor of a product is kept apart from it by a thin
  space: x\\,\\mathrm{params}.W_{1}, not "xparams.W₁" (TeX ignores the space SymPy writes).
"""
from __future__ import annotations

import math
import re
import unicodedata

import sympy as sp

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
    return spaced_words(_FLOAT.sub(_constant, tex))


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


# How spaced_words reads macros: an upright word; an accent over a factor (a word if it covers
# one); a factor; how many braced arguments each takes, and whose it leaves as they are.
_WORD_MACROS = {"mathrm"}  # \text is prose (\text{axis } k), not a name
_ACCENTS = {"overline", "bar", "hat", "tilde", "check", "vec", "widehat", "widetilde", "mathbf",
            "boldsymbol", "boxed"}
_FACTOR_MACROS = set("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa
lambda mu nu xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma
Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell frac sqrt""".split())
_ARGUMENTS = {"frac": 2, "begin": 1, "end": 1, "operatorname": 1, "mathsf": 1, "mathbb": 1,
              "sqrt": 1, "text": 1, **dict.fromkeys(_WORD_MACROS | _ACCENTS, 1)}
_VERBATIM = _WORD_MACROS | {"text", "begin", "end", "operatorname", "mathsf", "mathbb"}
_MACRO = re.compile(r"\\([A-Za-z]+|.?)", re.S)


def spaced_words(tex: str) -> str:
    """A thin space between an upright word and a factor it multiplies or is multiplied by:
    SymPy writes `x \\mathrm{params}.W_{1}` with a space TeX ignores, which reads "xparams.W₁".
    Only products change: a word next to an operator, a relation or ∂ is left as it is."""
    atoms = _atoms(tex)
    out = []
    for k, (text, kind) in enumerate(atoms):
        if kind == "space" and 0 < k < len(atoms) - 1:
            before, after = atoms[k - 1][1], atoms[k + 1][1]
            if (before in ("word", "factor", "close") and after in ("word", "factor", "left")
                    and "word" in (before, after)):
                text = r"\,"
        out.append(text)
    return "".join(out)


def _atoms(tex: str) -> list[tuple[str, str]]:
    """The formula as (text, kind) atoms, kind one of word, factor, close (a parenthesis that
    ends a factor), left (\\left, which starts one), space and other. Scripts, primes and a
    path's .key belong to the atom before them; braced arguments are spaced in turn."""
    atoms: list[list[str]] = []
    i = 0
    while i < len(tex):
        c = tex[i]
        if c.isspace():
            j = len(tex) - len(tex[i:].lstrip())
            atoms.append([tex[i:j], "space"])
        elif c in "_^" and atoms and atoms[-1][1] != "space":
            j = _argument_end(tex, i + 1)
            atoms[-1][0] += c + _spaced_argument(tex[i + 1:j])
        elif c == "'" and atoms:
            atoms[-1][0], j = atoms[-1][0] + c, i + 1
        elif c == "." and atoms and atoms[-1][1] == "word" and (tex[i + 1:i + 2].isalpha()
                                                               or tex[i + 1:i + 2] == "\\"):
            text, _, j = _atom_at(tex, i + 1)
            atoms[-1][0] += "." + text
        else:
            text, kind, j = _atom_at(tex, i)
            atoms.append([text, kind])
        i = j
    return [(text, kind) for text, kind in atoms]


def _atom_at(tex: str, i: int) -> tuple[str, str, int]:
    """The atom starting at i (a macro with its arguments, a group, a letter or digit, another
    character), its kind, and where it ends."""
    c = tex[i]
    if c == "\\":
        macro = _MACRO.match(tex, i).group(1)
        j, parts = i + 1 + len(macro), ["\\" + macro]
        for _ in range(_ARGUMENTS.get(macro, 0)):
            end = _argument_end(tex, j)
            parts.append(tex[j:end] if macro in _VERBATIM else _spaced_argument(tex[j:end]))
            j = end
        if macro in _WORD_MACROS:
            kind = "word"
        elif macro in _ACCENTS:
            kind = "word" if re.match(r"\{\s*\\mathrm\{", tex[i + 1 + len(macro):]) else "factor"
        elif macro in _FACTOR_MACROS:
            kind = "factor"
        else:
            kind = "left" if macro == "left" else "other"
        return "".join(parts), kind, j
    if c == "{":
        end = _argument_end(tex, i)
        return _spaced_argument(tex[i:end]), "factor", end
    if c.isalnum():
        return c, "factor", i + 1
    return c, "close" if c in ")]" else "other", i + 1


def _argument_end(tex: str, i: int) -> int:
    """Where the argument starting at i ends: after a balanced {group}, a macro or a character."""
    if i >= len(tex):
        return i
    if tex[i] == "\\":
        return i + 1 + len(_MACRO.match(tex, i).group(1))
    if tex[i] != "{":
        return i + 1
    depth, j = 0, i
    while j < len(tex):
        if tex[j] == "\\":
            j += 2  # an escaped brace \{ or \} does not open or close a group
            continue
        depth += {"{": 1, "}": -1}.get(tex[j], 0)
        j += 1
        if depth == 0:
            return j
    return len(tex)


def _spaced_argument(argument: str) -> str:
    """A braced argument with spaced_words applied inside its braces."""
    if len(argument) > 1 and argument[0] == "{" and argument[-1] == "}":
        return "{" + spaced_words(argument[1:-1]) + "}"
    return argument


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


_IDENTIFIER = re.compile(r"[^\W\d_]\w*")  # a Python name (ŷ and ℓ are letters too)
_PATH = re.compile(r"([^\W\d]\w*(?:\.[^\W\d]\w*|\[\d+\])*)\.([^\W\d_]\w*)")


def name_latex(name: str) -> str:
    """A node's or input's name as LaTeX: a letter with an index as mathematics, a word upright.

    h0 -> h_{0}, alpha2 -> \\alpha_{2}, xhat -> \\hat{x}, y_pred -> y_{\\mathrm{pred}},
    logits -> \\mathrm{logits}, params.W1 -> \\mathrm{params}.W_{1}; anything else (a key that is
    not a Python name: p['layer 1'], xs[0]) upright as text.
    """
    if name[:1].isalpha() and all(unicodedata.combining(c) for c in name[1:]):
        return name  # one letter, perhaps with an accent: x̂ (x and a combining hat)
    path = _PATH.fullmatch(name)
    if path:
        return rf"\mathrm{{{_escaped(path.group(1))}}}.{_word_latex(path.group(2))}"
    if _IDENTIFIER.fullmatch(name):
        return _word_latex(name)
    return rf"\text{{{_escaped(name)}}}"


def _word_latex(word: str) -> str:
    from sympy.printing.conventions import split_super_sub
    from sympy.printing.latex import translate

    base, supers, subs = split_super_sub(word)
    letter = translate(base)  # alpha -> \\alpha, xhat -> \\hat{x}; xbar stays a word (x̄ is a gradient)
    if not re.fullmatch(r"[^\W\d_]|\\[A-Za-z]+|\\(hat|tilde|check|vec)\{([A-Za-z]|\\[A-Za-z]+)\}", letter) or supers:
        if not supers and subs and "_" in word and all(sub.isdigit() for sub in subs):
            return rf"\mathrm{{{_escaped(base)}}}_{{{','.join(subs)}}}"  # a step: candidate_2
        return rf"\mathrm{{{_escaped(word)}}}"
    if subs:
        letter += "_{" + ",".join(sub if re.fullmatch(r"\d+|[A-Za-z]", sub) else _word_latex(sub)
                                  for sub in subs) + "}"
    return letter


def _escaped(text: str) -> str:
    """Text for \\mathrm{} or \\text{}: TeX's special characters escaped."""
    return re.sub(r"([_{}&%#$])", r"\\\1", text)


class NameSymbol(sp.Symbol):
    """A SymPy symbol for a named value, printed in LaTeX as name_latex writes its name."""

    def _latex(self, printer) -> str:  # noqa: ARG002 - SymPy's hook for a class's own LaTeX
        return name_latex(self.name)


# SymPy orders a sum's or product's terms by their classes' names: as "Symbol", a name's
# symbol keeps the order a plain symbol has (logits - v, not -v + logits)
NameSymbol.__name__ = "Symbol"
