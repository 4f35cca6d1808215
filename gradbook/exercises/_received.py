"""The answers a kernel handed over, read as data and turned into what the grader judges.

A record is JSON from the kernel's runner (kernel/runner.py): a string, strings, a SymPy srepr
(rebuilt by _srepr without eval), or a function's source. A function is not run here: its
source is checked for autodiff and for ways out of the callee's small world, then called in a
separate process (kernel/callee.py, in the sandbox) that holds nothing of the grader. Nothing
in a record is trusted but its data: a record that claims a verdict is ignored.
"""
from __future__ import annotations

import ast
import inspect
import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ._parse import AUTODIFF, AutodiffUsed, ParseError
from ._srepr import SreprError, from_srepr

CALLEE = Path(__file__).parent / "kernel" / "callee.py"
CALL_TIMEOUT = 30.0     # seconds for the callee to start (it may import JAX) or answer one call
_FORBIDDEN_CALLS = {"eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "globals",
                    "locals", "vars", "__import__", "breakpoint", "input", "memoryview", "type"}


class Refused(Exception):
    """A record that cannot be graded: the message says why, `diagnosis` names it."""

    def __init__(self, message: str, diagnosis: str):
        super().__init__(message)
        self.diagnosis = diagnosis


def answer_from(record: dict, plan):
    """What the grader judges for a record: a str, a tuple of str, a SymPy object, or a function."""
    form = record.get("form")
    if form == "none":
        return None
    if form == "failed":
        raise Refused(f"the answer cell failed: {record.get('reason', '')}", "answer cell failed")
    if form == "text" and isinstance(record.get("text"), str):
        return record["text"]
    if form == "texts" and all(isinstance(t, str) for t in record.get("texts", [None])):
        return tuple(record["texts"])
    if form == "sympy":
        try:
            items = [float(i["number"]) if "number" in i else from_srepr(str(i["srepr"]))
                     for i in record["items"]]
        except (SreprError, KeyError, TypeError, ValueError) as error:
            raise Refused(f"the SymPy answer could not be read: {error}",
                          "could not read the answer") from None
        return tuple(items) if record.get("tuple") else items[0]
    if form == "function":
        return RemoteFunction(record, plan)
    kind = str(record.get("type", "unknown"))
    raise Refused(f"a {kind} is not an answer: give a string such as \"yhat - y\", a SymPy "
                  "expression, or a function", "not an answer")


class RemoteFunction:
    """A student's function, called in the callee process; looks like a function to the grader."""

    def __init__(self, record: dict, plan):
        self.record = _checked(record)
        self.__name__ = self.record["name"]
        self.__signature__ = inspect.Signature(
            [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in record["params"]])
        self.plan, self.process, self.scratch = plan, None, None

    def __call__(self, *args):
        if self.process is None:
            self._start()
        reply = self._ask({"args": [_encode(a) for a in args]})
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return _decode(reply["value"])

    def _start(self):
        self.scratch = tempfile.mkdtemp(prefix="gradbook-callee-")
        os.chmod(self.scratch, 0o711)
        work, runtime = Path(self.scratch) / "work", Path(self.scratch) / "runtime"
        work.mkdir()
        runtime.mkdir()
        command = self.plan.command([sys.executable, "-I", str(CALLEE)], work, runtime,
                                    Path(self.scratch))
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, cwd=work, text=True)
        reply = self._ask(self.record)
        if "error" in reply:
            raise RuntimeError(reply["error"])

    def _ask(self, message: dict) -> dict:
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise RuntimeError("the process that calls the function ended") from None
        ready, _, _ = select.select([self.process.stdout], [], [], CALL_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise RuntimeError(f"no answer from the function within {CALL_TIMEOUT:g} s")
        return json.loads(line)

    def close(self):
        """End the callee process."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process.stdin.close()
            self.process.stdout.close()
            self.process = None
        if self.scratch:
            import shutil

            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def _checked(record: dict) -> dict:
    """The function record, refused if its source reaches for autodiff or out of the callee."""
    if not record.get("source"):
        raise Refused("the function's source could not be read (define it with def in the "
                      "answer cell)", "could not read the answer")
    for name, what in record.get("unsent", {}).items():
        label = f"{what.get('type', '')} {what.get('name', '')}"
        if any(word in AUTODIFF for word in label.replace(".", " ").split()):
            raise AutodiffUsed(f"the function uses {name}, which is JAX's autodiff "
                               f"({what.get('name')}): state the formula instead; autodiff is "
                               "what the grader checks it against")
    sources = list(record.get("helpers", {}).values()) + [record["source"]]
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            raise Refused("the function's source could not be parsed",
                          "could not read the answer") from None
        for node in ast.walk(tree):
            name = node.id if isinstance(node, ast.Name) else \
                node.attr if isinstance(node, ast.Attribute) else None
            if name in AUTODIFF:
                raise AutodiffUsed(f"the function uses {name}: state the formula instead; "
                                   "autodiff is what the grader checks it against")
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)) or \
                    name and (name.startswith("_") or name in _FORBIDDEN_CALLS):
                what = name or type(node).__name__.lower()
                raise Refused(f"the function uses {what}, which a graded function may not: "
                              "use the inputs, numbers and np/jnp/math only",
                              "cannot be evaluated")
    return record


def _encode(value) -> dict:
    array = np.asarray(value, dtype=np.float64)
    return {"shape": list(array.shape), "data": [float(x) for x in array.ravel()]}


def _decode(data):
    if "tuple" in data:
        return tuple(_decode(d) for d in data["tuple"])
    return np.asarray(data["data"], dtype=np.float64).reshape(data["shape"])
