"""A real kernel driven cell by cell, as a person drives one from a front end.

``KernelSession.run(source)`` executes one cell in an ipykernel through nbclient and returns the cell
(its outputs and execution count), so a test can build a messy history (run, delete, edit, re-run) and
then ask the kernel itself what ``%nbhygiene`` shows. The kernel gets an empty Jupyter runtime directory,
so no Jupyter server running on this machine can answer for it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import nbhygiene

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(nbhygiene.__file__)))


class KernelSession:
    def __init__(self, client: NotebookClient) -> None:
        self.client = client
        self.nb = client.nb

    def run(self, source: str, cell_id: str | None = None, *, allow_errors: bool = False) -> Any:
        cell = nbformat.v4.new_code_cell(source)
        if cell_id:
            cell["id"] = cell_id
        self.nb.cells.append(cell)
        self.client.allow_errors = allow_errors
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return cell

    def cell(self, cell_id: str) -> Any:
        return next(c for c in self.nb.cells if c.get("id") == cell_id)

    def value(self, expression: str) -> Any:
        """A JSON value computed in the kernel (printed, then read back)."""
        cell = self.run(f"import json as _json\nprint(_json.dumps({expression}))")
        assert_no_error(cell)
        return json.loads(stream_text(cell, "stdout").strip().splitlines()[-1])

    def save(self, path: str, cell_ids: list[str], edits: dict[str, str] | None = None) -> str:
        """Save a notebook made of these session cells (by id, in this order), as a front end saves it,
        with the sources in ``edits`` replaced (an edit after the cell ran: count and outputs stay)."""
        nb = nbformat.v4.new_notebook()
        nb.metadata = {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python", "version": "3.11"},
        }
        for cell_id in cell_ids:
            cell = copy.deepcopy(self.cell(cell_id))
            if edits and cell_id in edits:
                cell["source"] = edits[cell_id]
            nb.cells.append(cell)
        nbformat.write(nb, path)
        return path


def stream_text(cell: Any, name: str = "stdout") -> str:
    return "".join(
        o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == name
    )


def assert_no_error(cell: Any) -> None:
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    assert not errors, "\n".join("\n".join(e.get("traceback", [])) for e in errors)


def bundles(cell: Any) -> list[dict[str, Any]]:
    return [o["data"] for o in cell.outputs if o.get("output_type") in ("display_data", "execute_result")]


@contextlib.contextmanager
def kernel_session(directory: Path) -> Iterator[KernelSession]:
    runtime = directory / "jupyter-runtime"
    runtime.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
        patch.delenv("JPY_SESSION_NAME", raising=False)
        patch.delenv("NBHYGIENE_STORE", raising=False)
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [SOURCE_ROOT, os.environ.get("PYTHONPATH")])))
        patch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        client = NotebookClient(
            nbformat.v4.new_notebook(),
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(directory)}},
            shutdown_kernel="immediate",
        )
        with client.setup_kernel():
            yield KernelSession(client)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelSession]:
    with kernel_session(tmp_path) as session:
        yield session


@pytest.fixture(scope="module")
def module_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelSession]:
    """One kernel for a whole test module (a kernel start costs seconds); its history accumulates."""
    with kernel_session(tmp_path_factory.mktemp("kernel")) as session:
        yield session
