"""The sandbox a student's code runs in, planned by the grader and put in place by kernel/jail.py.

Namespaces where the platform allows them (root and `unshare`: no network, not even loopback;
the teacher's folders hidden behind empty ones; a private size-limited working folder; a user
id and process namespace of its own), resource limits everywhere (memory, CPU time, processes,
file size, open files). A plan says in words which protections are in force and which are not.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

JAIL = Path(__file__).parent / "kernel" / "jail.py"
HIDDEN = ("/root", "/home", "/work", "/tmp", "/var/tmp", "/dev/shm", "/mnt", "/srv", "/opt",
          "/media", "/run/user")
UNSHARE = ("--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc")
MODES = ("auto", "namespaces", "limits", "off")
_serial = itertools.count()


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed process (and everything it starts)."""

    memory_mb: int = 4096         # address space: JAX's CPU client needs about 1.5 GiB of it
    cpu_s: int = 120              # CPU seconds for the whole notebook
    processes: int = 256          # processes and threads of the student's user id
    file_mb: int = 16             # the largest file it may write
    folder_mb: int = 64           # its working folder (a tmpfs) and its /tmp
    output_kb: int = 2048         # what the notebook may print or display in all
    open_files: int = 512

    def rlimits(self, nproc: bool) -> dict:
        out = {"as": self.memory_mb << 20, "cpu": self.cpu_s, "fsize": self.file_mb << 20,
               "nofile": self.open_files, "core": 0}
        if nproc:
            out["nproc"] = self.processes
        return out


@dataclass(frozen=True)
class Plan:
    """How a student's process is started, and what that protects."""

    mode: str                                  # "namespaces", "limits" or "off"
    limits: Limits = field(default_factory=Limits)

    def protections(self) -> list[str]:
        """In force, then not in force, in words for the score table."""
        lim = self.limits
        if self.mode == "off":
            return ["not in force: any sandbox (--sandbox off): the student's code runs with "
                    "the grader's rights, network and files", f"output {lim.output_kb} KiB"]
        own_user = self.own_user()
        out = [f"memory {lim.memory_mb} MiB (address space)",
               f"CPU time {lim.cpu_s} s for the notebook",
               f"files written at most {lim.file_mb} MiB each",
               f"output {lim.output_kb} KiB for the notebook"]
        if own_user:
            out.append(f"{lim.processes} processes and threads (a user id of its own)")
        if self.mode == "namespaces":
            out += ["no network, not even loopback (a network namespace of its own)",
                    "the teacher's files hidden (" + ", ".join(HIDDEN[:5]) + ", ... empty; "
                    "Python and gradbook read-only)",
                    f"a private working folder ({lim.folder_mb} MiB)",
                    "a process namespace of its own (everything it starts ends with it)"]
        else:
            missing = ["network isolation", "hidden teacher's files", "a private folder"]
            if not own_user:
                missing.append("a process limit and a user id of its own (needs root, and "
                               "Python installed where any user may read it)")
            out.append("not in force: " + ", ".join(missing) +
                       " (no Linux namespaces here: needs root and unshare)")
        return out

    def command(self, command: list[str], work: Path, runtime: Path, config_dir: Path) -> list[str]:
        """`command` wrapped so that it starts inside this sandbox."""
        if self.mode == "off":
            return command
        own_user = self.own_user()
        uid = 1_000_000 + os.getpid() * 16 + next(_serial) % 16 if own_user else None
        config = {"namespaces": self.mode == "namespaces", "keep": kept_paths(),
                  "hide": list(HIDDEN), "runtime": str(runtime), "work": str(work), "uid": uid,
                  "tmpfs_size": f"{self.limits.folder_mb}m", "env": sandbox_env(work),
                  "limits": self.limits.rlimits(nproc=own_user)}
        path = config_dir / f"jail-{next(_serial)}.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        path.chmod(0o600)
        jail = [sys.executable, "-I", str(JAIL), str(path), "--", *command]
        if self.mode == "namespaces":
            return [shutil.which("unshare") or "unshare", *UNSHARE, *jail]
        return jail


    def own_user(self) -> bool:
        """Can the student's process run under a user id of its own? Root is needed, and without
        namespaces every folder Python and gradbook live in must be readable by any user."""
        if os.geteuid() != 0:
            return False
        return self.mode == "namespaces" or all(_readable_by_all(p) for p in kept_paths())


def _readable_by_all(path: str) -> bool:
    """Every folder from / down to `path` may be entered by any user, and `path` read."""
    current = Path(path).resolve()
    for folder in [current, *current.parents]:
        try:
            mode = folder.stat().st_mode
        except OSError:
            return False
        if not mode & 0o001 or (folder == current and not mode & 0o004):
            return False
    return True


def plan(mode: str = "auto", limits: Limits | None = None) -> Plan:
    """The strongest sandbox this machine allows (auto), or the one asked for."""
    limits = limits or Limits()
    if mode == "auto":
        mode = "namespaces" if namespaces_work() else "limits"
    elif mode == "namespaces" and not namespaces_work():
        raise OSError("--sandbox namespaces: Linux namespaces are not available here (they need "
                      "root and unshare); use --sandbox limits")
    return Plan(mode, limits)


@lru_cache(maxsize=1)
def namespaces_work() -> bool:
    """Can this process start a command in new network, mount and process namespaces?"""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    try:
        return subprocess.run([shutil.which("unshare"), *UNSHARE, "true"], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def kept_paths() -> list[str]:
    """What a sandboxed Python needs to read: the interpreter, its libraries, gradbook."""
    import gradbook

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(gradbook.__file__).parent)}
    paths |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages")) or
              p.startswith(sys.base_prefix)}
    return sorted(p for p in paths if p and os.path.isdir(p))


def sandbox_env(work: Path) -> dict:
    """A clean environment: none of the teacher's variables (tokens, paths) are passed on."""
    from ..build._execute import KERNEL_ENV

    import gradbook

    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    package = Path(gradbook.__file__).resolve().parent  # this gradbook, wherever it was found
    return {"PATH": path, "HOME": str(work), "LANG": "C.UTF-8", "TMPDIR": str(work),
            "MPLCONFIGDIR": str(work), "PYTHONPATH": str(package.parent), **KERNEL_ENV}
