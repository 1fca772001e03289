"""Real IPython kernels for the notebook tests: started through `jupyter_client` with
this interpreter (a kernelspec written to a temporary `JUPYTER_PATH`), cells run as a
notebook runs them, their output collected message by message."""

import json
import os
import sys
import tempfile
import textwrap

KERNEL_NAME = "brinery-test"
TIMEOUT = 180


def _kernelspec_dir():
    root = tempfile.mkdtemp(prefix="brinery-kernels-")
    spec = os.path.join(root, "kernels", KERNEL_NAME)
    os.makedirs(spec)
    with open(os.path.join(spec, "kernel.json"), "w") as f:
        json.dump({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                   "display_name": "brinery tests", "language": "python"}, f)
    return root


class CellError(AssertionError):
    """A cell raised; the message is the kernel's traceback."""


class Kernel:
    """One running kernel. ``run(code)`` executes a cell and returns its stdout;
    ``messages`` keeps the last cell's iopub messages."""

    def __init__(self, cwd):
        from jupyter_client import KernelManager

        os.environ["JUPYTER_PATH"] = _kernelspec_dir()
        self.manager = KernelManager(kernel_name=KERNEL_NAME)
        self.manager.start_kernel(cwd=str(cwd), env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=TIMEOUT)
        self.messages = []

    def run(self, code):
        self.messages = []
        reply = self.client.execute_interactive(
            textwrap.dedent(code), output_hook=self.messages.append, timeout=TIMEOUT, allow_stdin=False
        )
        if reply["content"]["status"] != "ok":
            tb = "\n".join(reply["content"].get("traceback", []))
            raise CellError(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}\n{tb}")
        return self.stream("stdout")

    def stream(self, name):
        return "".join(m["content"]["text"] for m in self.messages
                       if m["msg_type"] == "stream" and m["content"]["name"] == name)

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
