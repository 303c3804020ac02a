"""Which notebook is this kernel running? Asked of the front end's own session information.

In order:

1. the path the user gave (``%nbhygiene path/to/notebook.ipynb``);
2. VS Code: its Jupyter extension sets ``__vsc_ipynb_file__`` in the user namespace;
3. Google Colab: the front end hands the notebook's JSON to the kernel on request (``get_ipynb``);
4. JupyterLab, Notebook 7, JupyterHub (any ``jupyter_server``, and the classic notebook server): the
   kernel's connection file names its kernel id; the servers listed in the Jupyter runtime directory
   (``jpserver-*.json``, ``nbserver-*.json``, each with its URL, token and root directory) answer
   ``GET /api/sessions``, which maps kernel ids to notebook paths;
5. ``JPY_SESSION_NAME``: jupyter_server >= 2 sets it in the kernel's environment when it starts the
   kernel (it is not updated when the notebook is renamed, so it comes after the sessions API).

When none of them knows, :class:`NotebookNotFound` says what was tried and how to pass the path. No
front end is guessed from anything else. The server's token is sent only to that server and never shown.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

VSCODE_VARIABLE = "__vsc_ipynb_file__"
SESSION_ENV = "JPY_SESSION_NAME"
_KERNEL_ID = re.compile(r"kernel-(?P<id>[A-Za-z0-9_.-]+)\.json$")


class NotebookNotFound(Exception):
    """No session information names this kernel's notebook; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Located:
    path: str  # absolute OS path (for Colab: a display name)
    how: str  # "argument", "vscode", "colab", "jupyter-server", "JPY_SESSION_NAME"
    data: dict[str, Any] | None = None  # the notebook's JSON when the front end handed it over (Colab)


def kernel_id_from_connection_file(connection_file: str | None) -> str | None:
    if not connection_file:
        return None
    match = _KERNEL_ID.search(os.path.basename(connection_file))
    return match.group("id") if match else None


def server_infos(runtime_dirs: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """The info files of running Jupyter servers (what ``list_running_servers()`` reads), without
    importing jupyter_server or notebook into the kernel."""
    if runtime_dirs is None:
        try:
            from jupyter_core.paths import jupyter_runtime_dir

            runtime_dirs = [jupyter_runtime_dir()]
        except Exception:
            return
    for directory in runtime_dirs:
        pattern_files = sorted(
            glob.glob(os.path.join(directory, "jpserver-*.json"))
            + glob.glob(os.path.join(directory, "nbserver-*.json"))
        )
        for path in pattern_files:
            try:
                with open(path, encoding="utf-8") as handle:
                    info = json.load(handle)
            except (OSError, ValueError):
                continue
            if isinstance(info, dict) and isinstance(info.get("url"), str) and _alive(info.get("pid")):
                yield info


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True  # cannot tell: let the HTTP request decide
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sessions_of(info: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
    """``GET /api/sessions`` of one server; [] when it cannot be asked."""
    if info.get("sock"):
        return []  # a Unix-socket server: urllib cannot reach it
    url = info["url"].rstrip("/") + "/api/sessions"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    token = info.get("token")
    if isinstance(token, str) and token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            sessions = json.loads(response.read().decode("utf-8"))
    except Exception:
        return []
    return [s for s in sessions if isinstance(s, dict)] if isinstance(sessions, list) else []


def path_from_sessions(
    kernel_id: str, runtime_dirs: list[str] | None = None, timeout: float = 2.0
) -> str | None:
    """The notebook path of the session whose kernel is ``kernel_id``, from any running server."""
    for info in server_infos(runtime_dirs):
        root = info.get("root_dir") or info.get("notebook_dir") or ""
        for session in sessions_of(info, timeout):
            kernel = session.get("kernel")
            if not isinstance(kernel, dict) or kernel.get("id") != kernel_id:
                continue
            notebook = session.get("notebook") if isinstance(session.get("notebook"), dict) else {}
            api_path = session.get("path") or (notebook or {}).get("path")
            if isinstance(api_path, str) and api_path:
                return os.path.abspath(os.path.join(str(root), *api_path.split("/")))
    return None


def path_from_session_env(value: str | None, cwd: str) -> str | None:
    """``JPY_SESSION_NAME`` is the notebook's OS path, or its API path when the server had no name."""
    if not value:
        return None
    candidates = (
        [value]
        if os.path.isabs(value)
        else [os.path.join(cwd, value), os.path.join(cwd, os.path.basename(value))]
    )
    for candidate in candidates:
        if candidate.endswith(".ipynb") and os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def colab_notebook(timeout: float = 5.0) -> dict[str, Any] | None:
    """The notebook JSON from Colab's front end (only when running in Colab)."""
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import _message

        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=timeout)
    except Exception:
        return None
    data = reply.get("ipynb") if isinstance(reply, dict) else None
    return data if isinstance(data, dict) else None


def find_notebook(
    argument: str | None = None,
    *,
    user_ns: Mapping[str, Any] | None = None,
    connection_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    runtime_dirs: list[str] | None = None,
    timeout: float = 2.0,
) -> Located:
    environ = os.environ if environ is None else environ
    cwd = cwd or os.getcwd()
    if argument:
        path = os.path.abspath(os.path.join(cwd, os.path.expanduser(argument)))
        if not os.path.isfile(path):
            raise NotebookNotFound(f"{argument}: no such notebook file")
        return Located(path, "argument")
    tried: list[str] = []

    vscode = (user_ns or {}).get(VSCODE_VARIABLE)
    if isinstance(vscode, str) and vscode:
        if os.path.isfile(vscode):
            return Located(os.path.abspath(vscode), "vscode")
        tried.append(f"VS Code names {vscode}, which is not a file (an unsaved notebook?)")
    else:
        tried.append("not VS Code (no __vsc_ipynb_file__)")

    data = colab_notebook()
    if data is not None:
        return Located("colab.ipynb", "colab", data)

    kernel_id = kernel_id_from_connection_file(connection_file)
    if kernel_id is None:
        tried.append(
            "the kernel was not started by a Jupyter server (its connection file names no kernel id)"
        )
    else:
        found = path_from_sessions(kernel_id, runtime_dirs, timeout)
        if found is not None:
            if os.path.isfile(found):
                return Located(found, "jupyter-server")
            tried.append(f"the Jupyter server names {found}, which is not a file")
        else:
            tried.append("no running Jupyter server has a session for this kernel")

    from_env = path_from_session_env(environ.get(SESSION_ENV), cwd)
    if from_env is not None:
        return Located(from_env, SESSION_ENV)
    tried.append(f"no usable {SESSION_ENV}")
    raise NotebookNotFound(
        "cannot tell which notebook this kernel runs ("
        + "; ".join(tried)
        + "). Pass its path: %nbhygiene path/to/notebook.ipynb (or %nbhygiene live path/to/notebook.ipynb)"
    )
