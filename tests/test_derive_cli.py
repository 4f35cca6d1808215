"""python -m gradbook derive: a derivation written from a forward function, and clear refusals."""
import textwrap

import pytest

from gradbook.cli import main

MODELS = '''\
import jax.numpy as jnp


def circuit(x, y, z):
    q = x + y
    return q * z


def doubled(x):
    return x * 2.0


def sorted_first(x):
    return jnp.sort(x)[0]
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "models.py").write_text(MODELS)
    return tmp_path


def derive(project, *args):
    return main(["derive", *args], root=project)


def test_derive_writes_a_derivation_that_runs_and_verifies(project, ledger, capsys, monkeypatch):
    assert derive(project, "models.py:circuit", "--at", "x=-2,y=5,z=-4", "--name", "11_circuit",
                  "--printed", "f=-12,x=-4") == 0
    source = (project / "derivations" / "11_circuit.py").read_text()
    assert source.startswith("# %% [markdown]\n# # 11 · Circuit")
    assert "printed={'f': '-12', 'x': '-4'}" in source
    monkeypatch.setenv("MPLBACKEND", "Agg")
    exec(compile(source, "11_circuit.py", "exec"), {"__name__": "__main__"})
    assert ledger.entry("derived.circuit")["status"] == "verified"


@pytest.mark.parametrize("args, message", [
    (["models.py:nope", "--at", "x=1"], "models.py has no function 'nope' (functions: circuit, doubled, sorted_first)"),
    (["missing.py:circuit", "--at", "x=1"], "no file"),
    (["models.py:doubled", "--at", "x=[1,2]"], "doubled must return one scalar (a loss)"),
    (["models.py:circuit", "--at", "x=1,y=2"], "the example does not match circuit('x', 'y', 'z'): missing z"),
    (["models.py:sorted_first", "--at", "x=[3,1]"], "cannot derive the operation 'sort', made at models.py:14"),
    (["models.py:circuit", "--at", "x=1,y=2,z=oops"], "z=oops: not a number"),
])
def test_what_derive_cannot_do_is_one_line_and_exit_2(project, capsys, args, message):
    assert derive(project, *args, "--name", "12_x") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (project / "derivations" / "12_x.py").exists()


def test_a_corrupted_local_derivative_fails_the_build_of_a_generated_workbook(project, capsys):
    assert derive(project, "models.py:circuit", "--at", "x=-2,y=5,z=-4", "--name", "11_circuit") == 0
    source = project / "derivations" / "11_circuit.py"
    sabotage = textwrap.dedent('''\
        # %%
        import sympy
        from gradbook.graph import _backward
        _backward.local_derivative = lambda formula, x: 2 * sympy.diff(formula, x) if formula.is_Mul else sympy.diff(formula, x)

        ''')
    text = source.read_text()
    source.write_text(text.replace("# %%\nfrom gradbook import *", sabotage + "# %%\nfrom gradbook import *", 1))
    assert main(["--derivations", str(project / "derivations"), "--notebooks", str(project / "notebooks"),
                 "--no-jax-cache"], root=project) == 1
    err = capsys.readouterr().err
    assert "local derivative of node f (mul" in err
    assert not (project / "notebooks" / "11_circuit.ipynb").exists()
