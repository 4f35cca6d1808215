"""Intermediates named as the user's code names them: `h = jnp.tanh(W1 @ x + b1)` names h.

A staged node keeps its jaxpr equation, whose source information gives the file and line of the
user's code that made it. The statement there is read with `ast`; when it assigns one plain
name, the last node that statement made (the value of its right-hand side) takes that name.
Operations inside a jitted library function (jax.nn.log_softmax) have no frame of their own:
the line of the user's code that called it (Node.line) stands for them, so `logp =
jax.nn.log_softmax(logits)` names logp. A statement in the body of a lax.scan runs once per
unrolled step: each step's value takes the name with the step, counted from 1 (z_1, z_2, ...;
h_1 follows the user's h0). A name the code assigns more than once otherwise (a Python loop, a
helper called twice, `h = h + 1`), or one already taken, is left alone: the node keeps its vN.
"""
from __future__ import annotations

import ast
import linecache
from functools import lru_cache
from pathlib import Path


def name_from_source(staged, keep=()) -> dict[str, str]:
    """Rename staged nodes after the variables their statements assign; returns {old: new}.

    `keep`: names chosen explicitly (names=, named()), which are never replaced.
    """
    runs: dict[tuple, list[list]] = {}  # statement -> runs of consecutive nodes it made
    previous = None
    files = source_files(staged)
    for n in staged.nodes:
        if n.op in ("input", "const"):
            continue  # a constant staged between two nodes of one statement does not part them
        where = _statement(n.eqn) or _called_at(n, files) if n.eqn is not None else None
        if where is not None:
            if where == previous:
                runs[where][-1].append(n)
            else:
                runs.setdefault(where, []).append([n])
        previous = where
    taken = {n.name for n in staged.nodes} | set(keep) | {staged.output}
    chosen: dict[str, list[str]] = {}
    for (file, first, last, target), made in runs.items():
        for name, node in _named_runs(target, made):
            if name not in taken:
                chosen.setdefault(name, []).append(node.name)
    renames = {old[0]: new for new, old in chosen.items() if len(old) == 1
               and _generated(old[0], keep, staged.output)}
    for n in staged.nodes:
        n.name = renames.get(n.name, n.name)
        n.inputs = [renames.get(r, r) if isinstance(r, str) else r for r in n.inputs]
    return renames


def _named_runs(target: str, made: list[list]) -> list[tuple[str, object]]:
    """The names a statement gives: its one run's last node the statement's name; in a loop's
    body, run once per step, each step's last node the name with its step (z_1, z_2, ...)."""
    if len(made) == 1:
        return [(target, made[0][-1])]
    steps = [run[-1].step for run in made]
    if all(len(s) == 1 and all(n.step == s for n in run) for s, run in zip(steps, made)) and len(
            {s[0][0] for s in steps}) == 1 and len(set(steps)) == len(steps):
        return [(f"{target}_{s[0][1] + 1}", run[-1]) for s, run in zip(steps, made)]
    return []


def _called_at(node, files) -> tuple | None:
    """The statement of the user's line that called the library function `node` was made in."""
    file, _, line = (getattr(node, "line", "") or "").rpartition(":")
    if file not in files or not line.isdigit():
        return None
    return next(((files[file], first, last, target) for first, last, target
                 in _assignments(files[file]) if first <= int(line) <= last), None)


def _generated(name: str, keep, output: str) -> bool:
    """Whether the name is one staging made up (v12, c3), not one the user gave."""
    return (name not in set(keep) | {output} and name[:1] in "vc" and name[1:].isdigit())


_OWN = str(Path(__file__).resolve().parent)  # derive's own code: never the user's line


def _frame(eqn):
    """The user's frame (file_name, start_line) that made `eqn`, or None (also when the frame
    is derive's own code, which stages a loop's slicing and stacking itself)."""
    try:
        from jax._src import source_info_util

        frame = source_info_util.user_frame(eqn.source_info.traceback)
    except Exception:  # noqa: BLE001 - no source information: no name
        return None
    if frame is None or str(Path(frame.file_name).resolve().parent) == _OWN:
        return None
    return frame


def _statement(eqn):
    """(file, first line, last line, assigned name) of the statement that made `eqn`, or None."""
    frame = _frame(eqn)
    if frame is None:
        return None
    for first, last, target in _assignments(frame.file_name):
        if first <= frame.start_line <= last:
            return (frame.file_name, first, last, target)
    return None


@lru_cache(maxsize=64)
def _assignments(file_name: str) -> tuple:
    """Every statement of a file that assigns one plain name, outside loops (a loop body runs
    more than once, and its steps cannot be told apart): (first line, last line, name)."""
    source = "".join(linecache.getlines(file_name))
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    found = []

    def visit(node, looped: bool) -> None:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            target = node.target
        else:
            target = None
        if isinstance(target, ast.Name) and not looped:
            found.append((node.lineno, node.end_lineno or node.lineno, target.id))
        for child in ast.iter_child_nodes(node):
            visit(child, looped or isinstance(node, (ast.For, ast.AsyncFor, ast.While)))

    visit(tree, False)
    return tuple(found)


def source_files(staged) -> dict[str, str]:
    """The user's files the nodes were made in, by their base name (see source_line)."""
    files = {}
    for n in staged.nodes:
        frame = _frame(n.eqn) if n.eqn is not None else None
        if frame is not None:
            files.setdefault(frame.file_name.rsplit("/", 1)[-1], frame.file_name)
    return files


def source_line(node, files=None) -> str:
    """The line of the user's code that made a node ('' when unknown).

    An operation inside a jitted library function (jax.nn.log_softmax) has no frame of its
    own; staging records the user's line that called it (node.line, "file.py:12"), which is
    read from the file of that name among `files` (source_files)."""
    frame = _frame(node.eqn) if getattr(node, "eqn", None) is not None else None
    if frame is not None:
        return linecache.getline(frame.file_name, frame.start_line).strip()
    file, _, line = (getattr(node, "line", "") or "").rpartition(":")
    if file in (files or {}) and line.isdigit():
        return linecache.getline(files[file], int(line)).strip()
    return ""


def name_graph_from_source(traced, jaxpr) -> None:
    """Name a drawn graph's unnamed values as `name_from_source` names staged nodes.

    A drawn operation node `op{i}` is the jaxpr's equation i; the edge out of the last node a
    statement made takes the statement's name, unless the name is used twice or already taken.
    """
    runs: dict[tuple, list[list[str]]] = {}
    previous = None
    for node in traced.nodes:
        if node.kind != "op":
            continue
        where = _statement(jaxpr.eqns[int(node.id[2:])])
        if where is not None:
            if where == previous:
                runs[where][-1].append(node.id)
            else:
                runs.setdefault(where, []).append([node.id])
        previous = where
    taken = {n.label for n in traced.nodes if n.kind in ("input", "output")} | set(traced.values)
    chosen: dict[str, list[str]] = {}
    for (_, _, _, target), made in runs.items():
        if len(made) == 1 and target not in taken:
            chosen.setdefault(target, []).append(made[0][-1])
    for name, (node_id, *more) in chosen.items():
        leaving = [e for e in traced.edges if e.source == node_id]
        if more or len(leaving) != 1 or leaving[0].name or leaving[0].target == "out":
            continue
        leaving[0].name = name
        traced.values[name], traced.grads[name] = leaving[0].value, leaving[0].grad
