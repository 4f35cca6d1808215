"""Reading the LaTeX a student copies from their notes into plain math, keeping each column's origin.

The subset: \\frac, \\sqrt, \\cdot, \\odot, \\times, ^{...}, _{...}, \\top (and ^T), \\hat{y},
\\mathbf and friends, \\left( \\right), \\sum_n, Greek letters and the named functions. Anything
else is refused by name. Plain text passes through unchanged, except that ^T marks a transpose.
"""
from __future__ import annotations

import re

from ._names import GREEK

TRANSPOSE = "ᵀ"            # a transpose however it was written (^\top, ^{\mathsf{T}}, ^\intercal)
CARET_T = "\ue000"         # ^T: a transpose, or a power when T is a name of the exercise
SUM_OVER = "\ue001"        # \sum_n: the summand follows, up to the next + or - at its level

_SPACES = {",", ";", ":", "!", " ", "quad", "qquad"}
_SIZES = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr"}
_WRAPPERS = {"mathbf", "boldsymbol", "bm", "vec", "mathrm", "mathit", "mathsf", "textbf", "text",
             "operatorname", "mathbfit", "boldsymbol"}
_PRODUCTS = {"cdot": "*", "odot": "*", "circ": "*", "times": "*", "ast": "*", "star": "*"}
_WORDS = {"exp", "log", "ln", "sin", "cos", "tan", "sec", "csc", "cot", "sinh", "cosh", "tanh",
          "arcsin", "arccos", "arctan", "max", "min", "pi", "sech", "csch", "coth"}
_GREEK_WORDS = {word: word for word in GREEK.values()} | {"varepsilon": "epsilon",
                                                          "varphi": "phi"}
_TRANSPOSES = {"top", "intercal", "T", "mathsf{T}", "mathrm{T}", "mathsf T", "mathrm T"}


class LatexError(ValueError):
    """A LaTeX construct outside the subset: what it is and where (0-based)."""

    def __init__(self, position: int, problem: str, hint: str = ""):
        super().__init__(problem)
        self.position, self.problem, self.hint = position, problem, hint


def from_latex(text: str, origin: list[int]) -> tuple[str, list[int]]:
    """The plain-math text of `text` and each of its characters' original column."""
    reader = _Reader(text, origin)
    out = reader.read(until=None)
    chars = [c for c, _ in out]
    return "".join(chars), [o for _, o in out] + [origin[-1]]


class _Reader:
    def __init__(self, text: str, origin: list[int]):
        self.text, self.origin, self.i = text, origin, 0

    def at(self, k: int | None = None) -> int:
        return self.origin[min(self.i if k is None else k, len(self.text))]

    def emit(self, s: str, k: int | None = None) -> list:
        where = self.at(k)
        return [(c, where) for c in s]

    def read(self, until: str | None) -> list:
        """Read up to the closing `until` brace (consumed), or to the end."""
        out = []
        while self.i < len(self.text):
            c = self.text[self.i]
            if until is not None and c == until:
                self.i += 1
                return out
            if c == "}":
                raise LatexError(self.i, "a } without its {")
            out += self.one()
        if until is not None:
            raise LatexError(self.i, "a { is not closed", "every { needs its }")
        return out

    def one(self) -> list:
        """Read one item: a command, a group, a script, or a plain character."""
        text, i = self.text, self.i
        c = text[i]
        if c == "$":
            self.i += 1
            return []
        if c == "{":
            self.i += 1
            start = i
            return self.emit("(", start) + self.read("}") + self.emit(")", self.i - 1)
        if c == "^":
            return self.superscript()
        if c == "_":
            return self.subscript()
        if c == "\\":
            return self.command()
        if c in "∑Σ" and text[i + 1:i + 2] == "_":  # Σ_n G_n, as \sum_n G_n
            self.i += 1
            return self.sum(i)
        self.i += 1
        return [(c, self.at(i))]

    def group(self) -> tuple[str, list]:
        """The next {group} or single token, raw and read."""
        while self.i < len(self.text) and self.text[self.i] == " ":
            self.i += 1
        if self.i >= len(self.text):
            raise LatexError(self.i, "the formula ends where a {group} was expected")
        start = self.i
        if self.text[self.i] == "{":
            self.i += 1
            inner = self.read("}")
            return self.text[start + 1:self.i - 1].strip(), inner
        if self.text[self.i] == "\\":
            m = re.compile(r"\\([A-Za-z]+|.)").match(self.text, self.i)
            inner = self.command()
            return m.group(0), inner
        self.i += 1
        return self.text[start], [(self.text[start], self.at(start))]

    def superscript(self) -> list:
        start = self.i
        self.i += 1
        rest = self.text[self.i:]
        m = re.match(r"\s*(\{\s*\\?(top|intercal|math(?:sf|rm)\s*\{?\s*T\s*\}?)\s*\}|\\(top|intercal))",
                     rest)
        if m:
            self.i += m.end()
            return self.emit(TRANSPOSE, start)
        m = re.match(r"\s*(\{\s*T\s*\}|T(?!\w))", rest)
        if m:
            self.i += m.end()
            return self.emit(CARET_T, start)
        if re.match(r"\s*\{", rest):
            _, inner = self.group()
            return self.emit("^(", start) + inner + self.emit(")", self.i - 1)
        return self.emit("^", start)

    def subscript(self) -> list:
        """x_{1} -> x_1; y_{pred} -> y_pred: an index that is part of the name."""
        start = self.i
        self.i += 1
        if self.i < len(self.text) and self.text[self.i] == "{":
            raw, inner = self.group()
            if not re.fullmatch(r"\w+(\s*,\s*\w+)*", raw):
                raise LatexError(start, f"the subscript _{{{raw}}} is not a name's index",
                                 "an index is part of a name: W_{1}, y_{pred}")
            return self.emit("_" + "_".join(p.strip() for p in raw.split(",")) +
                             self.gap(), start)
        if self.i < len(self.text) and self.text[self.i].isdigit():  # x_2x_3: one digit each
            self.i += 1
            return self.emit("_" + self.text[self.i - 1] + self.gap(), start)
        return self.emit("_", start)

    def gap(self) -> str:
        """A space where a letter follows a subscript, which ends the name (x_2x_3)."""
        return " " if self.text[self.i:self.i + 1].isalpha() else ""

    def command(self) -> list:
        start = self.i
        m = re.compile(r"\\([A-Za-z]+|.)").match(self.text, self.i)
        if not m:
            raise LatexError(start, "a \\ at the end of the formula")
        name = m.group(1)
        self.i = m.end()
        if name in _SPACES:
            return self.emit(" ", start)
        if name in ("{", "}"):
            return self.emit("(" if name == "{" else ")", start)
        if name in _SIZES:
            rest = self.text[self.i:]
            d = re.match(r"\s*(\\\{|\\\}|[()\[\].])", rest)
            if not d:
                raise LatexError(start, f"\\{name} without a bracket after it")
            self.i += d.end()
            bracket = {"\\{": "(", "\\}": ")", ".": ""}.get(d.group(1), d.group(1))
            return self.emit(bracket, start)
        if name in ("frac", "dfrac", "tfrac"):
            _, top = self.group()
            _, bottom = self.group()
            return (self.emit("((", start) + top + self.emit(")/(", start) + bottom
                    + self.emit("))", self.i - 1))
        if name == "sqrt":
            _, inner = self.group()
            return self.emit("sqrt(", start) + inner + self.emit(")", self.i - 1)
        if name in ("hat", "widehat"):
            raw, inner = self.group()
            letters = "".join(c for c, _ in inner).strip("() ")
            if not re.fullmatch(r"[A-Za-z]\w*", letters):
                raise LatexError(start, f"\\{name}{{{raw}}} is not a name", "write \\hat{y}")
            return self.emit(" " + letters + "hat" + self.gap(), start)
        if name in _WRAPPERS:  # \mathbf{g}\mathbf{x}: two names, kept apart
            _, inner = self.group()
            after = "" if self.text[self.i:self.i + 1] == "_" else " "  # \mathbf{W}_1 is W_1
            return self.emit(" ", start) + inner + self.emit(after, self.i - 1)
        if name in _PRODUCTS:
            return self.emit(_PRODUCTS[name], start)
        if name == "sum":
            return self.sum(start)
        if name in _WORDS:  # 2x\cos x: the word is a name of its own
            return self.emit(" " + name + self.gap(), start)
        if name in _GREEK_WORDS:
            return self.emit(" " + _GREEK_WORDS[name] + self.gap(), start)
        if name in ("top", "intercal"):
            return self.emit(TRANSPOSE, start)
        if name in ("partial", "nabla", "int", "frac", "lim", "prod"):
            raise LatexError(start, f"\\{name} does not belong in an answer",
                             "give the gradient's formula itself")
        raise LatexError(start, f"\\{name} is not part of the LaTeX the grader reads",
                         "the LaTeX read is \\frac, \\sqrt, \\cdot, \\odot, \\top, \\hat, "
                         "\\mathbf, \\left( \\right), \\sum_n, Greek letters, \\exp, \\log, ...")

    def sum(self, start: int) -> list:
        """\\sum_n X, \\sum_{n=1}^{N} X: a marker, the index, and a | that ends the marker."""
        index = ""
        rest = self.text[self.i:]
        m = re.match(r"\s*_\s*(\{\s*([A-Za-z])\s*(=[^{}]*)?\}|([A-Za-z]))", rest)
        if m:
            index = m.group(2) or m.group(4)
            self.i += m.end()
            top = re.match(r"\s*\^\s*(\{[^{}]*\}|\w)", self.text[self.i:])
            if top:
                self.i += top.end()
        return self.emit(SUM_OVER + index + "|", start)
