"""exercise(...): a derivation declares an exercise, and its build proves the reference answer.

The arguments are literals, so that `python -m gradbook exercises` can read them without
running the derivation. When the derivation runs, the declaration is a check like any other:
the reference answer must equal the derivative of the exercise's function (by SymPy where it
can, else by JAX), the derivation's own formula (`same_as`) must pass the grader, and a
flipped sign must be rejected. So the bank cannot drift from the derivation it came from.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from .._display import Result
from ..checks._catalog import load_catalog
from ..checks._ledger import fail, record
from ._bank import Exercise
from ._evaluate import SymBackend, run
from ._parse import parse
from ._scope import sympy_scope

LITERAL_ONLY = ("task", "of", "wrt", "answer", "inputs", "where", "sizes", "example", "ties",
                "kind", "symbolic_sizes", "batch", "mask", "spellings", "mistakes")


def claim_of(exercise_id: str, catalog=None) -> str:
    """The catalog claim an exercise belongs to: the longest dotted prefix of its id in the catalog."""
    catalog = catalog or load_catalog()
    parts = exercise_id.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in catalog:
            return ".".join(parts[:n])
    raise ValueError(f"exercise {exercise_id!r}: its id must begin with a catalog claim id")


def make_exercise(exercise_id: str, task: str, notebook: str = "", **fields) -> Exercise:
    """An Exercise from a declaration's arguments (spellings are the generator's business)."""
    fields.pop("spellings", None)
    catalog = load_catalog()
    claim = claim_of(exercise_id, catalog)
    return Exercise.from_dict({"id": exercise_id, "claim": claim, "notebook": notebook,
                               "cite": catalog.cite(claim), "task": task, **fields})


def exercise(exercise_id: str, task: str, *, of: str, wrt, answer: str, inputs: dict,
             where: dict | None = None, sizes: dict | None = None, example: dict | None = None,
             ties: list | None = None, kind: str = "grad", symbolic_sizes: bool = False,
             batch: str | None = None, mask: str | None = None, spellings=(),
             mistakes: dict | None = None, same_as=None) -> Result:
    """Declare an exercise: derive the gradient (or Jacobian) of `of` with respect to `wrt`.

    `task` is the question in Markdown; `inputs` name the given values with their shapes
    ("scalar", "d_z × d_x", "N × 1 in [0, 1]"); `where` defines names (ŷ: "sigma(s)") and
    functions ("sigma(t)": "1/(1 + exp(-t))"); `answer` is the reference in plain math.
    `sizes` fixes the named sizes, `example` is the document's worked example, `ties` are
    points at a tie of a max, judged by `answer`'s convention; `symbolic_sizes` lets SymPy
    prove matrix answers for every size; `batch` names the batch size and `mask` the right
    ReLU mask (for the diagnoses); `spellings` are how the derivation writes the result
    (LaTeX, code), which the student notebook must not contain. `same_as` is the
    derivation's own formula (a function of the named inputs, or a SymPy expression).
    `mistakes` are the teacher's own feedback: a wrong formula mapped to the message an answer
    equal to it gets, or to [message, partial credit].
    """
    from ._answer import normalise
    from ._grader import EXPECTED_MISTAKE, check, grader

    ex = make_exercise(exercise_id, task, of=of, wrt=wrt, answer=answer, inputs=inputs,
                       where=where, sizes=sizes, example=example, ties=ties, kind=kind,
                       symbolic_sizes=symbolic_sizes, batch=batch, mask=mask,
                       mistakes=mistakes or {})
    numbers = grader(ex)._by_numbers(normalise(ex, answer))
    if not numbers.passed:
        fail(ex.claim, "jax", f"exercise {ex.id}: the reference answer {answer} is not the "
                              f"derivative: {numbers.diagnosis}: {numbers.message}")
    proof = _proof_against_derivative(ex)
    at = ", ".join(f"{d} = {n}" for d, n in _small_sizes(ex.sizes).items())
    parts = [f"exercise {ex.id}: the reference answer is proven equal to the derivative by SymPy"
             + (f" (for sizes {at})" if at else "") if proof else f"exercise {ex.id}, the reference answer: {numbers.message.rstrip('.')}"]
    if same_as is not None:
        own = check(ex, same_as)
        if not own.passed:
            fail(ex.claim, "jax", f"exercise {ex.id}: the derivation's own formula fails the "
                                  f"grader: {own.diagnosis}: {own.message}")
        parts.append("the derivation's own formula passes the grader")
    flipped = check(ex, _flipped(ex))
    if flipped.passed or flipped.diagnosis not in ("flipped sign", EXPECTED_MISTAKE):
        fail(ex.claim, "jax", f"exercise {ex.id}: the grader does not diagnose a flipped sign "
                              f"({flipped.diagnosis})")
    parts.append("a flipped sign is rejected as such")
    for formula in ex.mistakes:
        said = check(ex, formula)
        if said.passed or said.diagnosis != EXPECTED_MISTAKE:
            fail(ex.claim, "jax", f"exercise {ex.id}: the declared mistake {formula} is "
                                  f"{'right' if said.passed else said.diagnosis}, not told apart")
    if ex.mistakes:
        parts.append(f"{len(ex.mistakes)} declared mistake(s) recognised")
    return Result([record(ex.claim, "sym" if proof else "jax", True, "; ".join(parts))])


def _flipped(ex: Exercise) -> str:
    """The reference answer with the sign of its first part flipped."""
    tree = parse(ex.answer, ex.names() | ex.functions()).tree.body
    import ast

    if isinstance(tree, ast.Tuple):
        parts = [ast.unparse(e) for e in tree.elts]
        parts[0] = f"-({parts[0]})"
        return "(" + ", ".join(parts) + ")"
    return f"-({ex.answer})"


def _proof_against_derivative(ex: Exercise) -> bool:
    """Whether SymPy proves the reference equal to the derivative of `of`, at the exercise's sizes."""
    from ._prove import _same_entries

    formulas = " ".join([ex.of, *ex.where.values()])
    if any(name in formulas for name in ("relu", "max(", "maximum", "step(")):
        return False  # SymPy's derivative of a max is a Heaviside step, 1/2 at the corner
    sizes = _small_sizes(ex.sizes)
    try:
        env, fns = sympy_scope(ex, sizes, substitute=True)
        known = ex.names() | ex.functions()
        value = run(parse(ex.of, known).tree, SymBackend(), env, fns)
        reference = run(parse(ex.answer, known).tree, SymBackend(), env, fns)
        reference = reference if isinstance(reference, tuple) else (reference,)
        derivatives = [_derivative(value, env[w], ex.kind) for w in ex.wrt]
        if ex.kind == "jacobian":
            derivatives = [derivatives[0] if len(derivatives) == 1 else
                           np.stack([np.asarray(d, dtype=object) for d in derivatives], axis=-1)]
        return len(derivatives) == len(reference) and all(
            _same_entries(a, b) for a, b in zip(reference, derivatives))
    except Exception:  # noqa: BLE001 - SymPy not deciding is not an error: JAX has decided
        return False


def _small_sizes(sizes: dict) -> dict:
    """Sizes made small for a proof (2, 3, 4, ... by rank), keeping unequal sizes unequal."""
    ranks = sorted(set(sizes.values()))
    return {name: min(n, 2 + ranks.index(n)) for name, n in sizes.items()}


def _derivative(value, wrt, kind):
    """∂value/∂wrt entry by entry: the shape of wrt for a scalar value, out + in for a Jacobian."""
    value = np.asarray(value, dtype=object) if isinstance(value, np.ndarray) else value
    if kind == "grad":
        if isinstance(value, np.ndarray):
            value = value.reshape(()).item() if value.size == 1 else None
        if not isinstance(wrt, np.ndarray):
            return sp.diff(value, wrt)
        return np.vectorize(lambda w: sp.diff(value, w), otypes=[object])(wrt)
    outs = value if isinstance(value, np.ndarray) else np.array(value, dtype=object)
    ins = wrt if isinstance(wrt, np.ndarray) else np.array(wrt, dtype=object)
    out = np.empty(outs.shape + ins.shape, dtype=object)
    for i in np.ndindex(*outs.shape):
        for j in np.ndindex(*ins.shape):
            out[i + j] = sp.diff(outs[i], ins[j])
    return out
