"""The exercises: what each one asks, its named inputs, its definitions, and where it comes from.

An exercise is declared in its derivation by `exercise(...)` with literal arguments; the
command `python -m gradbook exercises` copies those literals into _bank_data.py, which is what
`grade` reads in a student's notebook (where the derivation is not at hand).
"""
from __future__ import annotations

import difflib
import re
import zlib
from dataclasses import dataclass, field

import numpy as np

from ._parse import parse

FIELDS = ("task", "of", "wrt", "answer", "inputs", "where", "sizes", "example", "ties", "kind",
          "symbolic_sizes", "batch", "mask", "mistakes")


class UnknownExercise(KeyError):
    """An exercise id that no derivation declares."""

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Input:
    """A named input: its shape (sizes by name or number) and the range its values are drawn from."""

    name: str
    dims: tuple
    low: float | None = None
    high: float | None = None

    def shape(self, sizes: dict) -> tuple[int, ...]:
        """The concrete shape for the given sizes."""
        return tuple(d if isinstance(d, int) else sizes[d] for d in self.dims)

    def draw(self, rng, sizes: dict):
        """A random value: uniform in the range when one is given, else standard normal."""
        shape = self.shape(sizes)
        if self.low is not None:
            value = rng.uniform(self.low, self.high, shape)
        else:
            value = rng.standard_normal(shape)
        return float(value) if shape == () else value


@dataclass(frozen=True)
class Exercise:
    """One exercise: derive `wrt`-gradient (or Jacobian) of the formula `of`, given `inputs`."""

    id: str
    claim: str
    notebook: str
    task: str
    of: str
    wrt: tuple[str, ...]
    answer: str
    inputs: dict
    where: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)
    example: dict | None = None
    ties: tuple = ()
    kind: str = "grad"
    symbolic_sizes: bool = False
    batch: str | None = None
    mask: str | None = None
    cite: str = ""
    mistakes: dict = field(default_factory=dict)  # formula -> message, or [message, credit]

    @classmethod
    def from_dict(cls, data: dict) -> "Exercise":
        """An exercise from its bank entry (or from the arguments of exercise(...))."""
        data = dict(data)
        wrt = data.pop("wrt")
        data["wrt"] = (wrt,) if isinstance(wrt, str) else tuple(wrt)
        data["ties"] = tuple(data.get("ties") or ())
        data["where"] = dict(data.get("where") or {})
        data["sizes"] = dict(data.get("sizes") or {})
        data["mistakes"] = dict(data.get("mistakes") or {})
        ex = cls(**data)
        ex.validate()
        return ex

    def to_dict(self) -> dict:
        """The bank entry: plain literals only."""
        out = {"id": self.id, "claim": self.claim, "notebook": self.notebook, "cite": self.cite}
        for name in FIELDS:
            value = getattr(self, name)
            if name == "wrt":
                value = value[0] if len(value) == 1 else list(value)
            if name == "ties":
                value = list(value)
            if name == "mistakes" and not value:
                continue  # the bank entries of exercises without them stay as they were
            out[name] = value
        return out

    # --- what the formulas may use ---------------------------------------------------------

    def input_specs(self) -> dict[str, Input]:
        """Each input's shape and range, parsed from its description ("N × d_x in [0, 1]")."""
        return {name: parse_input(name, text) for name, text in self.inputs.items()}

    def definitions(self) -> tuple[dict[str, str], dict[str, tuple[tuple[str, ...], str]]]:
        """The `where` definitions split into values (yhat: sigma(s)) and functions (sigma(t): ...)."""
        values, functions = {}, {}
        for key, body in self.where.items():
            m = re.fullmatch(r"\s*(\w+)\s*\((.*)\)\s*", key)
            if m:
                functions[m.group(1)] = (tuple(p.strip() for p in m.group(2).split(",")), body)
            else:
                values[key.strip()] = body
        return values, functions

    def dims(self) -> list[str]:
        """The named sizes, in the order they first appear."""
        names = []
        for spec in self.input_specs().values():
            names += [d for d in spec.dims if isinstance(d, str) and d not in names]
        return names

    def names(self) -> set[str]:
        """Every name an answer may use: inputs, defined values, sizes."""
        values, _ = self.definitions()
        return set(self.inputs) | set(values) | set(self.dims())

    def functions(self) -> set[str]:
        """The functions the exercise defines (sigma, ...), callable in answers."""
        return set(self.definitions()[1])

    def validate(self) -> None:
        """Refuse an exercise whose formulas do not parse or name unknown things."""
        if self.kind not in ("grad", "jacobian"):
            raise ValueError(f"exercise {self.id}: kind must be 'grad' or 'jacobian'")
        missing = [w for w in self.wrt if w not in self.inputs]
        if missing:
            raise ValueError(f"exercise {self.id}: wrt names {missing} are not inputs")
        self.input_specs()
        known = self.names() | self.functions()
        values, functions = self.definitions()
        for body in values.values():
            parse(body, known)
        for params, body in functions.values():
            parse(body, known | set(params))
        parse(self.of, known)
        parse(self.answer, known)
        if self.mask:
            parse(self.mask, known)
        for formula, said in self.mistakes.items():
            parse(formula, known)
            message, credit = mistake_of(said)
            if not isinstance(message, str) or not message or not 0 <= credit < 1:
                raise ValueError(f"exercise {self.id}: mistakes[{formula!r}] must be a message, "
                                 "or [message, credit] with 0 <= credit < 1")
        undefined = [d for d in self.dims() if d not in self.sizes]
        if undefined:
            raise ValueError(f"exercise {self.id}: give sizes for {undefined}")

    # --- points ----------------------------------------------------------------------------

    def random_points(self, n: int = 3, sizes: dict | None = None, salt: str = "") -> list[dict]:
        """`n` seeded random points (the seed is the exercise id), at the exercise's sizes."""
        rng = np.random.default_rng(zlib.crc32((self.id + salt).encode()))
        sizes = {**self.sizes, **(sizes or {})}
        specs = self.input_specs()
        return [{name: spec.draw(rng, sizes) for name, spec in specs.items()} for _ in range(n)]

    def example_point(self) -> dict | None:
        """The worked example as arrays, or None."""
        if not self.example:
            return None
        return {k: _array(v) for k, v in self.example.items()}

    def tie_points(self) -> list[dict]:
        """Points at a tie (max(a, b) with a = b, ReLU at 0), judged by the document's convention."""
        return [{k: _array(v) for k, v in t.items()} for t in self.ties]

    def sizes_at(self, point: dict) -> dict:
        """The named sizes of a point, read off its arrays' shapes."""
        sizes = dict(self.sizes)
        for name, spec in self.input_specs().items():
            shape = np.shape(point[name])
            for d, n in zip(spec.dims, shape):
                if isinstance(d, str):
                    sizes[d] = int(n)
        return sizes


def mistake_of(said) -> tuple[str, float]:
    """A declared mistake's (message, partial credit): a bare message earns nothing."""
    if isinstance(said, (list, tuple)) and len(said) == 2:
        return said[0], float(said[1])
    return said, 0.0


def parse_input(name: str, text: str) -> Input:
    """Read "scalar", "n", "d_z × d_x", "N × 1 in [0, 1]" or "scalar in (0.05, 0.95)"."""
    m = re.fullmatch(r"\s*(.*?)\s*(?:in\s*[\[(]\s*([-+0-9.e]+)\s*,\s*([-+0-9.e]+)\s*[\])])?\s*", text)
    shape_text = m.group(1) if m else text
    low = float(m.group(2)) if m and m.group(2) else None
    high = float(m.group(3)) if m and m.group(3) else None
    if shape_text in ("scalar", ""):
        dims = ()
    else:
        parts = [p.strip() for p in re.split(r"×|\*|\sx\s|\sby\s", shape_text) if p.strip()]
        if not parts or not all(re.fullmatch(r"\w+", p) for p in parts):
            raise ValueError(f"input {name}: cannot read the shape {text!r} "
                             "(write scalar, n, d_z × d_x, optionally 'in [low, high]')")
        dims = tuple(int(p) if p.isdigit() else p for p in parts)
    return Input(name, dims, low, high)


def _array(value):
    return float(value) if isinstance(value, (int, float)) else np.asarray(value, dtype=np.float64)


def bank() -> dict[str, Exercise]:
    """Every exercise the derivations declare, by id (from the generated _bank_data.py)."""
    from ._bank_data import BANK

    return {entry["id"]: Exercise.from_dict(entry) for entry in BANK}


_CACHE: dict[str, Exercise] = {}


def lookup(exercise_id: str) -> Exercise:
    """The exercise with this id; a typo gets a suggestion."""
    if not _CACHE:
        _CACHE.update(bank())
    try:
        return _CACHE[exercise_id]
    except KeyError:
        close = difflib.get_close_matches(str(exercise_id), _CACHE, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownExercise(f"no exercise {exercise_id!r}{hint} (the exercises are listed by "
                              "python -m gradbook exercises --list)") from None
