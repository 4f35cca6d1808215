"""`python -m gradbook derive FILE.py:FUNCTION --at ...`: write a derivation that derives it.

The function is loaded and staged first, so a bad name, an example that does not fit the
signature, a non-scalar output or an unsupported operation is one clear line (exit 2) and no
file is written. The derivation written is an ordinary percent-format source: a title, prose
to edit, the function's code, and one derive(...) call; `make notebooks` then builds it.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import re
import sys
import textwrap
from pathlib import Path

EXIT_OK, EXIT_USAGE = 0, 2
SAFE_GLOBALS = {"jnp", "jax", "np", "named", "math"}


class ScaffoldError(Exception):
    """A problem with what derive was asked to do: reported in one line, exit code 2."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gradbook derive",
        description="Write derivations/NAME.py, which stages FUNCTION at the worked example, "
                    "derives its backward pass node by node with SymPy, and checks it against "
                    "JAX; then run make notebooks.")
    p.add_argument("target", metavar="FILE.py:FUNCTION", help="the forward function (returns a scalar)")
    p.add_argument("--at", action="append", default=[], required=True, metavar="NAME=VALUE,...",
                   help="the worked example, one value per parameter (repeatable): numbers and "
                        "lists of numbers are float64 (x=-2,y=5 or W=[[1,2],[3,4]]); a dict, or "
                        "a list of arrays, is a pytree whose leaves are named by path "
                        "(params={'W1': [[1,2]], 'b1': [0.5]} gives params.W1 and params.b1); "
                        "int(...) and bool(...) mark integer or boolean data, never "
                        "differentiated (y=int([0,2,1]))")
    p.add_argument("--name", required=True, help="the derivation's file name, e.g. 11_my_circuit")
    p.add_argument("--wrt", default=None, help="inputs to differentiate, comma-separated: leaf "
                                               "names (params.W1) or a name for all its leaves "
                                               "(params); default: every floating input")
    p.add_argument("--claim", default=None, help="claim id (default: derived.FUNCTION)")
    p.add_argument("--printed", action="append", default=[], metavar="NODE=NUMBER",
                   help="a number the document prints, e.g. f=-12 or x=-4 (repeatable)")
    p.add_argument("--title", default=None, help="the notebook's title (default: from --name)")
    p.add_argument("--derivations", type=Path, default=None, metavar="DIR",
                   help="where to write (default: derivations/)")
    p.add_argument("--force", action="store_true", help="overwrite an existing derivation")
    return p


def derive_main(argv: list[str], root: Path) -> int:
    """Check the request by staging the function, then write the derivation source."""
    args = parser().parse_args(argv)
    try:
        path = write_derivation(args, root)
    except ScaffoldError as error:
        print(f"gradbook derive: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {path}; build it with: make notebooks (or python build.py --only {path.stem})")
    return EXIT_OK


def write_derivation(args, root: Path) -> Path:
    file, _, function = args.target.partition(":")
    if not function:
        raise ScaffoldError(f"{args.target!r}: give the function as FILE.py:FUNCTION")
    module_path = (root / file).resolve()
    f = load_function(module_path, function)
    at = parse_example(args.at)
    printed = parse_example(args.printed, keep_text=True)
    wrt = args.wrt.split(",") if args.wrt else None
    _stage_or_explain(f, at, wrt)
    folder = args.derivations or root / "derivations"
    target = folder / f"{args.name}.py"
    if target.exists() and not args.force:
        raise ScaffoldError(f"{target} exists; pass --force to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(source_text(f, module_path, at, wrt, printed, args, root), encoding="utf-8")
    return target


def load_function(path: Path, name: str):
    """Import FILE.py and return its FUNCTION, with a clear error for each way that fails."""
    if not path.is_file():
        raise ScaffoldError(f"no file {path}")
    spec = importlib.util.spec_from_file_location(f"_gradbook_user_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        import gradbook  # noqa: F401  (float64 before the user's module makes arrays)

        spec.loader.exec_module(module)
    except Exception as error:  # the user's module: any error is theirs to see, in one line
        raise ScaffoldError(f"importing {path.name} failed: {type(error).__name__}: {error}") from None
    f = getattr(module, name, None)
    if not callable(f):
        found = [n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")]
        raise ScaffoldError(f"{path.name} has no function {name!r} (functions: {', '.join(found) or 'none'})")
    return f


def parse_example(items: list[str], keep_text: bool = False) -> dict:
    """'x=-2,y=5', 'W=[[1,2],[3,4]]', "p={'W': [1,2]}" and 'y=int([0,1])' into {name: value}
    (or, with keep_text, the value's text)."""
    out = {}
    for item in items:
        for part in _split_top_level(item):
            name, eq, text = part.partition("=")
            if not eq or not name.strip():
                raise ScaffoldError(f"{part!r}: write NAME=VALUE")
            text = text.strip()
            if keep_text:  # printed digits: keep them as strings, in lists where given
                quoted = re.sub(r"(?<![\w.])([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)", r'"\1"', text)
                try:
                    out[name.strip()] = ast.literal_eval(quoted)
                except (ValueError, SyntaxError):
                    raise ScaffoldError(f"{name.strip()}={text}: not a number or a list of numbers") from None
                continue
            try:
                value = _example_value(ast.parse(text, mode="eval").body)
            except (ValueError, TypeError, SyntaxError):
                raise ScaffoldError(f"{name.strip()}={text}: not a number, a list of numbers, a "
                                    "dict or list of those, or int(...)/bool(...) of them") from None
            out[name.strip()] = value
    return out


def _example_value(node):
    """One --at value: float64 arrays for numbers, pytrees for dicts and lists of arrays,
    integer or boolean arrays (data) for int(...) and bool(...)."""
    import numpy as np

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("int", "bool") \
            and len(node.args) == 1 and not node.keywords:
        dtype = np.int64 if node.func.id == "int" else np.bool_
        return np.asarray(ast.literal_eval(node.args[0]), dtype=dtype)
    if isinstance(node, ast.Dict):
        return {ast.literal_eval(k): _example_value(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple)) and not _all_numbers(node):
        items = [_example_value(e) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    value = ast.literal_eval(node)
    if isinstance(value, bool) or not _all_numbers(node):
        raise ValueError(f"not a number: {value!r}")
    return np.asarray(value, dtype=np.float64)


def _all_numbers(node) -> bool:
    """Whether a literal is a number or a (nested) list of numbers: one array."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return bool(node.elts) and all(_all_numbers(e) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _all_numbers(node.operand)
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
        and not isinstance(node.value, bool)


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[({"
        depth -= ch in "])}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [p for p in parts + [current] if p.strip()]


def _stage_or_explain(f, at, wrt) -> None:
    from ._backward import derive_rules
    from ._stage import DeriveError, stage

    from ._inputs import matches, one_line

    try:
        staged = stage(f, at)
        derive_rules(staged)
    except DeriveError as error:
        raise ScaffoldError(str(error)) from None
    except Exception as error:  # a failure inside derive's own staging: still one line
        raise ScaffoldError(f"cannot derive {f.__name__}: {one_line(error)}") from None
    unknown = [w for w in wrt or [] if not any(matches(n, w) for n in staged.inputs)]
    if unknown:
        raise ScaffoldError(f"--wrt names {', '.join(unknown)}, not inputs of "
                            f"{f.__name__} (inputs: {', '.join(staged.inputs)})")


def source_text(f, module_path: Path, at, wrt, printed, args, root: Path) -> str:
    """The derivation source: title, prose to edit, the function, one derive(...) call."""
    title = args.title or args.name.split("_", 1)[-1].replace("_", " ").capitalize()
    number = args.name.split("_", 1)[0] if "_" in args.name else ""
    try:
        where = module_path.relative_to(root.resolve())
    except ValueError:
        where = module_path.name
    code = _function_code(f, module_path)
    call = [f"at=dict({', '.join(f'{k}={_literal(v)}' for k, v in at.items())})"]
    if wrt:
        call.append(f"wrt={wrt!r}")
    if args.claim:
        call.append(f"claim={args.claim!r}")
    if printed:
        call.append("printed={" + ", ".join(f"{k!r}: {v!r}" for k, v in printed.items()) + "}")
    heading = f"# # {number} · {title}" if number else f"# # {title}"
    return "\n".join([
        "# %% [markdown]", heading, "#",
        f"# *Generated by `python -m gradbook derive {where}:{f.__name__}`.* Replace this",
        "# paragraph with your own: what the function computes, where the worked example comes",
        "# from, and what a reader should look for in its backward pass.",
        "#",
        "# Below, the function is cut into nodes; SymPy derives each node's local derivative",
        "# from its formula; the backward pass multiplies upstream gradients by them node by",
        "# node; and every number is checked against JAX's autodiff and finite differences.",
        "", "# %%", "from gradbook import *", *(["import numpy as np"] if "np." in code else []),
        "", "# %% [markdown]", "# ## The forward function", "",
        "# %%", code, "",
        "# %% [markdown]", "# ## Its backward pass, derived and checked", "",
        "# %%", f"workbook = derive({f.__name__}, " + ",\n                   ".join(call) + ")", "",
        "# %%", "summary()", ""])


def _function_code(f, module_path: Path) -> str:
    """The function's own code, or its whole module when it uses the module's other names."""
    source = textwrap.dedent(inspect.getsource(f)).rstrip()
    import builtins

    used = set(f.__code__.co_names) - SAFE_GLOBALS - set(dir(builtins))
    module_names = {n for n in used if n in f.__globals__}
    if not module_names:
        return source
    text = module_path.read_text(encoding="utf-8")
    return "\n".join(ln for ln in text.rstrip().splitlines() if not ln.startswith("#!"))


def _literal(value) -> str:
    """A parsed --at value as Python source: floats stay floats, integer data stays integer."""
    import numpy as np

    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        items = ", ".join(_literal(v) for v in value)
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    value = np.asarray(value)
    if value.ndim == 0 and value.dtype == np.float64:
        return repr(float(value))
    return f"jnp.array({value.tolist()!r})"
