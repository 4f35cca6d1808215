"""python -m gradbook derive: a derivation written from a forward function, and clear refusals."""
import textwrap

import pytest

from gradbook.cli import main

MODELS = '''\
import jax
import jax.numpy as jnp


def circuit(x, y, z):
    q = x + y
    return q * z


def doubled(x):
    return x * 2.0


def sorted_first(x):
    return jnp.sort(x)[0]


def halving(x):
    return jax.lax.while_loop(lambda c: c[0] > 1.0, lambda c: (c[0] / 2.0, c[1] + c[0]), (x, 0.0))[1]


def mismatched(W, x):
    return jnp.sum(W @ x)


def classifier(params, x, y):
    logp = jax.nn.log_softmax(x @ params["W"] + params["b"])
    return -jnp.mean(logp[jnp.arange(x.shape[0]), y])
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
    (["models.py:nope", "--at", "x=1"], "models.py has no function 'nope' (functions: circuit, doubled, sorted_first, "
                                        "halving, mismatched, classifier)"),
    (["missing.py:circuit", "--at", "x=1"], "no file"),
    (["models.py:doubled", "--at", "x=[1,2]"], "doubled must return one scalar (a loss)"),
    (["models.py:circuit", "--at", "x=1,y=2"], "the example does not match circuit('x', 'y', 'z'): missing z"),
    (["models.py:sorted_first", "--at", "x=[3,1]"], "cannot derive the operation 'sort', made at models.py:15"),
    (["models.py:halving", "--at", "x=5"], "its number of steps depends on the data"),
    (["models.py:mismatched", "--at", "W=[[1,2]],x=[1,2,3]"], "mismatched fails at the example (at models.py:23): TypeError"),
    (["models.py:classifier", "--at", "params={'W': [[1.0, 2.0]], 'b': [0, 1]},x=[[1.0]],y=int([1])",
      "--wrt", "params.V"], "--wrt names params.V, not inputs of classifier (inputs: params.W, params.b, x, y)"),
    (["models.py:circuit", "--at", "x=int(1.5e0j),y=2,z=3"], "x=int(1.5e0j): not a number"),
    (["models.py:circuit", "--at", "x=1,y=2,z=oops"], "z=oops: not a number"),
])
def test_what_derive_cannot_do_is_one_line_and_exit_2(project, capsys, args, message):
    assert derive(project, *args, "--name", "12_x") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (project / "derivations" / "12_x.py").exists()


def test_at_takes_a_pytree_and_integer_labels(project, ledger, capsys, monkeypatch):
    assert derive(project, "models.py:classifier", "--name", "13_classifier", "--wrt", "params",
                  "--at", "params={'W': [[0.5, -1.0, 0.25], [1.5, 0.5, -0.5]], 'b': [0.1, 0, -0.2]}",
                  "--at", "x=[[1, 2], [0.5, -1], [-2, 0.3]], y=int([0, 2, 1])") == 0
    source = (project / "derivations" / "13_classifier.py").read_text()
    assert "params={'W': jnp.array([[0.5, -1.0, 0.25], [1.5, 0.5, -0.5]]), 'b': jnp.array([0.1, 0.0, -0.2])}" in source
    assert "y=jnp.array([0, 2, 1])" in source and "wrt=['params']" in source
    monkeypatch.setenv("MPLBACKEND", "Agg")
    exec(compile(source, "13_classifier.py", "exec"), {"__name__": "__main__"})
    assert ledger.entry("derived.classifier")["status"] == "verified"


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
