"""Each limit of the sandbox contains a submission that hits it, and costs only that exercise."""
from __future__ import annotations

import os
import socket

import pytest

from gradbook.exercises._sandbox import Limits, Plan, namespaces_work

from test_grade_attacks import graded, submission, table

needs_namespaces = pytest.mark.skipif(not namespaces_work(),
                                      reason="Linux namespaces need root and unshare")

MEMORY = "block = bytearray(64 * 2**30)\nanswer = '0'"
FORKS = """\
import subprocess, sys
bomb = "import os, time\\nwhile True:\\n    if os.fork() == 0:\\n        time.sleep(2)\\n        os._exit(0)"
run = subprocess.run([sys.executable, "-c", bomb], capture_output=True, text=True, timeout=15)
raise RuntimeError(run.stderr.strip().splitlines()[-1])
"""
CONNECT = "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)\nanswer = '0'"
READ = "answer = open({path!r}).read()"
PRINT = "while True:\n    print('x' * 1_000_000)"


@needs_namespaces
def test_memory_forks_network_and_the_teachers_files_are_out_of_reach(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("(y_pred - y)/N", encoding="utf-8")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    path = submission(tmp_path, "09_two_layer_network", {
        "jin.chain.delta": MEMORY, "jin.grads.w2": FORKS,
        "jin.grads.b": CONNECT.format(port=listener.getsockname()[1]),
        "jin.grads.w1": READ.format(path=str(secret))}, setup=False)
    report = graded(tmp_path, path)
    with pytest.raises(socket.timeout):
        listener.accept()  # nothing reached the teacher's loopback
    listener.close()
    why = {r["id"]: r["feedback"] for r in report["exercises"]}
    assert table(report) == {i: (False, "answer cell failed") for i in why}, report
    assert "MemoryError" in why["jin.chain.delta"]
    assert "BlockingIOError: [Errno 11] Resource temporarily unavailable" in why["jin.grads.w2"]
    assert "Network is unreachable" in why["jin.grads.b"]
    assert "FileNotFoundError" in why["jin.grads.w1"]
    sandbox = " ".join(report["sandbox"])
    assert "no network" in sandbox and "hidden" in sandbox and "not in force" not in sandbox


@needs_namespaces
def test_a_gigabyte_of_output_is_cut_and_the_next_exercise_still_graded(tmp_path):
    path = submission(tmp_path, "06_relu", {
        "kang.8.relu_jacobian": PRINT,
        "jin.relu_mask": "answer = '(((a > 0) * G) @ w1.T, x.T @ ((a > 0) * G))'"}, setup=False)
    report = graded(tmp_path, path, "--timeout", "60")
    assert table(report) == {"kang.8.relu_jacobian": (False, "answer cell failed"),
                             "jin.relu_mask": (True, None)}, report
    assert any("output past the limit of 2048 KiB" in n for n in report["notes"])
    text = (tmp_path / "out" / "06_relu.grade.json").stat().st_size
    assert text < 100_000


def test_the_plan_says_what_is_not_in_force_without_namespaces():
    limits_only = Plan("limits", Limits()).protections()
    assert any(p.startswith("not in force: network isolation") for p in limits_only)
    assert any("not in force: any sandbox" in p for p in Plan("off").protections())


def test_with_limits_only_a_submission_is_graded_and_the_report_says_what_is_missing(tmp_path):
    path = submission(tmp_path, "03_sigmoid", {
        "kang.5.sigmoid": "answer = 'sigma(s)*(1 - sigma(s))'",
        "jin.dsigmoid": "block = bytearray(64 * 2**30)"}, setup=False)
    report = graded(tmp_path, path, "--sandbox", "limits")
    assert table(report) == {"kang.5.sigmoid": (True, None),
                             "jin.dsigmoid": (False, "answer cell failed")}, report
    assert "MemoryError" in report["exercises"][1]["feedback"]
    assert any(p.startswith("not in force: network isolation") for p in report["sandbox"])
