"""The build: real kernels, valid notebooks, byte-identical rebuilds, and clear failures."""
import json
import subprocess
import sys
import textwrap

import nbformat
import pytest

from gradbook.cli import main

GOOD = '''\
# %% [markdown]
# # A small proof

# %%
import sympy as sp
from gradbook import prove_equal, summary, verifies
verifies("kang.3.chain")

# %% [markdown]
# The chain rule for two arbitrary functions.

# %%
x = sp.symbols("x")
f, g = sp.Function("f"), sp.Function("g")
prove_equal("kang.3.chain", sp.Derivative(f(g(x)), x),
            sp.Subs(sp.Derivative(f(x), x), x, g(x)) * sp.Derivative(g(x), x))

# %%
summary()
'''

FALSE_CLAIM = '''\
# %%
import sympy as sp
from gradbook import prove_equal, summary, verifies
verifies("kang.2.local")

# %%
q, z = sp.symbols("q z")
prove_equal("kang.2.local", sp.Derivative(q * z, q), q)
'''


def project(tmp_path, **sources):
    """A scratch project: derivations/NAME.py for each source given."""
    (tmp_path / "derivations").mkdir()
    for name, text in sources.items():
        (tmp_path / "derivations" / f"{name}.py").write_text(textwrap.dedent(text))
    return tmp_path


def build(root, *flags):
    return main(["--derivations", str(root / "derivations"), "--notebooks", str(root / "notebooks"),
                 "--jobs", "2", *flags], root=root)


def test_build_executes_in_a_real_kernel_and_writes_a_valid_notebook(tmp_path):
    root = project(tmp_path, good=GOOD)
    assert build(root) == 0
    nb = nbformat.read(root / "notebooks" / "good.ipynb", as_version=4)
    nbformat.validate(nb)
    proof = nb.cells[3]
    assert proof.execution_count == 2 and "✓ `kang.3.chain` · sym" in proof.outputs[0]["data"]["text/markdown"]
    ledger = json.loads((root / "notebooks" / "ledger.json").read_text())
    assert [(c["id"], c["status"]) for c in ledger["claims"]] == [("kang.3.chain", "verified")]


def test_second_build_is_byte_identical(tmp_path):
    root = project(tmp_path, good=GOOD)
    assert build(root) == 0
    first = {p.name: p.read_bytes() for p in (root / "notebooks").iterdir()}
    assert build(root, "--force") == 0
    assert {p.name: p.read_bytes() for p in (root / "notebooks").iterdir()} == first


def test_false_claim_fails_the_build_and_the_other_notebooks_are_still_written(tmp_path, capsys):
    root = project(tmp_path, bad=FALSE_CLAIM, good=GOOD)
    assert build(root) == 1
    assert (root / "notebooks" / "good.ipynb").exists()
    assert not (root / "notebooks" / "bad.ipynb").exists()
    err = capsys.readouterr().err
    assert "derivations/bad.py, line 8 (cell 1): `prove_equal(\"kang.2.local\", sp.Derivative(q * z, q), q)`" in err
    assert "claim kang.2.local [sym] failed: step 1 does not follow" in err
    ledger = json.loads((root / "notebooks" / "ledger.json").read_text())
    assert {c["id"]: c["status"] for c in ledger["claims"]} == {"kang.2.local": "failed",
                                                                "kang.3.chain": "verified"}


def test_an_undeclared_failed_claim_reaches_the_ledger_as_structured_output(tmp_path):
    undeclared = FALSE_CLAIM.replace('verifies("kang.2.local")', 'verifies("kang.3.chain")')
    root = project(tmp_path, bad=undeclared)
    assert build(root) == 1
    ledger = json.loads((root / "notebooks" / "ledger.json").read_text())
    assert {c["id"]: c["status"] for c in ledger["claims"]} == {"kang.2.local": "failed",
                                                                "kang.3.chain": "failed"}


def test_syntax_error_names_the_file_and_line(tmp_path, capsys):
    root = project(tmp_path, broken="# %%\nx = 1\n\n# %%\ny = (2\n")
    assert build(root) == 1
    assert "derivations/broken.py, line 5: SyntaxError" in capsys.readouterr().err


def test_exception_in_a_cell_names_the_cell_and_the_reason(tmp_path, capsys):
    root = project(tmp_path, oops="# %%\nx = 1\n\n# %%\nvalue = {}['missing']\n")
    assert build(root) == 1
    err = capsys.readouterr().err
    assert "derivations/oops.py, line 5 (cell 1): `value = {}['missing']`" in err
    assert "KeyError: 'missing'" in err


def test_a_failure_names_the_line_of_the_derivation_that_raised_not_the_cells_first(tmp_path, capsys):
    body = "".join(f"v{i} = {i}\n" for i in range(15))
    root = project(tmp_path, deep="# %%\nfrom gradbook import check_that\n" + body
                   + "check_that('kang.3.chain', 'jax', v3 > 1, 'fine')\n"
                   + "check_that('kang.3.chain', 'jax', v1 > 1, 'v1 is not above 1')\n")
    assert build(root) == 1
    err = capsys.readouterr().err  # the call in the derivation, not a line inside gradbook
    assert "derivations/deep.py, line 19 (cell 0): `check_that('kang.3.chain', 'jax', v1 > 1, " in err


def test_a_derivation_imports_the_projects_own_module(tmp_path):
    root = project(tmp_path, mine="# %%\nfrom my_models import loss\nprint(loss(2.0))\n")
    (root / "my_models.py").write_text("def loss(w):\n    return w * w\n")
    assert build(root) == 0
    nb = nbformat.read(root / "notebooks" / "mine.ipynb", as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "4.0\n"


def test_a_cell_that_never_finishes_times_out(tmp_path, capsys):
    root = project(tmp_path, slow="# %%\nimport time\n\n# %%\ntime.sleep(600)\n")
    assert build(root, "--timeout", "3") == 1
    err = capsys.readouterr().err
    assert "line 5 (cell 1): `time.sleep(600)`" in err and "timed out" in err


def test_a_kernel_that_dies_is_reported(tmp_path, capsys):
    root = project(tmp_path, dies="# %%\nimport os\n\n# %%\nos._exit(1)\n")
    assert build(root) == 1
    err = capsys.readouterr().err
    assert "line 5 (cell 1): `os._exit(1)`" in err and "kernel died" in err


def test_a_failed_rebuild_leaves_the_previous_notebook_intact(tmp_path):
    root = project(tmp_path, good=GOOD)
    assert build(root) == 0
    before = (root / "notebooks" / "good.ipynb").read_bytes()
    (root / "derivations" / "good.py").write_text(GOOD.replace("summary()", "1 / 0"))
    assert build(root) == 1
    assert (root / "notebooks" / "good.ipynb").read_bytes() == before
    assert sorted(p.name for p in (root / "notebooks").iterdir()) == ["good.ipynb", "ledger.json"]


def test_unchanged_sources_are_not_executed_again(tmp_path, capsys):
    root = project(tmp_path, good=GOOD)
    assert build(root) == 0
    capsys.readouterr()
    assert build(root) == 0
    assert "up to date" in capsys.readouterr().out
    source = root / "derivations" / "good.py"
    source.write_text(source.read_text().replace("A small proof", "A short proof"))
    assert build(root) == 0
    assert "outputs reused (prose changed)" in capsys.readouterr().out
    assert "A short proof" in (root / "notebooks" / "good.ipynb").read_text()


def test_kernels_talk_over_ipc_and_open_no_network_port(tmp_path):
    probe = ("# %%\nimport psutil\nfrom ipykernel.connect import get_connection_info\n"
             "print(get_connection_info(unpack=True)['transport'],"
             " len(psutil.Process().net_connections(kind='inet')))\n")
    root = project(tmp_path, probe=probe)
    assert build(root) == 0
    nb = nbformat.read(root / "notebooks" / "probe.ipynb", as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "ipc 0\n"


def test_check_names_a_committed_notebook_that_is_out_of_date(tmp_path, capsys):
    root = project(tmp_path, good=GOOD)
    assert build(root) == 0
    assert build(root, "--check") == 0
    source = root / "derivations" / "good.py"
    source.write_text(source.read_text().replace("A small proof", "A changed title"))
    assert build(root, "--check") == 1
    assert "good.ipynb: differs from what its source builds" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--only", "nonesuch"], "unknown derivation(s): nonesuch; available: good"),
])
def test_unknown_names_are_usage_errors(tmp_path, capsys, flags, message):
    root = project(tmp_path, good=GOOD)
    assert build(root, *flags) == 2
    assert message in capsys.readouterr().err


def test_missing_derivations_folder_is_a_usage_error(tmp_path, capsys):
    assert build(tmp_path) == 2
    assert "no derivations folder" in capsys.readouterr().err


def test_unwritable_notebooks_folder_is_a_usage_error(tmp_path, capsys):
    root = project(tmp_path, good=GOOD)
    (root / "blocker").write_text("a file where a folder should be")
    code = main(["--derivations", str(root / "derivations"),
                 "--notebooks", str(root / "blocker" / "notebooks")], root=root)
    assert code == 2
    assert "cannot create the notebooks folder" in capsys.readouterr().err


def test_ctrl_c_stops_every_kernel_and_keeps_the_previous_notebooks(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import psutil

    root = project(tmp_path, good=GOOD)
    assert build(root) == 0
    before = (root / "notebooks" / "good.ipynb").read_bytes()
    for name in ("slow_a", "slow_b"):
        (root / "derivations" / f"{name}.py").write_text("# %%\nimport time\ntime.sleep(600)\n")
    (root / "derivations" / "good.py").write_text(GOOD.replace("import sympy", "import time; time.sleep(600)\nimport sympy"))
    # SIGINT as a terminal's Ctrl-C finds it (handled, not blocked), whatever the test runner did
    start = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
             "from gradbook.cli import main; sys.exit(main(sys.argv[1:]))")
    command = [sys.executable, "-c", start,
               "--derivations", str(root / "derivations"), "--notebooks", str(root / "notebooks"), "--jobs", "3"]
    build_process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
    parent = psutil.Process(build_process.pid)
    deadline = time.monotonic() + 120
    while len(kernels := [p for p in parent.children(recursive=True) if "gradbook.build._kernel" in p.cmdline()]) < 3:
        assert time.monotonic() < deadline, "the kernels never started"
        time.sleep(0.2)
    time.sleep(1)  # let them reach the sleeping cell
    build_process.send_signal(signal.SIGINT)
    try:  # generous: under load (make test's two workers) kernels may still be starting up
        _, err = build_process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        build_process.kill()
        _, err = build_process.communicate()
        raise AssertionError(f"the build did not stop on SIGINT (the test process's SIGINT: "
                             f"{signal.getsignal(signal.SIGINT)}, blocked: "
                             f"{signal.pthread_sigmask(signal.SIG_BLOCK, set())}): {err[-500:]!r}")
    assert build_process.returncode == 130, err
    assert b"interrupted" in err
    gone, alive = psutil.wait_procs(kernels, timeout=10)
    assert not alive
    assert (root / "notebooks" / "good.ipynb").read_bytes() == before
    assert sorted(p.name for p in (root / "notebooks").iterdir()) == ["good.ipynb", "ledger.json"]


def test_a_reader_that_stops_early_does_not_break_the_build(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = project(tmp_path, a=GOOD, b=GOOD, c=GOOD)
    build_py = Path(__file__).resolve().parent.parent / "build.py"
    command = (f"{sys.executable} {build_py} --no-execute --derivations {root / 'derivations'} "
               f"--notebooks {root / 'notebooks'} | head -1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert len(list((root / "notebooks").glob("*.ipynb"))) == 3


def test_a_no_op_build_imports_neither_sympy_jax_nor_the_notebook_machinery(tmp_path):
    root = project(tmp_path, good=GOOD)
    assert build(root) == 0
    probe = ("import sys; from gradbook.cli import main; "
             f"code = main(['--derivations', {str(root / 'derivations')!r}, '--notebooks', "
             f"{str(root / 'notebooks')!r}, '-q'], root={str(root)!r}); "
             "print(code, sorted(m for m in ('sympy', 'jax', 'nbformat', 'jupytext', 'asyncio', 'nbclient') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr


def test_the_student_notebooks_are_not_remade_when_nothing_they_come_from_changed(tmp_path, monkeypatch):
    from gradbook import cli
    from gradbook.exercises import _cli

    root = project(tmp_path, good=GOOD)
    (root / "notebooks" / "exercises").mkdir(parents=True)
    made = []
    monkeypatch.setattr(_cli, "exercises_main", lambda argv, where: made.append(where) or 0)
    options = cli.Options(derivations=root / "derivations", notebooks=root / "notebooks")
    assert cli._write_exercises(options) == 0 and cli._write_exercises(options) == 0
    assert len(made) == 1
    (root / "derivations" / "good.py").write_text(GOOD + "\n# %%\nx = 1\n")
    assert cli._write_exercises(options) == 0 and len(made) == 2
