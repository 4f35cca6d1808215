"""Inside the grading kernel: run the student's cells, and hand each answer over as plain data.

Loaded by the grader as source text into a module of its own (it imports nothing of gradbook).
Each cell runs in the kernel's namespace with two time limits: CPU time (ITIMER_PROF: the
kernel's user and system time, all its threads) and, for a cell that waits or sleeps, wall time
(ITIMER_REAL). The grader trusts neither: it keeps a wall-clock guard of its own on every cell,
and the sandbox a CPU-time limit on the whole notebook. An exception is printed as one line and
the next cell runs. At each check cell the answer is described as JSON data (a string, a SymPy
expression's srepr, or a function's source and the names it uses) and displayed under
ANSWER_MIME. The grader reads that data and nothing else; whatever the kernel displays, a
verdict is made outside it.
"""
import contextlib
import inspect
import linecache
import signal
import sys
import textwrap
import types

ANSWER_MIME = "application/vnd.gradbook.answer+json"
MAX_TEXT = 20_000          # characters of an answer handed over; a longer one is cut
RETRY = 1.0                # seconds (CPU or wall) before an expired limit is raised again
_failed = {}               # exercise id -> why its answer cell gave no answer
_count = [0]
_limited = {}              # while a cell runs: "mark" (what its frames are known by), the limits


class CellTimeout(BaseException):
    """A cell ran past its time limit (BaseException, so that `except Exception` cannot eat it)."""


@contextlib.contextmanager
def _time_limit(limits, mark):
    """Stop the block after `limits` = (CPU seconds, wall seconds), whichever comes first.

    The error is raised only while a frame of the cell (`mark`: its file name, or a code object)
    is on the stack, never in the runner's own code or the kernel's between cells; and again
    every RETRY seconds, should the cell swallow it (`except BaseException`)."""
    if not hasattr(signal, "setitimer"):
        yield
        return
    cpu, wall = limits
    previous = {signum: signal.signal(signum, _expire)
                for signum in (signal.SIGPROF, signal.SIGALRM)}
    _limited.update(mark=mark, cpu=cpu, wall=wall)
    signal.setitimer(signal.ITIMER_PROF, cpu)
    signal.setitimer(signal.ITIMER_REAL, wall)
    try:
        yield
    finally:
        _limited.clear()
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in previous.items():  # a cell's own handler is put back; the
            if callable(handler):                  # default is not (a late signal would kill)
                signal.signal(signum, handler)


def _expire(signum, frame):
    mark = _limited.get("mark")
    if mark is None:
        return
    cpu = signum == signal.SIGPROF
    signal.setitimer(signal.ITIMER_PROF if cpu else signal.ITIMER_REAL, RETRY)
    while frame is not None and frame.f_code is not mark and frame.f_code.co_filename != mark:
        frame = frame.f_back
    if frame is None:
        return  # not in the cell's code: raised at the next expiry, if the cell still runs
    spent = f"the cell used more than its {_limited['cpu']:.3g} s of CPU time"
    wall = f"its wall-time limit of {_limited['wall']:.3g} s"
    if cpu:
        _limited["spent"] = True
        raise CellTimeout(spent)
    if _limited.get("spent"):
        raise CellTimeout(f"{spent}, and went on past {wall}")
    raise CellTimeout(f"the cell ran past {wall} without using its {_limited['cpu']:.3g} s of CPU "
                      "time (waiting, sleeping, or on a busy machine)")


def _namespace():
    main = sys.modules.get("__main__")
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    return main.__dict__


def _run(source, label, limits):
    """Execute `source` under a file name `label` within `limits` (CPU seconds, wall seconds);
    return None, or the error as one line."""
    _count[0] += 1
    filename = f"<{label}, run {_count[0]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as error:
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    try:
        with _time_limit(limits, filename):
            exec(code, _namespace())  # noqa: S102 - running the student's own cell is the point
    except CellTimeout as error:
        return f"timed out: {error}"
    except BaseException as error:  # noqa: BLE001 - a student's cell may raise anything at all
        line = None
        tb = error.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        where = f" (line {line})" if line else ""
        text = str(error).splitlines()[0] if str(error) else ""
        return f"{type(error).__name__}: {text}{where}"
    return None


def preload(modules):
    """Import the libraries exercises use, so that a cell's time limit is spent on its own code."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def cell(source, limits):
    """Run one of the student's other code cells; an error is shown and grading goes on."""
    error = _run(source, "a cell of the submission", limits)
    if error:
        print(f"this cell failed ({error}); grading goes on")


def answer_cell(exercise_id, source, limits):
    """Run the answer cell of one exercise, starting from no `answer` at all."""
    _namespace().pop("answer", None)
    error = _run(source, f"answer to {exercise_id}", limits)
    if error:
        _failed[exercise_id] = error
        print(f"the answer cell failed: {error}")


def skipped(exercise_id, reason):
    """A cell that stopped the kernel before; it is not run again."""
    print(f"not run: {reason}")
    if exercise_id:
        _failed[exercise_id] = reason


def hand_over(exercise_id, limits):
    """Describe the exercise's answer as data and display it for the grader (no verdict here)."""
    from IPython.display import display

    if exercise_id in _failed:
        record = {"form": "failed", "reason": _failed[exercise_id]}
    else:
        answer = _namespace().pop("answer", None)  # gone, so the next exercise cannot inherit it
        try:
            with _time_limit(limits, describe.__code__):
                record = describe(answer)
        except CellTimeout as error:
            record = {"form": "failed", "reason": f"handing the answer over timed out: {error}"}
        except BaseException as error:  # noqa: BLE001 - a student's object may raise anything
            record = {"form": "failed", "reason": "handing the answer over raised "
                      f"{type(error).__name__}"}
    record["id"] = exercise_id
    display({"text/plain": f"answer to {exercise_id} handed to the grader", ANSWER_MIME: record},
            raw=True)


def describe(value):
    """An answer as JSON data: its form, and the text, srepr or source the grader needs."""
    kind = type(value)
    if value is None or value is Ellipsis:
        return {"form": "none"}
    if kind is str:
        return {"form": "text", "text": value[:MAX_TEXT]}
    if kind in (tuple, list) and value and all(type(v) is str for v in value):
        return {"form": "texts", "texts": [v[:MAX_TEXT] for v in value]}
    if _is_sympy(value):
        parts = list(value) if kind in (tuple, list) else [value]
        items = [{"number": float(v)} if type(v) in (int, float) else
                 {"srepr": _srepr(v)} for v in parts]
        return {"form": "sympy", "items": items, "tuple": kind in (tuple, list)}
    if kind is types.FunctionType:
        return _function(value)
    return {"form": "other", "type": f"{kind.__module__}.{kind.__qualname__}"[:200]}


def _is_sympy(value):
    sympy = sys.modules.get("sympy")
    if sympy is None:
        return False
    kinds = (sympy.Basic, sympy.MatrixBase)
    if type(value) in (tuple, list):
        return bool(value) and all(isinstance(v, kinds) or type(v) in (int, float) for v in value) \
            and any(isinstance(v, kinds) for v in value)
    return isinstance(value, kinds)


def _srepr(value):
    text = sys.modules["sympy"].srepr(value)
    if type(text) is not str or len(text) > MAX_TEXT:
        raise ValueError("the expression is too long to hand over")
    return text


def _function(fn, depth=3):
    """A function answer: its source, parameters, and what each global name it uses refers to."""
    record = {"form": "function", "name": fn.__name__, "source": _source(fn),
              "params": [p for p in inspect.signature(fn).parameters],
              "helpers": {}, "modules": {}, "values": {}, "unsent": {}}
    if fn.__name__ == "<lambda>":
        record["name"] = next((k for k, v in fn.__globals__.items() if v is fn), "answer")
    _globals(fn, record, depth, set())
    return record


def _source(fn):
    try:
        return textwrap.dedent(inspect.getsource(fn))[:MAX_TEXT]
    except (OSError, TypeError):
        return ""


def _globals(fn, record, depth, seen):
    if id(fn) in seen:
        return
    seen.add(id(fn))
    for name in sorted(_names(fn.__code__)):
        if name not in fn.__globals__ or name in record["helpers"] or name in record["modules"]:
            continue
        value = fn.__globals__[name]
        if isinstance(value, types.ModuleType):
            record["modules"][name] = value.__name__
        elif type(value) in (int, float, bool):
            record["values"][name] = value
        elif type(value) is types.FunctionType and value.__module__ == "__main__" and depth > 0:
            record["helpers"][name] = _source(value)
            _globals(value, record, depth - 1, seen)
        else:
            kind = type(value)
            record["unsent"][name] = {"type": f"{kind.__module__}.{kind.__qualname__}"[:200],
                                      "name": str(getattr(value, "__name__", ""))[:100]}


def _names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names
