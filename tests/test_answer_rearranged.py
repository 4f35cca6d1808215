"""Property: a random rearrangement of an exercise's own answer (commuted sums and products,
distributed factors, a transpose of a product, sigmoid written out, written in Unicode with
products side by side) is still accepted."""
import ast
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradbook.exercises import _prove
from gradbook.exercises._bank import bank
from gradbook.exercises._grader import check
from gradbook.exercises._parse import function_name, parse

EXERCISES = bank()


def transposed(node):
    return ast.Attribute(node, "T", ast.Load())


def call(name, *args):
    return ast.Call(ast.Name(name, ast.Load()), list(args), [])


class Rearrange(ast.NodeTransformer):
    """Rewrites that keep a formula's value, each node's chosen by `pick(n)` (0 keeps it)."""

    def __init__(self, pick, values):
        self.pick, self.values = pick, values

    def visit_BinOp(self, node):
        self.generic_visit(node)
        op, choice = type(node.op), self.pick(3)
        a, b = node.left, node.right
        if op in (ast.Add, ast.Mult) and choice == 1:
            return ast.BinOp(b, node.op, a)
        if op is ast.MatMult and choice == 1:  # A @ B = (Bᵀ @ Aᵀ)ᵀ
            return transposed(ast.BinOp(transposed(b), ast.MatMult(), transposed(a)))
        if op in (ast.Mult, ast.MatMult) and choice == 2:
            for side in ("right", "left"):
                inner = getattr(node, side)
                if isinstance(inner, ast.BinOp) and isinstance(inner.op, (ast.Add, ast.Sub)):
                    parts = [ast.BinOp(a, node.op, part) if side == "right" else
                             ast.BinOp(part, node.op, b) for part in (inner.left, inner.right)]
                    return ast.BinOp(parts[0], inner.op, parts[1])
        if op is ast.Sub and choice == 1:
            return ast.UnaryOp(ast.USub(), ast.BinOp(b, ast.Sub(), a))
        if op is ast.Sub and choice == 2:
            return ast.BinOp(a, ast.Add(), ast.BinOp(ast.Constant(-1), ast.Mult(), b))
        if op is ast.Div and choice == 1:
            return ast.BinOp(a, ast.Mult(), ast.BinOp(ast.Constant(1), ast.Div(), b))
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        name, choice = function_name(node.func), self.pick(2)
        if name in ("sigma", "sigmoid") and choice == 1:
            return ast.BinOp(ast.Constant(1), ast.Div(), ast.BinOp(
                ast.Constant(1), ast.Add(), call("exp", ast.UnaryOp(ast.USub(), node.args[0]))))
        if name in ("sigma", "sigmoid") and choice == 2:
            half = ast.BinOp(node.args[0], ast.Div(), ast.Constant(2))
            return ast.BinOp(ast.BinOp(ast.Constant(1), ast.Add(), call("tanh", half)),
                             ast.Div(), ast.Constant(2))
        if name == "exp" and choice == 1:
            return ast.BinOp(ast.Name("e", ast.Load()), ast.Pow(), node.args[0])
        if name == "sum" and node.keywords and choice == 1:
            return ast.Call(ast.Attribute(node.args[0], "sum", ast.Load()), [], node.keywords)
        return node

    def visit_Name(self, node):
        if node.id in self.values and self.pick(4) == 1:
            return transposed(transposed(node))
        return node


def in_notes(text: str) -> str:
    """The formula as a lecture note writes it: ᵀ, ·, −, and matrix products side by side."""
    text = text.replace(".T", "ᵀ").replace(" @ ", " ").replace(" - ", " − ")
    return re.sub(r"(?<!\*)\*(?!\*)", "·", text)


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_random_rearrangement_of_the_answer_is_accepted(exercise_id, data, monkeypatch):
    monkeypatch.setattr(_prove, "TIME_LIMIT", 1.0)
    ex = EXERCISES[exercise_id]
    tree = parse(ex.answer, ex.names() | ex.functions()).tree
    values = ex.names() - set(ex.dims())
    changed = Rearrange(lambda n: data.draw(st.integers(0, n)), values).visit(tree)
    text = ast.unparse(ast.fix_missing_locations(changed))
    if data.draw(st.booleans()):
        text = in_notes(text)
    feedback = check(exercise_id, text)
    assert feedback.passed, f"{text!r}: {feedback!r}"
