"""Tests for tools/nbbuild.py, the real-kernel notebook builder (each build starts a real ipykernel)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("ipykernel")
pytest.importorskip("jupyter_client")
pytest.importorskip("yaml")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import nbbuild

pytestmark = pytest.mark.slow

MESSY_SPEC = {
    "cells": [
        {"id": "title", "type": "markdown", "source": "# Messy"},
        {"id": "helper", "source": "def answer():\n    return 42\n"},
        {"id": "a", "source": "x = 1\nprint('a ran')\n"},
        {"id": "b", "source": "x + 1"},
        {"id": "use-helper", "source": "print(answer())"},
        {"id": "boom", "source": "1 / 0"},
        {"id": "after", "source": "print('still going')"},
        {"id": "never", "source": "y = 2"},
    ],
    "ops": [
        {"run": ["b"]},  # 1: NameError, x not defined yet
        {"run": ["a", "b", "helper"]},  # 2, 3, 4
        {"edit": {"cell": "a", "source": "x = 100\nprint('a edited')\n"}},
        {"delete": "helper"},
        {"run": ["use-helper", "boom", "after"]},  # 5, 6, 7
        {"insert": {"after": "a", "cell": {"id": "extra", "source": "z = 3"}}},
    ],
}


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    return nbbuild.build_notebook(MESSY_SPEC, cwd=str(tmp_path_factory.mktemp("kernel-cwd")))


def by_id(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.id: c for c in nb.cells}


def test_cell_order_ids_and_out_of_order_counts(messy: nbformat.NotebookNode) -> None:
    assert [c.id for c in messy.cells] == ["title", "a", "extra", "b", "use-helper", "boom", "after", "never"]
    counts = {c.id: c.get("execution_count") for c in messy.cells}
    assert counts == {
        "title": None,
        "a": 2,
        "extra": None,
        "b": 3,
        "use-helper": 5,
        "boom": 6,
        "after": 7,
        "never": None,
    }
    b = by_id(messy)["b"]
    # The re-run replaced the NameError of the first run; the result carries the count.
    assert [o.output_type for o in b.outputs] == ["execute_result"]
    assert b.outputs[0].data["text/plain"] == "2"
    assert b.outputs[0].execution_count == 3


def test_deleted_cell_definitions_stay_in_kernel(messy: nbformat.NotebookNode) -> None:
    cell = by_id(messy)["use-helper"]
    assert "helper" not in by_id(messy)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in cell.outputs] == [
        ("stream", "stdout", "42\n")
    ]


def test_edit_keeps_old_outputs_and_count(messy: nbformat.NotebookNode) -> None:
    a = by_id(messy)["a"]
    assert a.source == "x = 100\nprint('a edited')"
    assert a.execution_count == 2
    assert a.outputs[0].text == "a ran\n"


def test_error_output_is_saved_and_build_continues(messy: nbformat.NotebookNode) -> None:
    cells = by_id(messy)
    (err,) = cells["boom"].outputs
    assert err.output_type == "error"
    assert err.ename == "ZeroDivisionError"
    assert err.evalue == "division by zero"
    assert err.traceback and isinstance(err.traceback, list)
    assert cells["after"].outputs[0].text == "still going\n"


def test_unexecuted_and_inserted_cells(messy: nbformat.NotebookNode) -> None:
    for cid in ("never", "extra"):
        cell = by_id(messy)[cid]
        assert cell.execution_count is None
        assert cell.outputs == []


def test_notebook_validates_and_has_kernel_metadata(messy: nbformat.NotebookNode, tmp_path: Path) -> None:
    nbformat.validate(messy)
    assert (messy.nbformat, messy.nbformat_minor) == (4, 5)
    assert messy.metadata.kernelspec["name"] == "python3"
    assert messy.metadata.kernelspec["language"] == "python"
    assert messy.metadata.language_info["name"] == "python"
    assert messy.metadata.language_info["version"].startswith(f"{sys.version_info.major}.")
    out = tmp_path / "nb.ipynb"
    nbbuild.write_notebook(messy, out)
    again = nbformat.read(out, as_version=4)
    nbformat.validate(again)
    assert [c.id for c in again.cells] == [c.id for c in messy.cells]
    assert out.read_text(encoding="utf-8").startswith('{\n "cells": [\n  {\n   "cell_type"')


def test_restart_clear_streams_and_cli_check(tmp_path: Path) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(
        "cells:\n"
        "  - id: setup\n"
        "    tags: [parameters]\n"
        "    source: |\n"
        "      k = 1\n"
        "  - id: show\n"
        "    source: |\n"
        "      import os\n"
        "      print('a'); print('b')\n"
        "      print(os.environ['PYTHONHASHSEED'], os.environ['MPLBACKEND'])\n"
        "      print(os.getcwd())\n"
        "      k\n"
        "ops:\n"
        "  - run: [setup, show]\n"
        "  - restart: true\n"
        "  - clear: [setup]\n"
        "  - run: [show]\n",
        encoding="utf-8",
    )
    assert nbbuild.main([str(spec)]) == 0
    nb = nbformat.read(tmp_path / "small.ipynb", as_version=4)
    setup, show = nb.cells
    assert setup.metadata["tags"] == ["parameters"]
    assert (setup.execution_count, setup.outputs) == (None, [])
    assert show.execution_count == 1  # counts restart with the kernel
    # consecutive prints merge into one stream output; `k` is gone after the restart
    assert show.outputs[0].output_type == "stream"
    text = show.outputs[0].text.splitlines()
    assert text[:3] == ["a", "b", "0 module://matplotlib_inline.backend_inline"]
    assert Path(text[3]).resolve() == tmp_path.resolve()  # kernel cwd = the output's directory
    assert show.outputs[-1].output_type == "error"
    assert show.outputs[-1].ename == "NameError"
    # --check: up to date, then out of date once the committed notebook is changed
    assert nbbuild.main(["--check", str(spec)]) == 0
    nb.cells[1].execution_count = 7
    nbformat.write(nb, tmp_path / "small.ipynb")
    assert nbbuild.main(["--check", str(spec)]) == 1


def test_spec_errors_are_reported_before_any_kernel_starts() -> None:
    with pytest.raises(nbbuild.SpecError):
        nbbuild.build_notebook({"cells": [{"id": "bad id!", "source": "1"}]})
    with pytest.raises(nbbuild.SpecError):
        nbbuild.build_notebook({"cells": [{"id": "a"}, {"id": "a"}]})
    with pytest.raises(nbbuild.SpecError):
        nbbuild.build_notebook({"cells": [{"id": "a"}], "ops": [{"rerun": ["a"]}]})
