"""From the way a student writes math to Python's syntax, keeping each column's origin.

Unicode (σ, ŷ, W₁, ᵀ, ·, −, ⊙), names in their other spellings (y_hat, W_1), `e`, `^`, and
juxtaposition: `2x`, `σ(s)(1−σ(s))`, `g xᵀ`, `log x`. A juxtaposition becomes `%`, which a
student cannot type (it is refused first), so that the reader can later decide, from the
shapes, whether it is a product of numbers or of matrices.
"""
from __future__ import annotations

import keyword
import re

from ._latex import CARET_T, SUM_OVER, TRANSPOSE
from ._names import FUNCTION_SPELLINGS, SUBSCRIPTS, ascii_name

JUXTAPOSE = "%"             # the marker of a product written by juxtaposition
CARET_T_NAME = "_caret_T"   # x ** _caret_T: ^T where T is also a name of the exercise
SUM_NAME = "_sum_over"      # _sum_over(X): \sum_n X
# Spellings replaced character by character: (what a student may type, what Python reads).
UNICODE = (("−", "-"), ("–", "-"), ("·", "*"), ("⋅", "*"), ("⊙", "*"), ("∘", "*"), ("×", "*"),
           ("∗", "*"), ("÷", "/"), (TRANSPOSE, ".T"), ("⊤", ".T"), ("^", "**"), ("²", "**2"),
           ("³", "**3"), ("√", "sqrt"), ("≥", ">="), ("≤", "<="), ("\u200b", ""))


class NotationError(ValueError):
    """Something typed that no notation reads: what and where (0-based, in the text given)."""

    def __init__(self, position: int, problem: str, hint: str = ""):
        super().__init__(problem)
        self.position, self.problem, self.hint = position, problem, hint


def characters(text: str, origin: list[int], known) -> tuple[str, list[int]]:
    """Unicode spellings replaced; ^T resolved to a transpose unless T is a name."""
    out, where, i = [], [], 0
    caret_t = f"**{CARET_T_NAME}" if "T" in known else ".T"
    table = UNICODE + ((CARET_T, caret_t),)
    while i < len(text):
        c = text[i]
        if c == "%":
            raise NotationError(i, "% is not part of a formula", "write products with * or @")
        for old, new in table:
            if text.startswith(old, i):
                out.append(new + _gap(new, text, i + len(old)))
                where += [origin[i]] * len(out[-1])
                i += len(old)
                break
        else:
            word = ascii_name(c)
            if word is None and c in SUBSCRIPTS:
                word = "_" + SUBSCRIPTS[c]
            if word is None and c == "\u0302" and out:  # a combining hat after its letter
                word = "hat"
            out.append(c if word is None else word + _gap(word, text, i + 1))
            where += [origin[i]] * len(out[-1])
            i += 1
    where.append(origin[-1])
    return "".join(out), where


def _gap(new: str, text: str, after: int) -> str:
    """A space after a replacement that ends a name, where a letter follows (x₂x₃, Wᵀx)."""
    follows = text[after:after + 1]
    ends_name = bool(new) and (new[-1].isalnum() or new[-1] == "_")
    if ends_name and follows.isalpha() and not new.startswith("_") or \
            ends_name and new.startswith("_") and follows.isalpha() and ascii_name(follows) is None \
            and follows not in SUBSCRIPTS:
        return " "
    return ""


def sums(text: str, origin: list[int]) -> tuple[str, list[int]]:
    """\\sum_n X (marked by the LaTeX reader) as _sum_over(X), with X's index _n dropped."""
    while SUM_OVER in text:
        start = text.index(SUM_OVER)
        bar = text.index("|", start)
        index = text[start + 1:bar]
        end, depth, k = len(text), 0, bar + 1
        while k < len(text):
            c = text[k]
            if c in "([":
                depth += 1
            elif c in ")]":
                if depth == 0:
                    end = k
                    break
                depth -= 1
            elif c in "+-," and depth == 0 and text[bar + 1:k].strip():
                end = k
                break
            k += 1
        body, body_origin = text[bar + 1:end], origin[bar + 1:end]
        if index:
            keep = [j for j in range(len(body))
                    if not _index_at(body, j, index)]
            body, body_origin = "".join(body[j] for j in keep), [body_origin[j] for j in keep]
        head = SUM_NAME + "("
        text = text[:start] + head + body + ")" + text[end:]
        origin = (origin[:start] + [origin[start]] * len(head) + body_origin + [origin[end]]
                  + origin[end:])
    return text, origin


def _index_at(body: str, j: int, index: str) -> bool:
    """Whether body[j] belongs to a subscript `_n` of the summation index."""
    for k in (j, j - 1):
        if k >= 1 and body[k:k + 1 + len(index)] == "_" + index and re.match(r"\w", body[k - 1]) \
                and not re.match(r"\w", body[k + 1 + len(index):k + 2 + len(index)] or " "):
            return k + 1 + len(index) > j >= k
    return False


_TOKEN = re.compile(r"(?P<space>\s+)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
                    r"|(?P<name>[A-Za-z_]\w*)|(?P<op>\*\*|//|>=|<=|==|!=|.)")


def juxtapose(text: str, origin: list[int], known, values, calls, wraps, spellings, modules,
              constants, typed: str | None = None):
    """Tokens re-spelt and juxtapositions marked: (text, origin, notes).

    `calls` are the names that are functions, `wraps` those that may be called without
    brackets (`log x`), `values` those that are values (`s(1 - s)` is a product). A note
    quotes the answer as `typed`.
    """
    tokens = []  # (kind, text, column in `text`)
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind != "space":
            tokens.append([kind, m.group(), m.start()])
    notes: list[str] = []
    out: list[tuple[str, int]] = []

    def put(s, column):
        out.extend((c, origin[column]) for c in s)

    for k, (kind, tok, col) in enumerate(tokens):
        prev = tokens[k - 1] if k else None
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if kind == "name" and not _after_dot(tokens, k) and not (nxt and nxt[1] == "="):
            tok = tokens[k][1] = _respell(tok, known, calls, spellings, modules, constants)
        if prev is not None and _ends(prev, tokens, k - 1, calls, modules) and \
                _starts(tokens[k]):
            if prev[0] == "name" and not _after_dot(tokens, k - 1) and tok == "(" and \
                    prev[1] in values:
                notes.append(f"{prev[1]}(…) is read as {prev[1]} times (…): {prev[1]} is a "
                             "value in this exercise, not a function")
            if _after_division(tokens, k):
                notes.append(f"“{_quote(typed, text, origin, *_term(text, tokens, k))}” is read "
                             "left to right, as (a/b)·c; "
                             "for a/(b·c) write the brackets")
            put(f" {JUXTAPOSE} ", col)
        # `log x`: a function written before a lone name or number is called on it
        call = prev is not None and prev[0] == "name" and prev[1] in wraps and \
            not _after_dot(tokens, k - 1) and kind in ("name", "num") and \
            not (nxt and nxt[1] in ("(", "[", ".", "**"))
        put(f"({tok})" if call else tok, col)
        out.append((" ", origin[col]))
    seen = set()
    notes = [n for n in notes if not (n in seen or seen.add(n))]
    return "".join(c for c, _ in out), [o for _, o in out] + [origin[-1]], notes


def _respell(tok, known, calls, spellings, modules, constants):
    if tok in known or tok in calls or tok in modules or tok in constants:
        return tok
    if tok in spellings:
        return spellings[tok]
    if tok in FUNCTION_SPELLINGS and FUNCTION_SPELLINGS[tok] in calls:
        return FUNCTION_SPELLINGS[tok]
    if tok == "e":
        return "E"
    return tok


def _after_dot(tokens, k) -> bool:
    return k >= 1 and tokens[k - 1][1] == "."


def _ends(token, tokens, k, functions, modules) -> bool:
    """Whether the token ends an operand (so that an operand right after it is a product)."""
    kind, tok, _ = token
    if kind == "num" or tok in (")", "]"):
        return True
    if kind != "name" or keyword.iskeyword(tok):
        return False
    if _after_dot(tokens, k):
        return tok == "T" or (k + 1 < len(tokens) and tokens[k + 1][1] != "(")
    return tok not in functions and tok not in modules


def _starts(token) -> bool:
    kind, tok, _ = token
    if kind == "num" or tok == "(":
        return True
    return kind == "name" and not keyword.iskeyword(tok)


def _after_division(tokens, k) -> bool:
    """Whether a / stands between the start of this term and the juxtaposition at tokens[k]."""
    depth = 0
    for j in range(k - 1, -1, -1):
        tok = tokens[j][1]
        if tok in (")", "]"):
            depth += 1
        elif tok in ("(", "["):
            if depth == 0:
                return False
            depth -= 1
        elif depth == 0 and tok in ("+", "-", ","):
            return False
        elif depth == 0 and tok in ("/",):
            return True
    return False


def _quote(typed, text, origin, start, end) -> str:
    """Columns start:end of `text` as the student typed them (or as read, if not given)."""
    if typed is None:
        return " ".join(text[start:end].split())
    last = max(start, end - 1)
    while last > start and text[last].isspace():
        last -= 1
    return " ".join(typed[origin[start]:origin[last] + 1].split())


def _term(text, tokens, k) -> tuple[int, int]:
    """Where the term that holds the operand starting at tokens[k] begins and ends."""
    depth, start = 0, 0
    for j in range(k - 1, -1, -1):
        tok = tokens[j][1]
        if tok in (")", "]"):
            depth += 1
        elif tok in ("(", "["):
            if depth == 0:
                start = tokens[j + 1][2]
                break
            depth -= 1
        elif depth == 0 and tok in ("+", "-", ","):
            start = tokens[j + 1][2]
            break
    depth, end = 0, len(text)
    for j in range(k, len(tokens)):
        tok = tokens[j][1]
        if tok in ("(", "["):
            depth += 1
        elif tok in (")", "]"):
            depth -= 1
            if depth < 0:
                end = tokens[j][2]
                break
        elif depth == 0 and tok in ("+", "-", ","):
            end = tokens[j][2]
            break
    return start, end
