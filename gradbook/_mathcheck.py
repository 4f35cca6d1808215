"""What MathJax and KaTeX refuse to render, found before a reader sees red TeX on the page.

A small strict reader of the LaTeX gradbook writes: unbalanced braces, a second subscript or
superscript on one base (`v_{5}_{i}`: "Double subscripts: use braces to clarify"), a macro or
environment neither renderer knows, `&` or `\\\\` outside an environment that aligns, and
`\\left` without `\\right`. It reads TeX, it does not typeset it: what it accepts may still
look wrong, but what it refuses would show as an error in a notebook.
"""
from __future__ import annotations

import re

# Macros both MathJax 3 (default TeX packages) and KaTeX define, as far as gradbook needs them.
KNOWN = set("""
alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi
varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi
Pi Sigma Upsilon Phi Psi Omega ell hbar imath jmath nabla partial infty emptyset varnothing
frac dfrac tfrac cfrac sqrt sum prod int oint lim limsup liminf max min sup inf arg
log ln exp sin cos tan sec csc cot sinh cosh tanh arcsin arccos arctan det dim ker deg gcd Pr
operatorname operatorname* mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak boldsymbol
bm text textbf textit textrm texttt textsf mbox hat bar overline underline widehat widetilde tilde
vec dot ddot check breve acute grave mathring overbrace underbrace overrightarrow
cdot cdots ldots dots vdots ddots times div pm mp odot otimes oplus circ ast star bullet
le leq ge geq ne neq approx sim simeq equiv cong propto ll gg in notin subset subseteq supset
supseteq cup cap setminus forall exists neg land lor to rightarrow leftarrow Rightarrow
Leftarrow leftrightarrow Leftrightarrow mapsto implies iff longrightarrow
left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr middle
langle rangle lVert rVert lvert rvert Vert vert lfloor rfloor lceil rceil mid parallel
quad qquad enspace thinspace displaystyle textstyle scriptstyle boxed top intercal perp
prime begin end substack bmod pmod mod over not colon vdash
""".split())
ENVIRONMENTS = {"aligned", "align", "align*", "matrix", "pmatrix", "bmatrix", "vmatrix",
                "Vmatrix", "cases", "array", "gathered", "smallmatrix", "subarray"}
TEXT_MACROS = {"text", "textbf", "textit", "textrm", "texttt", "textsf", "mbox", "operatorname"}
SYMBOL_MACROS = set(",;:! {}|#$%&_\\")  # \, \; \{ \| \\ and friends

_TOKEN = re.compile(r"\\([A-Za-z]+\*?|.)|(\s+)|(.)", re.S)


def latex_problems(tex: str) -> list[str]:
    """What in one formula (without its $ delimiters) MathJax or KaTeX would refuse; [] if none."""
    problems: list[str] = []
    tokens = [(m.group(1), m.group(3)) for m in _TOKEN.finditer(tex) if not m.group(2)]
    _read_group(tokens, 0, problems, envs=[], closing=None)
    return list(dict.fromkeys(problems))


def _read_group(tokens, i, problems, envs, closing):
    """Read atoms until `closing` ('}' or None for the end); returns the index after it."""
    scripts: set[str] = set()  # which of _ ^ the current base already carries
    lefts = 0
    while i < len(tokens):
        macro, char = tokens[i]
        if char == "}" and macro is None:
            if closing != "}":
                problems.append("unbalanced braces: a '}' closes nothing")
                i += 1
                continue
            break
        if macro is None and char in "_^":
            if char in scripts:
                kind = "subscripts" if char == "_" else "superscripts"
                problems.append(f"double {kind}: a second '{char}' on one base (use braces)")
            scripts.add(char)
            i = _read_atom(tokens, i + 1, problems, envs)
            continue
        if macro is None and char == "&" and not envs:
            problems.append("'&' outside an aligned environment")
        if macro == "\\" and not envs:
            problems.append("'\\\\' (a new line) outside an aligned environment")
        if macro == "left":
            lefts += 1
        if macro == "right":
            lefts -= 1
            if lefts < 0:
                problems.append("\\right without \\left")
        if macro == "begin":
            name, i = _env_name(tokens, i + 1)
            if name not in ENVIRONMENTS:
                problems.append(f"unknown environment {{{name}}}")
            i = _read_group(tokens, i, problems, envs + [name], closing=("end", name))
            scripts = set()
            continue
        if macro == "end":
            name, j = _env_name(tokens, i + 1)
            if closing != ("end", name):
                problems.append(f"\\end{{{name}}} without its \\begin")
                i = j
                continue
            return j
        i = _read_atom(tokens, i, problems, envs)
        scripts = set()  # a new base
    else:
        if closing == "}":
            problems.append("unbalanced braces: a '{' is never closed")
        elif closing:
            problems.append(f"\\begin{{{closing[1]}}} without its \\end")
    if lefts > 0:
        problems.append("\\left without \\right")
    return i + 1


def _read_atom(tokens, i, problems, envs):
    """One atom (a character, a macro with its text argument, or a {group}); the index after."""
    if i >= len(tokens):
        problems.append("a '_' or '^' with nothing after it")
        return i
    macro, char = tokens[i]
    if macro is None:
        if char == "{":
            return _read_group(tokens, i + 1, problems, envs, closing="}")
        return i + 1
    if macro not in KNOWN and macro not in SYMBOL_MACROS:
        problems.append(f"unknown macro \\{macro}")
    if macro in TEXT_MACROS and i + 1 < len(tokens) and tokens[i + 1] == (None, "{"):
        depth, i = 1, i + 2  # text: only its braces matter
        while i < len(tokens) and depth:
            depth += {(None, "{"): 1, (None, "}"): -1}.get(tokens[i], 0)
            i += 1
        if depth:
            problems.append("unbalanced braces: a '{' is never closed")
        return i
    return i + 1


def _env_name(tokens, i):
    name = ""
    if i < len(tokens) and tokens[i] == (None, "{"):
        i += 1
        while i < len(tokens) and tokens[i] != (None, "}"):
            macro, char = tokens[i]
            name += char if macro is None else macro
            i += 1
        i += 1
    return name, i


_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", re.S)


def formulas(markdown: str) -> list[str]:
    """The formulas ($...$ and $$...$$) of a Markdown text, code spans and blocks left out."""
    text = _CODE.sub(" ", markdown)
    return [(m.group(1) or m.group(2)).strip() for m in _MATH.finditer(text)]
