"""Run a graded notebook in a student's kernel started inside the sandbox, with its output capped.

Like build/_execute.py (IPC, no network port, one deadline for the notebook), but the kernel
is started through the sandbox's plan, interrupted by a message rather than a signal (it may
sit in namespaces of its own), each cell has a wall-clock guard of the grader's own (the
kernel's timers are the student's to defeat), and what it prints or displays is counted: past
the plan's output limit the rest is dropped, the running cell is interrupted, and a note says so.
"""
from __future__ import annotations

import asyncio
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from ..build._execute import Failure, _Client
from ._sandbox import Plan
from .kernel.runner import ANSWER_MIME

SETUP_TIMEOUT = 120  # seconds for the runner's own setup cell (it imports NumPy, SymPy, JAX)
MAX_RECORD = 256_000  # bytes of one answer record: it is kept even past the output limit


class _SandboxedKernel(KernelSpecManager):
    """gradbook's own kernel (no TCP relay), started by the sandbox's command."""

    argv: list = []

    def get_kernel_spec(self, kernel_name):
        return KernelSpec(argv=self.argv, display_name="Python 3", language="python",
                          name="python3", interrupt_mode="message")


class _CappedClient(_Client):
    """The build's nbclient (no SIGINT handling of its own), keeping at most `cap` bytes of output."""

    def __init__(self, *args, cap: int, notes: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.cap, self.used, self.notes, self.capped = cap, 0, notes, False
        self.log_file = None

    async def async_start_new_kernel(self, **kwargs):
        """The kernel's own stdout and stderr go to a file, not to the teacher's terminal."""
        kwargs.update(stdout=self.log_file, stderr=self.log_file)
        return await super().async_start_new_kernel(**kwargs)

    def process_message(self, msg, cell, cell_index):
        kind = msg["msg_type"]
        if kind.startswith("comm") or kind == "update_display_data":
            return None  # no widgets, and no rewriting of an earlier output
        if kind in ("stream", "display_data", "execute_result", "error"):
            size = _size(msg["content"])
            record = ANSWER_MIME in msg["content"].get("data", {}) and size <= MAX_RECORD
            self.used += size
            if self.used > self.cap and not record:
                if not self.capped:
                    self.capped = True
                    self.notes.append(f"output past the limit of {self.cap // 1024} KiB was "
                                      f"dropped (cell {cell_index}), and the cell interrupted")
                    asyncio.ensure_future(self.km.interrupt_kernel())
                return None
        return super().process_message(msg, cell, cell_index)


def _size(content) -> int:
    if "text" in content:
        return len(content["text"])
    data = content.get("data", {})
    size = sum(len(v) if isinstance(v, str) else len(repr(v)) for v in data.values())
    return size + sum(len(t) for t in content.get("traceback", []))


def _tail(path: Path) -> list[str]:
    try:
        return path.read_bytes()[-4000:].decode("utf-8", "replace").splitlines()
    except OSError:
        return []


async def run_sandboxed(nb, plan: Plan, timeout: float, notes: list,
                        cell_guard: float | None = None) -> Failure | None:
    """Execute `nb` in place in a sandboxed kernel within `timeout` seconds, and each cell after
    the setup within `cell_guard` seconds; None or the Failure."""
    scratch = Path(tempfile.mkdtemp(prefix="gradbook-grade-"))
    runtime, work = scratch / "runtime", scratch / "work"
    runtime.mkdir()
    work.mkdir()
    scratch.chmod(0o711)  # a student's user id may pass through, to its work and runtime folders
    kernel = [sys.executable, "-m", "gradbook.build._kernel", "-f", "{connection_file}"]
    specs = _SandboxedKernel()
    specs.argv = plan.command(kernel, work, runtime, scratch)
    km = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs, transport="ipc",
                            ip=str(runtime / "ipc"), connection_file=str(runtime / "kernel.json"))
    state = {"cell": None, "deadline": None, "guarded": False}

    def on_cell_start(cell, cell_index):  # the clock starts after the setup cell (cell 0)
        state["cell"] = cell_index
        if state["deadline"] is None and cell_index > 0:
            state["deadline"] = time.monotonic() + timeout

    def timeout_for(cell):
        """The notebook's time left, or the cell's guard where that comes first."""
        if state["deadline"] is None:
            return SETUP_TIMEOUT
        left = state["deadline"] - time.monotonic()
        state["guarded"] = cell_guard is not None and cell_guard < left
        return max(1, math.ceil(cell_guard) if state["guarded"] else int(left))

    client = _CappedClient(nb, km=km, cap=plan.limits.output_kb * 1024, notes=notes,
                           timeout_func=timeout_for,
                           record_timing=False, allow_errors=False, shutdown_kernel="immediate",
                           on_cell_start=on_cell_start, startup_timeout=120,
                           resources={"metadata": {"path": str(work)}})
    log = scratch / "kernel.log"
    from ..build._execute import KERNEL_ENV
    from ._sandbox import sandbox_env

    try:
        env = sandbox_env(work) if plan.mode != "off" else {**os.environ, **KERNEL_ENV}
        with open(log, "wb") as client.log_file:
            await client.async_execute(env=env)
        return None
    except CellExecutionError as error:
        reason = f"{error.ename}: {error.evalue}" if error.ename else str(error)
        return Failure(state["cell"], reason)
    except CellTimeoutError:
        if state["guarded"]:
            return Failure(state["cell"], "timed out: the cell did not finish within the "
                           f"grader's wall-clock guard of {math.ceil(cell_guard)} s a cell (the "
                           "kernel's own time limits did not stop it)")
        return Failure(state["cell"], f"timed out: the notebook did not finish within {timeout:g} s")
    except DeadKernelError:
        return Failure(state["cell"], "the kernel died while running this cell (a limit of the "
                                      "sandbox, or the student's code ended it)")
    except RuntimeError as error:  # the kernel did not start: a sandbox that could not be set up
        said = [ln for ln in _tail(log) if ln.startswith("gradbook sandbox:")]
        return Failure(None, f"the kernel did not start: {said[-1] if said else error}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
