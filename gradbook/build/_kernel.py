"""The IPython kernel the build runs notebooks in: stock ipykernel, minus its one TCP socket.

ipykernel binds a loopback TCP port to relay output from forked subprocesses (IOPubThread's
"pipe"). gradbook's kernels talk to the build over IPC only, and derivations do not fork, so
the relay is switched off and the kernel opens no network port at all.
"""
from ipykernel import kernelapp
from ipykernel.iostream import IOPubThread


class IOPubWithoutPipe(IOPubThread):
    """IOPubThread that never binds the TCP relay for forked subprocesses."""

    def __init__(self, socket, pipe=False, session=False):
        super().__init__(socket, pipe=False, session=session)


if __name__ == "__main__":
    kernelapp.IOPubThread = IOPubWithoutPipe
    kernelapp.IPKernelApp.launch_instance()
