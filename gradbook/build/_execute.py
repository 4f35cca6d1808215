"""Run one notebook in a real IPython kernel, over IPC, and say exactly what went wrong."""
from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

# Fixed for every kernel, so that outputs do not depend on the machine or the shell.
KERNEL_ENV = {
    "JAX_PLATFORMS": "cpu",
    "PYTHONHASHSEED": "0",
    "JUPYTER_PLATFORM_DIRS": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}


@dataclass(frozen=True)
class Failure:
    """Why a notebook did not complete: which cell (by index), and the reason in one line.

    The claim that failed, if any, is in the notebook's own structured output (LEDGER_MIME).
    """

    cell: int | None
    reason: str
    line: int | None = None  # the line of the cell that raised (its innermost frame in the cell)


class _GradbookKernel(KernelSpecManager):
    """Every kernel is gradbook's own (see _kernel.py), run by the Python running the build."""

    def get_kernel_spec(self, kernel_name):
        return KernelSpec(argv=[sys.executable, "-m", "gradbook.build._kernel", "-f", "{connection_file}"],
                          display_name="Python 3", language="python", name="python3")


class _Client(NotebookClient):
    """nbclient without its own SIGINT handling: the build owns Ctrl-C and stops every kernel."""

    @asynccontextmanager
    async def async_setup_kernel(self, **kwargs):
        try:
            if not self.km.has_kernel:
                await self.async_start_new_kernel(**kwargs)
            if self.kc is None:
                await self.async_start_new_kernel_client()
            yield
        finally:
            if self.km is not None:
                await self._async_cleanup_kernel()


async def execute_notebook(nb, cwd: Path, timeout: float, env: dict | None = None) -> Failure | None:
    """Execute `nb` in place within `timeout` seconds in all; return None or the Failure.

    `env` adds to the kernel's environment (the build's JAX compilation cache, say).
    """
    runtime = Path(tempfile.mkdtemp(prefix="gradbook-kernel-"))
    km = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_GradbookKernel(),
                            transport="ipc", ip=str(runtime / "ipc"),
                            connection_file=str(runtime / "kernel.json"))
    state = {"cell": None, "deadline": time.monotonic() + timeout}

    def on_cell_start(cell, cell_index):
        state["cell"] = cell_index

    client = _Client(nb, km=km, timeout_func=lambda cell: max(1, int(state["deadline"] - time.monotonic())),
                     record_timing=False, allow_errors=False, shutdown_kernel="immediate",
                     on_cell_start=on_cell_start, resources={"metadata": {"path": str(cwd)}})
    try:
        await client.async_execute(env={**os.environ, **KERNEL_ENV, **(env or {})})
        return None
    except CellExecutionError as error:
        reason = f"{error.ename}: {error.evalue}" if error.ename else str(error)
        return Failure(state["cell"], reason, raising_line(str(error)))
    except CellTimeoutError:
        return Failure(state["cell"], f"timed out: the notebook did not finish within {timeout:g} s")
    except DeadKernelError:
        return Failure(state["cell"], "the kernel died while running this cell")
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")


def raising_line(traceback: str) -> int | None:
    """The line of the cell in the last frame of a kernel's traceback that is the cell's own:
    the user's call, even when what raised is deeper, inside gradbook or a library."""
    frames = _CELL_FRAME.findall(_ANSI.sub("", traceback))
    return int(frames[-1]) if frames else None
