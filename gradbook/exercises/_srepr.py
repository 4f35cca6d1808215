"""A SymPy expression handed over as its srepr text, rebuilt without eval.

The text is parsed as a Python expression and every call must name a SymPy class or function
(Add, Mul, Symbol, Integer, Function('f'), MatrixSymbol, ...); its arguments are literals or
further such calls. Nothing else is allowed, so the text can name no other code to run. It is
built with evaluation off, so that a Pow(10, 10**9) costs nothing until it is evaluated.
"""
from __future__ import annotations

import ast

import sympy as sp

MAX_NODES = 20_000
MAX_INTEGER = 10**12
NAMED = {"Symbol", "Dummy", "Function", "Str", "Float", "MatrixSymbol", "Wild"}  # may take a name


class SreprError(ValueError):
    """The handed-over text is not the srepr of a SymPy expression."""


def from_srepr(text: str):
    """The SymPy object that `text` (an srepr) describes; SreprError if it is anything else."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        raise SreprError("not the srepr of a SymPy expression") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise SreprError("the expression is too large")
    try:
        with sp.evaluate(False):
            value = _build(tree.body)
    except SreprError:
        raise
    except (TypeError, ValueError, AttributeError, RecursionError, sp.SympifyError) as error:
        raise SreprError(f"not a SymPy expression ({type(error).__name__})") from None
    if not isinstance(value, (sp.Basic, sp.MatrixBase)):
        raise SreprError("not a SymPy expression")
    return value


def _callable(name: str):
    target = getattr(sp, name, None) if name != "Str" else sp.core.symbol.Str
    if isinstance(target, type) and issubclass(target, (sp.Basic, sp.MatrixBase)) or \
            isinstance(target, sp.FunctionClass):
        return target
    raise SreprError(f"{name} is not a SymPy class")


def _build(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        if isinstance(node.value, int) and abs(node.value) > MAX_INTEGER:
            raise SreprError("an integer too large to grade")
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
            isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)):
        return -node.operand.value
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_build(e) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            function = _callable(node.func.id)
        elif isinstance(node.func, ast.Call):  # Function('f')(x): an undefined function applied
            function = _build(node.func)
            if not isinstance(function, sp.core.function.UndefinedFunction):
                raise SreprError("only an undefined function may be applied")
        else:
            raise SreprError("a call of something that is not a SymPy class")
        args = [_build(a) for a in node.args]
        named = node.func.id if isinstance(node.func, ast.Name) else ""
        if any(isinstance(a, str) for a in args[1 if named in NAMED else 0:]) or \
                (args and isinstance(args[0], str) and named not in NAMED):
            raise SreprError(f"a string where {named or 'a function'} takes none")  # sympify would eval it
        kwargs = {k.arg: _build(k.value) for k in node.keywords if k.arg}
        if len(kwargs) != len(node.keywords) or any(isinstance(v, str) for v in kwargs.values()):
            raise SreprError("unexpected keyword arguments")
        if function is sp.Pow and len(args) == 2 and isinstance(args[1], sp.Integer) and \
                abs(int(args[1])) > MAX_INTEGER:
            raise SreprError("an exponent too large to grade")
        return function(*args, **kwargs)
    raise SreprError(f"{type(node).__name__} is not part of an srepr")
