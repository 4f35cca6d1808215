"""A student's answer in any of its three forms (plain math, SymPy, a Python function), made uniform.

A SymPy expression is printed into the plain-math language and read back, so all formulas
take one road; a function is called with the exercise's named values. Either way an answer
that asks autodiff for the gradient is refused.
"""
from __future__ import annotations

import contextlib
import inspect
import types
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.printing.str import StrPrinter

from ._bank import Exercise
from ._names import spellings
from ._parse import AUTODIFF, AutodiffUsed, Formula, ParseError, parse

MAX_TYPED = 2000  # characters in a typed formula (the longest right answer is about 100)
_PATCHED = ("grad", "vjp", "jvp", "jacobian", "jacfwd", "jacrev", "hessian", "value_and_grad",
            "linearize")


class NoAnswer(ValueError):
    """The answer cell still holds the placeholder (or nothing)."""


@dataclass(frozen=True)
class Answer:
    """A normalised answer: a parsed formula, or a function; `form` says which form it came in."""

    form: str                       # "plain math", "SymPy", "Python function"
    text: str                       # how to show it
    formula: Formula | None = None
    function: object = None
    params: tuple = ()
    notes: list = field(default_factory=list, compare=False)  # what the judges add (a timeout)

    def readings(self) -> list[str]:
        """How an ambiguous notation was read, and what the judges noted, for the feedback."""
        return list(self.formula.readings if self.formula is not None else ()) + self.notes


def with_readings(feedback, answer: Answer):
    """The feedback with the answer's readings and notes added to its message."""
    lines = answer.readings()
    if lines:
        feedback.message += "".join(f"\nnote: {line}" for line in lines)
    return feedback


def normalise(ex: Exercise, answer) -> Answer:
    """Turn what grade() was given into an Answer, or raise NoAnswer/ParseError/AutodiffUsed."""
    known = ex.names() | ex.functions()
    if answer is None or answer is Ellipsis:
        raise NoAnswer("no answer yet: replace ... with your formula")
    if isinstance(answer, str):
        return Answer("plain math", answer, formula=read(ex, answer))
    if isinstance(answer, (tuple, list)) and answer and all(isinstance(a, str) for a in answer):
        text = "(" + ", ".join(answer) + ")"
        return Answer("plain math", text, formula=read(ex, text))
    if _is_sympy(answer):
        text = to_plain_math(ex, answer)
        try:
            return Answer("SymPy", text, formula=parse(text, known))
        except ParseError as error:
            raise ParseError(text, None, f"the SymPy expression {text} uses something a formula "
                             f"cannot: {error.problem}", error.hint) from None
    if callable(answer):
        return _function_answer(ex, answer)
    raise ParseError(repr(answer)[:60], None, f"a {type(answer).__name__} is not an answer",
                     "give a string such as \"yhat - y\", a SymPy expression, or a function")


def read(ex: Exercise, text: str) -> Formula:
    """A student's formula for this exercise, read with its names, their spellings and shapes."""
    from ._scope import shape_reader

    if len(text) > MAX_TYPED:
        raise ParseError(text[:60] + "…", None, f"the answer is {len(text)} characters long",
                         f"a formula typed here is at most {MAX_TYPED} characters")
    known = ex.names() | ex.functions()
    return parse(text, known, shapes=shape_reader(ex), values=ex.names(),
                 spellings=spellings(known))


def _is_sympy(value) -> bool:
    if isinstance(value, (tuple, list)):
        return bool(value) and all(_is_sympy(v) or isinstance(v, (int, float)) for v in value) \
            and any(_is_sympy(v) for v in value)
    return isinstance(value, (sp.Basic, sp.MatrixBase))


def _function_answer(ex: Exercise, function) -> Answer:
    try:
        params = tuple(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        raise ParseError(repr(function)[:60], None, "cannot read this function's parameters") from None
    allowed = ex.names()
    unknown = [p for p in params if p not in allowed]
    if unknown:
        raise ParseError(f"{getattr(function, '__name__', 'answer')}{tuple(params)}", None,
                         f"the function's parameters {unknown} are not names of this exercise",
                         f"name the parameters after the inputs: {', '.join(sorted(allowed))}")
    used = autodiff_names(function)
    if used:
        raise AutodiffUsed(f"the function uses {', '.join(sorted(used))}: state the formula "
                           "instead; autodiff is what the grader checks it against")
    name = getattr(function, "__name__", "function")
    return Answer("Python function", f"{name}({', '.join(params)})", function=function,
                  params=params)


def autodiff_names(function, depth: int = 3) -> set[str]:
    """Autodiff or torch names a function (or the functions it calls, 3 deep) refers to."""
    seen, found = set(), set()

    def scan(code, globals_, level):
        if id(code) in seen:
            return
        seen.add(id(code))
        names = set(code.co_names)
        found.update(names & AUTODIFF)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                scan(const, globals_, level)
        if level < depth:
            for n in names:
                target = globals_.get(n)
                if isinstance(target, types.FunctionType):
                    scan(target.__code__, target.__globals__, level + 1)
                if isinstance(target, types.ModuleType) and target.__name__.split(".")[0] == "torch":
                    found.add("torch")

    target = inspect.unwrap(function)
    code = getattr(target, "__code__", None)
    if code is not None:
        scan(code, getattr(target, "__globals__", {}), 0)
    return found


class _AutodiffCalled(Exception):
    pass


@contextlib.contextmanager
def autodiff_forbidden():
    """While a student's function runs, jax.grad and friends raise instead of answering."""
    from .._float64 import jax

    def refuse(*args, **kwargs):
        raise _AutodiffCalled()

    saved = {n: getattr(jax, n) for n in _PATCHED if hasattr(jax, n)}
    try:
        for n in saved:
            setattr(jax, n, refuse)
        yield
    finally:
        for n, f in saved.items():
            setattr(jax, n, f)


def call_function(answer: Answer, env: dict):
    """Call a function answer with the named values; AutodiffUsed if it reaches for jax.grad."""
    with autodiff_forbidden():
        try:
            return answer.function(*[env[p] for p in answer.params])
        except _AutodiffCalled:
            raise AutodiffUsed("the function calls JAX's autodiff: state the formula instead; "
                               "autodiff is what the grader checks it against") from None


# --- SymPy to plain math ----------------------------------------------------------------------

class _PlainMath(StrPrinter):
    """SymPy's str, but in the plain-math language: @ for matrix products, .T, where(), max()."""

    def __init__(self, rename):
        super().__init__({"order": "none"})
        self.rename = rename

    def _print_Symbol(self, expr):
        return self.rename(expr.name)

    _print_Dummy = _print_Symbol

    def _print_MatrixSymbol(self, expr):
        return self.rename(expr.name)

    def _print_MatMul(self, expr):
        scalars = [a for a in expr.args if not isinstance(a, sp.MatrixExpr)]
        matrices = [a for a in expr.args if isinstance(a, sp.MatrixExpr)]
        body = " @ ".join(self.parenthesize(m, 60) for m in matrices)
        if scalars:
            return "*".join(self.parenthesize(s, 60) for s in scalars) + f"*({body})"
        return body

    def _print_Transpose(self, expr):
        return f"({self._print(expr.arg)}).T"

    def _print_HadamardProduct(self, expr):
        return " * ".join(f"({self._print(a)})" for a in expr.args)

    def _print_MatrixBase(self, expr):
        rows = [", ".join(self._print(e) for e in expr.row(i)) for i in range(expr.rows)]
        return "[" + ", ".join(f"[{r}]" for r in rows) + "]"

    _print_ImmutableDenseMatrix = _print_MutableDenseMatrix = _print_MatrixBase

    def _print_Piecewise(self, expr):
        *cases, (otherwise, cond) = expr.args
        if cond is not sp.true:
            raise ValueError("a piecewise expression without an 'otherwise' case")
        text = self._print(otherwise)
        for value, condition in reversed(cases):
            text = f"where({self._print(condition)}, {self._print(value)}, {text})"
        return text

    def _print_Max(self, expr):
        return self._nest("max", expr.args)

    def _print_Min(self, expr):
        return self._nest("min", expr.args)

    def _nest(self, name, args):
        text = self._print(args[-1])
        for a in reversed(args[:-1]):
            text = f"{name}({self._print(a)}, {text})"
        return text

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr):
        x = self._print(expr.args[0])
        at0 = self._print(expr.args[1]) if len(expr.args) > 1 else "1/2"
        return f"where({x} > 0, 1, where({x} < 0, 0, {at0}))"

    def _print_Exp1(self, expr):
        return "E"

    def _print_Derivative(self, expr):
        raise ValueError("an unevaluated derivative (call .doit(), or give the formula)")

    def _print_Function(self, expr):
        return f"{self.rename(expr.func.__name__)}({', '.join(self._print(a) for a in expr.args)})"


def to_plain_math(ex: Exercise, value) -> str:
    """A SymPy answer (or a tuple of them) written in the plain-math language."""
    known = ex.names() | ex.functions()

    def rename(name):
        for candidate in (name, name.replace("_", ""), name.replace("\\", "")):
            if candidate in known:
                return candidate
        return name

    printer = _PlainMath(rename)
    try:
        if isinstance(value, (tuple, list)):
            return "(" + ", ".join(printer.doprint(sp.sympify(v)) for v in value) + ")"
        return printer.doprint(value)
    except RecursionError:  # sstr would recurse as deeply: the message names no formula
        raise ParseError("(a SymPy expression)", None, "the SymPy expression is nested too "
                         "deeply to read", "a gradient here is a short formula") from None
    except ValueError as error:
        raise ParseError(sp.sstr(value), None, str(error)) from None


def as_arrays(value, n: int) -> tuple:
    """An evaluated answer as a tuple of n float64 arrays (a single array when n == 1)."""
    if n == 1 and not (isinstance(value, (tuple, list)) and len(value) == 1
                       and not _is_number_list(value)):
        value = (value,)
    if not isinstance(value, (tuple, list)) or len(value) != n:
        got = len(value) if isinstance(value, (tuple, list)) else "one"
        raise WrongCount(n, got)
    return tuple(np.asarray(v, dtype=np.float64) for v in value)


def _is_number_list(value) -> bool:
    return isinstance(value, list)


class WrongCount(ValueError):
    """An answer with the wrong number of parts (say one formula where three were asked)."""

    def __init__(self, expected, got):
        super().__init__(f"expected {expected} formulas, one per variable, as a tuple; got {got}")
        self.expected, self.got = expected, got
