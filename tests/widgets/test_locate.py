"""Finding the current notebook: a real jupyter_server's sessions API answering for a kernel it started
(the JupyterLab / Notebook 7 path, end to end through that kernel), and the other sources of session
information (VS Code's variable, JPY_SESSION_NAME, the path argument, a clear failure)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nbhygiene.widgets.locate import (
    NotebookNotFound,
    find_notebook,
    kernel_id_from_connection_file,
    path_from_session_env,
    path_from_sessions,
)

from .conftest import SOURCE_ROOT, KernelSession, assert_no_error, bundles, stream_text

TOKEN = "nbhygiene-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_notebook(path: Path, source: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell(source))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


class Server:
    def __init__(self, url: str, root: Path, runtime: Path) -> None:
        self.url, self.root, self.runtime = url, root, runtime

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Authorization": f"token {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root, runtime, config = tmp_path / "root", tmp_path / "runtime", tmp_path / "config"
    for directory in (root, runtime, config):
        directory.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(config),
        "PYTHONPATH": os.pathsep.join(filter(None, [SOURCE_ROOT, os.environ.get("PYTHONPATH")])),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    env.pop("JPY_SESSION_NAME", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False",
            "--allow-root",
            # Only the sessions API is needed: JupyterLab and friends take seconds to load.
            "--ServerApp.jpserver_extensions="
            "{'jupyterlab': False, 'jupyter_lsp': False, 'jupyter_server_terminals': False, 'notebook_shim': False}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(runtime.glob("jpserver-*.json")):
            assert process.poll() is None, "jupyter_server exited"
            assert time.monotonic() < deadline, "jupyter_server did not start"
            time.sleep(0.1)
        yield Server(f"http://127.0.0.1:{port}/", root, runtime)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _execute(client: Any, code: str) -> list[dict[str, Any]]:
    """Run code in a kernel; the iopub messages it produced (until the kernel went idle)."""
    msg_id = client.execute(code)
    messages: list[dict[str, Any]] = []
    while True:
        message = client.get_iopub_msg(timeout=60)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return messages
        messages.append(message)


def test_jupyter_server_session_names_the_notebook_of_its_kernel(server: Server) -> None:
    from jupyter_client import BlockingKernelClient

    notebook = server.root / "project" / "analysis.ipynb"
    _write_notebook(notebook, "print(never_defined)")
    session = server.request(
        "POST",
        "api/sessions",
        {
            "path": "project/analysis.ipynb",
            "name": "analysis.ipynb",
            "type": "notebook",
            "kernel": {"name": "python3"},
        },
    )
    kernel_id = session["kernel"]["id"]
    assert path_from_sessions(kernel_id, [str(server.runtime)]) == str(notebook)

    # End to end: the kernel the server started finds its own notebook through the server.
    client = BlockingKernelClient(connection_file=str(server.runtime / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels(hb=False)  # a heartbeat that has not beaten yet reads as a dead kernel
    try:
        client.wait_for_ready(timeout=60)
        messages = _execute(client, "%load_ext nbhygiene\n%nbhygiene")
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert not errors, errors
        [data] = [m["content"]["data"] for m in messages if m["msg_type"] == "display_data"]
        assert "undefined-name" in data["text/plain"] and "analysis.ipynb" in data["text/plain"]
        assert "application/vnd.jupyter.widget-view+json" in data
        how = _execute(
            client, "print(__import__('nbhygiene.widgets.magics', fromlist=['x']).last_location().how)"
        )
        printed = "".join(m["content"].get("text", "") for m in how if m["msg_type"] == "stream")
        assert printed.strip() == "jupyter-server"  # the sessions API, not the start-time JPY_SESSION_NAME
    finally:
        client.stop_channels()
        server.request("DELETE", f"api/sessions/{session['id']}")


# -- the other sources ---------------------------------------------------------------------------------
def test_kernel_id_from_connection_file() -> None:
    assert kernel_id_from_connection_file("/run/jupyter/kernel-4f1c-9a.json") == "4f1c-9a"
    assert kernel_id_from_connection_file("/tmp/tmpiah2e21o.json") is None
    assert kernel_id_from_connection_file(None) is None


def test_vscode_variable_names_the_notebook(tmp_path: Path) -> None:
    notebook = tmp_path / "vs.ipynb"
    _write_notebook(notebook, "x = 1")
    located = find_notebook(user_ns={"__vsc_ipynb_file__": str(notebook)}, environ={}, runtime_dirs=[])
    assert (located.path, located.how) == (str(notebook), "vscode")


def test_session_env_absolute_or_relative(tmp_path: Path) -> None:
    notebook = tmp_path / "sub" / "nb.ipynb"
    _write_notebook(notebook, "x = 1")
    assert path_from_session_env(str(notebook), "/") == str(notebook)
    assert path_from_session_env("sub/nb.ipynb", str(tmp_path)) == str(notebook)
    assert path_from_session_env("other/sub/nb.ipynb", str(tmp_path / "sub")) == str(notebook)
    assert path_from_session_env("missing.ipynb", str(tmp_path)) is None
    located = find_notebook(environ={"JPY_SESSION_NAME": str(notebook)}, runtime_dirs=[], user_ns={})
    assert located.how == "JPY_SESSION_NAME"


def test_nothing_known_says_how_to_pass_the_path(tmp_path: Path) -> None:
    with pytest.raises(NotebookNotFound) as caught:
        find_notebook(environ={}, runtime_dirs=[str(tmp_path)], user_ns={}, connection_file="/tmp/x.json")
    assert "%nbhygiene path/to/notebook.ipynb" in str(caught.value)
    with pytest.raises(NotebookNotFound, match="no such notebook"):
        find_notebook("missing.ipynb", cwd=str(tmp_path))


def test_magic_without_session_information(kernel: KernelSession, tmp_path: Path) -> None:
    notebook = tmp_path / "here.ipynb"
    _write_notebook(notebook, "print(undefined_thing)")
    kernel.run("%load_ext nbhygiene")
    failed = kernel.run("%nbhygiene")
    assert_no_error(failed)
    assert "Pass its path" in stream_text(failed, "stderr") and not bundles(failed)
    found = kernel.run(f"__vsc_ipynb_file__ = {str(notebook)!r}\n%nbhygiene")
    assert_no_error(found)
    [bundle] = bundles(found)
    assert "undefined-name" in bundle["text/plain"] and "here.ipynb" in bundle["text/plain"]
