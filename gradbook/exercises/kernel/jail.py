"""Start a command (the student's kernel, or the callee) inside the sandbox the grader planned.

Run as `python -I jail.py CONFIG_JSON -- COMMAND...`. With namespaces (under `unshare --net
--mount --pid --fork --kill-child --mount-proc`, as root) it hides the folders that hold the
teacher's files behind empty tmpfs mounts, brings back read-only only what Python and gradbook
need, gives the student a private, size-limited working folder, and drops to a user id of its
own. Everywhere it sets the resource limits, clears the environment, and then execs COMMAND.
It imports nothing of gradbook, and stops (exit 70) rather than run the command half-protected.
"""
import ctypes
import json
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = \
    1, 2, 4, 32, 4096, 16384, 1 << 18
LIMITS = {"as": resource.RLIMIT_AS, "cpu": resource.RLIMIT_CPU, "nproc": resource.RLIMIT_NPROC,
          "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE,
          "core": resource.RLIMIT_CORE}


class JailError(Exception):
    """A protection the plan asks for could not be put in place."""


def _mount(libc, source, target, fstype, flags, data=None):
    enc = (lambda s: s.encode() if isinstance(s, str) else s)
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        errno = ctypes.get_errno()
        raise JailError(f"mount {target}: {os.strerror(errno)}")


def hide_and_keep(config):
    """Empty tmpfs over each hidden folder; the kept paths bound back read-only."""
    libc = ctypes.CDLL(None, use_errno=True)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    keep = sorted({os.path.realpath(p) for p in config["keep"] if os.path.exists(p)}, key=len)
    opened = {path: os.open(path, os.O_PATH) for path in keep + [config["runtime"]]}
    for folder in config["hide"]:
        if os.path.isdir(folder) and not os.path.islink(folder):
            mode = "1777" if folder in ("/tmp", "/var/tmp", "/dev/shm") else "755"
            _mount(libc, "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV,
                   f"size={config['tmpfs_size']},mode={mode}")
    for path in keep:
        os.makedirs(path, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{opened[path]}", path, None, MS_BIND | MS_REC)
        _mount(libc, None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)
    runtime = config["runtime"]
    os.makedirs(runtime, exist_ok=True)
    _mount(libc, f"/proc/self/fd/{opened[runtime]}", runtime, None, MS_BIND)
    for fd in opened.values():
        os.close(fd)


def own(config):
    """The runtime folder (the kernel's connection file and sockets) and the work folder: the student's uid."""
    uid = config["uid"]
    for root, dirs, files in os.walk(config["runtime"]):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid)
    os.chown(config["runtime"], uid, uid)
    os.makedirs(config["work"], exist_ok=True)
    os.chown(config["work"], uid, uid)
    os.chmod(config["work"], 0o700)


def limit(config):
    for name, value in config["limits"].items():
        resource.setrlimit(LIMITS[name], (value, value))


def main(argv):
    with open(argv[1], encoding="utf-8") as file:
        config = json.load(file)
    command = argv[argv.index("--") + 1:]
    try:
        if config.get("namespaces"):
            hide_and_keep(config)
        if config.get("uid") is not None:
            own(config)
        os.makedirs(config["work"], exist_ok=True)
        limit(config)
        if config.get("uid") is not None:
            os.setgroups([])
            os.setgid(config["uid"])
            os.setuid(config["uid"])
            if os.getuid() == 0 or os.geteuid() == 0:
                raise JailError("still root after setuid")
        os.chdir(config["work"])
    except (OSError, JailError, ValueError) as error:
        print(f"gradbook sandbox: {error}", file=sys.stderr)
        return 70
    os.execve(command[0], command, config["env"])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
