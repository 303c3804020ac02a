"""Run one notebook in a fresh kernel, in a process of its own (``python -m nbhygiene.extract.runner``).

The verifier starts one runner per notebook run, so that:

* a kernel client that hangs (jupyter_client can block forever in a zmq send when the shell channel
  never connects, e.g. when ports collide on a busy machine) can be killed with its process;
* extraction works from inside a running event loop (a Jupyter server), since nbclient's own event
  loop lives here;
* the kernel dies with the runner: ipykernel polls ``JPY_PARENT_PID`` and exits when it is orphaned.

Exit codes: 0 the notebook ran (cells may have raised: errors are outputs); ``STARTUP_FAILED`` the
kernel never became ready within ``STARTUP_LIMIT`` seconds (the verifier starts it again once); 1 any
other failure (the message is on stderr).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

STARTUP_FAILED = 75
STARTUP_LIMIT = 120.0


def main(argv: list[str]) -> int:
    source, target, cwd, timeout, kernel_name, pid_file = argv
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(source, as_version=4)
    watchdog = threading.Timer(STARTUP_LIMIT, lambda: os._exit(STARTUP_FAILED))
    watchdog.daemon = True
    client: Any = None

    def started(**_: Any) -> None:
        watchdog.cancel()
        process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
        if process is not None:
            with open(pid_file, "w", encoding="utf-8") as handle:
                handle.write(str(process.pid))

    client = NotebookClient(
        notebook,
        timeout=max(1, int(float(timeout))),
        startup_timeout=int(STARTUP_LIMIT),
        kernel_name=kernel_name,
        allow_errors=True,
        resources={"metadata": {"path": cwd}},
        shutdown_kernel="immediate",
        record_timing=False,
        on_notebook_start=started,
    )
    watchdog.start()
    # the kernel's own log (not cell output) would only add noise
    client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nbformat.write(notebook, target)
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through the verifier
    sys.exit(main(sys.argv[1:]))
