"""Reading an answer written the way a student writes math: a whitelisted expression, or a clear error.

The language is NumPy's: `@` is the matrix product, `*` the entrywise product, `x.T` a
transpose, `a > 0` a 0/1 mask, `G.sum(0)` a sum over axis 0. Around it, the notations of a
lecture note are read too: Unicode (ŷ, σ, W₁, ᵀ, ·, −, ⊙), a LaTeX subset (\\frac, \\hat{y},
\\top, \\sum_n), `^` for a power, `e`, other spellings of names and functions, and products
written side by side (`2x`, `g xᵀ`), read from the shapes. Anything else is refused with the
position and a hint.
"""
from __future__ import annotations

import ast
import difflib
import math
import re
from dataclasses import dataclass

from . import _bounds
from ._correlate import MODES
from ._latex import LatexError, from_latex
from ._names import FUNCTION_SPELLINGS
from ._notation import CARET_T_NAME, SUM_NAME, NotationError, characters, juxtapose, sums
from ._reading import Shapes, resolve

FUNCTIONS = frozenset({
    "exp", "log", "log1p", "expm1", "sqrt", "square", "sin", "cos", "tan", "sec", "csc", "cot",
    "asin", "acos", "atan", "sinh", "cosh", "tanh", "sech", "csch", "coth", "asinh", "acosh",
    "atanh", "abs", "sign", "sigmoid", "sigma", "relu", "softplus", "softmax", "max", "maximum",
    "min", "minimum", "sum", "mean", "outer", "diag", "where", "step", "dot", "matmul",
    "transpose", "reshape", "ravel", "ones", "zeros", "eye", "einsum", "array", "asarray",
    "corr", "correlate", "conv", "convolve", "pad", "flip"})
METHODS = frozenset({"sum", "mean", "dot", "transpose", "reshape", "ravel", "flatten"})
CONSTANTS = frozenset({"pi", "E"})
MODULES = frozenset({"np", "jnp", "numpy", "sp", "sympy", "math", "jax", "nn", "scipy",
                     "special"})
KEYWORDS = ("axis", "keepdims", "shape", "mode")  # mode= of corr, conv and pad (_correlate.MODES)
MAX_DEPTH = 200  # syntax-tree levels; every walk of the tree (the backends, SymPy) recurses
AUTODIFF = frozenset({"grad", "vjp", "jvp", "jacobian", "jacfwd", "jacrev", "hessian",
                      "value_and_grad", "linearize", "backward", "autograd", "torch",
                      "Derivative", "diff"})
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Name,
          ast.Constant, ast.Tuple, ast.List, ast.Subscript, ast.Attribute, ast.Slice,
          ast.keyword, ast.Load, ast.operator, ast.unaryop, ast.cmpop)
_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult, ast.USub, ast.UAdd,
        ast.Gt, ast.GtE, ast.Lt, ast.LtE, ast.Mod)  # Mod: a juxtaposition (a typed % is refused)


class ParseError(ValueError):
    """An answer that could not be read: where (1-based column in what was typed), and a hint."""

    def __init__(self, text: str, position: int | None, problem: str, hint: str = ""):
        self.text, self.position, self.problem, self.hint = text, position, problem, hint
        super().__init__(self.explain())

    def explain(self) -> str:
        """The message a student sees: the problem, the formula with a caret, and the hint."""
        where = f" at position {self.position}" if self.position else ""
        lines = [f"could not read the answer{where}: {self.problem}"]
        if self.position and "\n" not in self.text:
            lines += [f"    {self.text}", "    " + " " * (self.position - 1) + "^"]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class AutodiffUsed(ValueError):
    """An answer that asks autodiff for the gradient instead of stating a formula."""


@dataclass(frozen=True)
class Formula:
    """A parsed answer: the text as typed, its checked syntax tree, and how it was read where
    a notation could mean two things (`g x` as g @ x, say)."""

    text: str
    tree: ast.Expression
    readings: tuple[str, ...] = ()

    def names(self) -> set[str]:
        """Every variable name the formula reads."""
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)}


def parse(text: str, known: set[str] | frozenset[str], shapes: Shapes | None = None,
          values: set[str] | frozenset[str] | None = None,
          spellings: dict[str, str] | None = None) -> Formula:
    """Parse `text`; `known` are the names it may use (inputs, definitions, sizes, functions).

    For a student's answer, the exercise also says which known names are `values` (so that
    `s(1 - s)` is a product, not a call), the `shapes` that tell a product of matrices from one
    of numbers, and the other `spellings` of its names (y_hat for yhat).
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError(str(text), None, "the answer is empty", "write a formula, e.g. \"yhat - y\"")
    known = set(known)
    if values is None:
        values, calls, wraps = set(), FUNCTIONS | known, FUNCTIONS - known
    else:
        values = set(values)
        calls = wraps = (FUNCTIONS | known) - values
    calls = calls | {SUM_NAME}
    try:
        normal, origin, notes = _python_text(text, known, values, calls, wraps, spellings or {})
        tree = ast.parse(normal.strip(), mode="eval")
    except (RecursionError, MemoryError):
        raise ParseError(text, None, "the formula is nested too deeply to read",
                         f"a formula here has at most {MAX_DEPTH} levels of brackets") from None
    except SyntaxError as error:
        lead = len(normal) - len(normal.lstrip())
        column = (error.offset or 1) - 1 + lead
        raise ParseError(text, _at(origin, column), _syntax_problem(error),
                         _syntax_hint(normal, column, error)) from None
    if _depth(tree) > MAX_DEPTH:
        raise ParseError(text, None, f"the formula is nested more than {MAX_DEPTH} levels deep",
                         "a gradient here is a short formula; write it without repeating terms")
    shift = len(normal) - len(normal.lstrip())
    _check(text, tree, origin, shift, known)
    _check_numbers(text, tree, origin, shift)
    tree, readings = resolve(tree, shapes, _quoter(text, normal, origin, shift))
    return Formula(text, tree, tuple(notes + readings))


def _quoter(text: str, normal: str, origin: list[int], shift: int):
    """quote(first, last): the answer as typed from node `first` to node `last`, with the
    brackets around them that the syntax tree leaves out."""

    def quote(first, last) -> str:
        start, end = first.col_offset + shift, last.end_col_offset + shift
        while normal[start:end].count("(") > normal[start:end].count(")"):
            nxt = len(normal[end:]) - len(normal[end:].lstrip())
            if normal[end + nxt:end + nxt + 1] != ")":
                break
            end += nxt + 1
        return " ".join(text[origin[start]:origin[end - 1] + 1].split())

    return quote


def _depth(tree: ast.AST) -> int:
    """How deeply the syntax tree nests (counted without recursion: the tree may be deep)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _python_text(text, known, values, calls, wraps, spellings) -> tuple[str, list[int], list[str]]:
    """The answer in Python's syntax, each character's column in `text`, and notes."""
    origin = list(range(len(text) + 1))
    try:
        normal, origin = from_latex(text, origin)
    except LatexError as error:
        raise ParseError(text, error.position + 1, error.problem, error.hint) from None
    try:
        step, step_origin = characters(normal, origin, known)
        step, step_origin = sums(step, step_origin)
        words = {s: n for s, n in spellings.items() if n in known}
        return juxtapose(step, step_origin, known, values, calls, wraps, words, MODULES,
                         CONSTANTS, typed=text)
    except NotationError as error:
        raise ParseError(text, _at(origin, error.position), error.problem, error.hint) from None


def _at(origin: list[int], column: int) -> int:
    return origin[max(0, min(column, len(origin) - 1))] + 1


def _syntax_problem(error: SyntaxError) -> str:
    message = error.msg.replace("invalid syntax. ", "")
    if "was never closed" in message:
        return message.replace("'", '"') + " (a bracket is not closed)"
    if message.startswith("unmatched"):
        return message.replace("'", '"') + " (a closing bracket without an opening one)"
    if "unexpected EOF" in message or "incomplete input" in message:
        return "the formula ends too early"
    if message.startswith("Perhaps you forgot a comma"):
        return "two things stand side by side with nothing between them"
    return message


def _syntax_hint(text: str, column: int, error: SyntaxError) -> str:
    near = text[max(0, column - 3):column + 3]
    if re.search(r"\d\s*[A-Za-z(]|\)\s*[A-Za-z0-9(]|[A-Za-z_]\w*\s+[A-Za-z_(]", near) or \
            "forgot a comma" in error.msg:
        return "is a * missing? Products are written out: 2*x, sigma(s)*(1 - sigma(s)), W.T @ g"
    if "never closed" in error.msg or "unexpected EOF" in error.msg:
        return "count the brackets: every ( needs its )"
    if "=" in text:
        return "write only the right-hand side, e.g. \"yhat - y\", not \"dL/ds = yhat - y\""
    return "write the formula as Python/NumPy would: * and @ for products, ** or ^ for powers"


def _check(text: str, tree: ast.AST, origin: list[int], shift: int, known: set[str]) -> None:
    """Refuse every construct outside the language, naming it and where it is."""
    allowed_names = known | FUNCTIONS | CONSTANTS | MODULES | {CARET_T_NAME, SUM_NAME}
    subscripts = {id(n.args[0]) for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args
                  and function_name(n.func) == "einsum"} | _modes(tree)

    fail = _failer(text, origin, shift)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in AUTODIFF or \
                isinstance(node, ast.Attribute) and node.attr in AUTODIFF:
            raise AutodiffUsed(f"the answer calls {ast.unparse(node)}: state the formula "
                               "instead; autodiff is what the grader checks it against")
    for node in ast.walk(tree):
        if not isinstance(node, _NODES) or isinstance(node, (ast.operator, ast.unaryop, ast.cmpop)) \
                and not isinstance(node, _OPS):
            what = type(node).__name__
            hints = {"BoolOp": "combine masks with *, e.g. (a > 0) * (b > 0)",
                     "Lambda": "write the formula itself; to give a function, pass a Python "
                               "function to grade() instead of a string",
                     "IfExp": "use where(condition, a, b)", "Eq": "use a mask such as (x > 0)",
                     "NotEq": "use a mask such as (x > 0)", "BitXor": "write powers as ** or ^"}
            fail(node, f"{_describe(node)} is not part of a formula", hints.get(what, ""))
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)) \
                and node.value not in (True, False, None) and \
                not (isinstance(node.value, str) and id(node) in subscripts):
            fail(node, f"{node.value!r} is not a number", "write the formula without quotes")
        if isinstance(node, ast.Compare) and len(node.ops) > 1:
            fail(node, "a chained comparison", "write one comparison per mask: (a > 0) * (a < 1)")
        if isinstance(node, ast.Attribute):
            _check_attribute(node, fail)
        if isinstance(node, ast.Call):
            _check_call(node, fail, known)
        if isinstance(node, ast.Name) and node.id not in allowed_names:
            close = difflib.get_close_matches(node.id, sorted(known | FUNCTIONS), n=1)
            names = ", ".join(sorted(known)) or "(none)"
            fail(node, f"unknown name {node.id!r}",
                 (f"did you mean {close[0]!r}? " if close else "") + f"the names you can use are {names}")
        if isinstance(node, ast.Name) and node.id in MODULES and not _is_prefix(tree, node):
            fail(node, f"{node.id!r} is a module, not a value")


def _failer(text: str, origin: list[int], shift: int):
    """fail(node, problem, hint=""): a ParseError pointing at the node's place in the answer."""

    def fail(node, problem, hint=""):
        column = getattr(node, "col_offset", None)
        raise ParseError(text, None if column is None else _at(origin, column + shift), problem, hint)

    return fail


def _check_numbers(text: str, tree: ast.AST, origin: list[int], shift: int) -> None:
    """Refuse a power above MAX_EXPONENT and a number beyond float64's range, where a part of
    the formula made of numbers alone says so (`9**99999999`, `10**10**10`, `1e999`): no
    backend could compute it quickly, and SymPy would try, exactly. Nothing is computed here
    beyond floats."""

    fail = _failer(text, origin, shift)

    def number(node):
        """The node's value when it is made of numbers alone (a float), else None."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                return None
            try:
                value = float(node.value)
            except OverflowError:
                value = math.inf
            if not math.isfinite(value):
                fail(node, "a number beyond float64's range (about 1.8e308)",
                     "the numbers of a gradient are small; write the formula itself")
            return value
        if isinstance(node, ast.Name) and node.id in CONSTANTS:
            return math.pi if node.id == "pi" else math.e
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = number(node.operand)
            return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
        if isinstance(node, ast.Call) and function_name(node.func) in _GROWING and \
                len(node.args) == 1 and not node.keywords:
            value = number(node.args[0])
            if value is None:
                return None
            try:
                return _GROWING[function_name(node.func)](value)
            except OverflowError:
                fail(node, *_TOO_BIG)
        if isinstance(node, ast.BinOp):
            left, right = number(node.left), number(node.right)
            if isinstance(node.op, ast.Pow) and right is not None:
                try:
                    _bounds.exponent(right)
                except _bounds.TooLarge as error:
                    fail(node.right, str(error),
                         "a gradient's powers are small, such as x**2 or s**-1")
            if left is None or right is None:
                return None
            return _folded(node, left, right, fail)
        for child in ast.iter_child_nodes(node):
            number(child)
        return None

    number(tree)


_GROWING = {"exp": math.exp, "expm1": math.expm1, "sinh": math.sinh, "cosh": math.cosh}
_TOO_BIG = ("this part makes a number beyond float64's range (about 1.8e308)",
            "the numbers of a gradient are small; write the formula itself")


def _folded(node: ast.BinOp, left: float, right: float, fail) -> float | None:
    """left op right in floats, refusing a result beyond float64's range."""
    op = node.op
    try:
        if isinstance(op, ast.Pow):
            value = math.pow(left, right)
        elif isinstance(op, (ast.Mult, ast.Mod)):  # Mod: numbers side by side
            value = left * right
        elif isinstance(op, ast.Div):
            value = left / right
        elif isinstance(op, ast.Add):
            value = left + right
        elif isinstance(op, ast.Sub):
            value = left - right
        else:
            return None
    except OverflowError:
        value = math.inf
    except (ZeroDivisionError, ValueError):  # 1/0, (-8)**(1/3): the evaluation says what
        return None
    if not math.isfinite(value):
        fail(node, *_TOO_BIG)
    return value


def _check_attribute(node: ast.Attribute, fail) -> None:
    if _module_path(node.value):
        if node.attr not in FUNCTIONS | set(FUNCTION_SPELLINGS) | CONSTANTS | MODULES | {"e"}:
            fail(node, f"{ast.unparse(node)} is not one of the functions a formula may use",
                 f"the functions are {', '.join(sorted(FUNCTIONS))}")
        return
    if node.attr not in {"T"} | METHODS:
        fail(node, f".{node.attr} is not supported",
             "use .T for a transpose, .sum(0) or .sum(axis=0), .reshape(...)")


def _check_call(node: ast.Call, fail, known: set[str]) -> None:
    func = node.func
    if isinstance(func, ast.Name):
        if func.id not in FUNCTIONS and func.id not in known and func.id != SUM_NAME:
            close = difflib.get_close_matches(func.id, sorted(FUNCTIONS | known), n=1)
            fail(node, f"{func.id}(...) is not a known function",
                 (f"did you mean {close[0]!r}? " if close else "") +
                 f"the functions are {', '.join(sorted(FUNCTIONS))}")
    elif isinstance(func, ast.Attribute):
        if func.attr == "T":
            fail(node, "x.T is not called", "write x.T, not x.T()")
    else:
        fail(node, "only named functions can be called")
    for kw in node.keywords:
        if kw.arg not in KEYWORDS:
            fail(kw.value, f"the keyword {kw.arg}= is not supported",
                 "only " + ", ".join(f"{k}=" for k in KEYWORDS))
    name = function_name(func)
    modes = [kw.value for kw in node.keywords if kw.arg == "mode"] + \
        (node.args[2:3] if name in MODES else [])
    for mode in modes:
        allowed = MODES.get(name)
        if allowed is None:
            fail(mode, f"{name}(...) takes no mode", "mode= is for corr, conv and pad")
        if not (isinstance(mode, ast.Constant) and mode.value in allowed):
            fail(mode, f"{name}(...) takes mode={' or mode='.join(repr(m) for m in allowed)}",
                 f"without a mode it is {allowed[0]!r}")


def _modes(tree: ast.AST) -> set[int]:
    """The string constants that are a mode of corr, conv or pad (mode="full")."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found |= {id(kw.value) for kw in node.keywords if kw.arg == "mode"}
            if function_name(node.func) in MODES and len(node.args) > 2:
                found.add(id(node.args[2]))
    return found


def _module_path(node: ast.AST) -> bool:
    """Whether `node` names a module: np, jax.numpy, jax.nn, scipy.special."""
    while isinstance(node, ast.Attribute):
        if node.attr not in MODULES:
            return False
        node = node.value
    return isinstance(node, ast.Name) and node.id in MODULES


def _is_prefix(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Attribute) and n.value is name for n in ast.walk(tree))


def _describe(node) -> str:
    return {"BoolOp": "and/or", "Lambda": "a lambda", "IfExp": "an if-expression",
            "ListComp": "a list comprehension", "GeneratorExp": "a generator",
            "Eq": "==", "NotEq": "!=", "BitXor": "^ (exclusive or)", "BitAnd": "&",
            "BitOr": "|", "Mod": "%", "FloorDiv": "//", "Dict": "a dict", "Set": "a set",
            "Starred": "*unpacking", "NamedExpr": ":="}.get(type(node).__name__,
                                                            type(node).__name__)


def function_name(node: ast.AST) -> str | None:
    """The function a call names: exp for exp(x), np.exp(x), jnp.exp(x); sigmoid for expit."""
    if isinstance(node, ast.Name):
        return FUNCTION_SPELLINGS.get(node.id, node.id) if node.id not in FUNCTIONS else node.id
    if isinstance(node, ast.Attribute) and _module_path(node.value):
        return node.attr if node.attr in FUNCTIONS else FUNCTION_SPELLINGS.get(node.attr, node.attr)
    return None
