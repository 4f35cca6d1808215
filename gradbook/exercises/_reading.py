"""Deciding what a juxtaposition, a ^T and a \\sum_n mean, from the shapes of what they join.

`g xᵀ` is a matrix product when both sides are arrays and a scaling when one is a number (two
1-D arrays: an inner product written wᵀx, else entrywise, as in σ(z)(1 − σ(z))); `x^T`
is a transpose, or a power where T is also a name and x a number; `\\sum_n X` sums over the
batch axis. Where two readings would both fit and differ, a note says which one was used and
how to write the other. Without shapes, a juxtaposition is a product of numbers.
"""
from __future__ import annotations

import ast
from typing import Protocol

from ._notation import CARET_T_NAME, SUM_NAME


class Shapes(Protocol):
    """What the reader asks of an exercise: the shape of a formula, and its batch axis."""

    def shape(self, tree: ast.AST) -> tuple | None:
        """The shape of the formula's value at the exercise's sizes, or None if it fails."""

    def batch_axis(self, tree: ast.AST) -> int | None:
        """The axis of the formula's value that has the batch's length, or None."""


def resolve(tree: ast.Expression, shapes: Shapes | None,
            quote=None) -> tuple[ast.Expression, list[str]]:
    """The tree with every juxtaposition, ^T and \\sum_n replaced by plain NumPy; the notes.

    `quote(first, last)` gives the answer as typed from node `first` to node `last`.
    """
    notes: list[str] = []
    quote = quote or (lambda first, last: f"{_operand(first)} {_operand(last)}"
                      if first is not last else ast.unparse(first))

    class Reader(ast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            if isinstance(node.op, ast.Mod):
                typed = quote(node.left, node.right)
                return ast.copy_location(
                    ast.BinOp(node.left, _product(node.left, node.right, shapes, notes, typed),
                              node.right), node)
            if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Name) and \
                    node.right.id == CARET_T_NAME:
                return _caret_t(node, shapes, notes)
            return node

        def visit_Call(self, node):
            self.generic_visit(node)
            if isinstance(node.func, ast.Name) and node.func.id == SUM_NAME:
                return _sum_over(node, shapes, notes)
            return node

    tree = ast.fix_missing_locations(Reader().visit(tree))
    return tree, notes


def _shape(tree, shapes):
    if shapes is None:
        return None
    return shapes.shape(ast.Expression(body=tree))


def _product(left, right, shapes, notes, typed):
    a, b = _shape(left, shapes), _shape(right, shapes)
    if a == () or b == () or a is None and b is None:
        return ast.Mult()
    if a is None or b is None:  # one side fails anyway; beside an array, it is a matrix product
        return ast.MatMult() if len(a or b) == 2 else ast.Mult()
    matrix = ast.unparse(ast.BinOp(left, ast.MatMult(), right))
    entrywise = ast.unparse(ast.BinOp(left, ast.Mult(), right))
    if len(a) == 1 and len(b) == 1:
        return _vectors(left, right, typed, matrix, entrywise, notes)
    if not _multiplies(a, b):
        notes.append(f"“{typed}” is read as the matrix product {matrix}, as written side by side "
                     f"(the shapes {_dims(a)} and {_dims(b)} do not fit one); for the entrywise "
                     f"product write {entrywise}")
    elif _broadcasts(a, b) and not _same_either_way(a, b):
        notes.append(f"“{typed}” is read as the matrix product {matrix}; for the entrywise "
                     f"product write {entrywise} (or ⊙)")
    return ast.MatMult()


def _vectors(left, right, typed, matrix, entrywise, notes):
    """Two 1-D arrays: wᵀx is their inner product, σ(z)(1 − σ(z)) their entrywise product."""
    if isinstance(left, ast.Attribute) and left.attr == "T":
        notes.append(f"“{typed}” is read as the inner product {matrix}; for the entrywise "
                     f"product write {entrywise.replace('.T', '')}")
        return ast.MatMult()
    notes.append(f"“{typed}” is read as the entrywise product {entrywise}; for the inner product "
                 f"write {_operand(left)}ᵀ{_operand(right)} or {matrix}")
    return ast.Mult()


def _operand(node) -> str:
    text = ast.unparse(node)
    return f"({text})" if isinstance(node, (ast.BinOp, ast.Compare, ast.UnaryOp)) else text


def _dims(shape) -> str:
    return "×".join(map(str, shape))


def _same_either_way(a, b) -> bool:
    """A column times a row: the matrix product and the entrywise one are the same outer product."""
    return len(a) == 2 and len(b) == 2 and a[1] == 1 and b[0] == 1


def _multiplies(a, b) -> bool:
    if len(a) == 1 and len(b) == 1:
        return a == b
    k = a[-1]
    inner = b[0] if len(b) == 1 else b[-2]
    return k == inner


def _broadcasts(a, b) -> bool:
    for x, y in zip(reversed(a), reversed(b)):
        if x != y and 1 not in (x, y):
            return False
    return True


def _caret_t(node, shapes, notes):
    base = node.left
    shape = _shape(base, shapes)
    text = ast.unparse(base)
    if shape == ():
        notes.append(f"“{text}^T” is read as {text} to the power T ({text} is a number and T "
                     f"a name); for a transpose write {text}ᵀ or {text}.T")
        return ast.copy_location(ast.BinOp(base, ast.Pow(), ast.Name("T", ast.Load())), node)
    notes.append(f"“{text}^T” is read as the transpose {text}.T; for a power of T write "
                 f"{text}**T")
    return ast.copy_location(ast.Attribute(base, "T", ast.Load()), node)


def _sum_over(node, shapes, notes):
    body = node.args[0] if node.args else ast.Constant(0)
    call = ast.Call(ast.Name("sum", ast.Load()), [body], [])
    axis = None if shapes is None else shapes.batch_axis(ast.Expression(body=body))
    if axis is not None:
        call.keywords = [ast.keyword("axis", ast.Constant(axis))]
    return ast.copy_location(call, node)
