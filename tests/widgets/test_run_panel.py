"""``RunPanel``: the parameters form and grid builder, and a real batch started from inside a kernel
through the run store (fresh kernels for the runs, metrics recorded with ``nbhygiene.record``)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from nbhygiene.jobs.errors import UsageError
from nbhygiene.widgets import RunPanel
from nbhygiene.widgets.run_panel import ParameterField

from .conftest import KernelSession, assert_no_error, bundles, stream_text


def _job(path: Path, with_parameters: bool = True) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    parameters = nbformat.v4.new_code_cell(
        'x = 1\nscale = 0.5\nlabel = "a"\nlayers = [8, 4]\nout = label + "-out"'
    )
    if with_parameters:
        parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        parameters,
        nbformat.v4.new_code_cell(
            "import nbhygiene\n\ny = x * 2 * scale\nnbhygiene.record('y', y)\nprint(label, y, out)"
        ),
    ]
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index + 1}"
    nbformat.write(nb, str(path))
    return str(path)


def _field(panel: RunPanel, name: str) -> ParameterField:
    return next(f for f in panel.fields if f.name == name)


def test_form_follows_the_parameters_cell(tmp_path: Path) -> None:
    panel = RunPanel(_job(tmp_path / "job.ipynb"), store=str(tmp_path / "store"))
    kinds = {f.name: f.kind for f in panel.fields}
    assert kinds == {"x": "int", "scale": "float", "label": "str", "layers": "list", "out": "expression"}
    assert panel.parameter_sets() == [{}]  # nothing changed: the notebook's defaults
    assert "1 run" in panel.plan.value

    _field(panel, "label").value.value = "b"
    _field(panel, "layers").value.value = "[16]"
    _field(panel, "x").grid.value = "1, 2"
    _field(panel, "scale").grid.value = "[0.5, 1.5]"
    assert panel.parameter_sets() == [
        {"label": "b", "layers": [16], "x": 1, "scale": 0.5},
        {"label": "b", "layers": [16], "x": 1, "scale": 1.5},
        {"label": "b", "layers": [16], "x": 2, "scale": 0.5},
        {"label": "b", "layers": [16], "x": 2, "scale": 1.5},
    ]
    assert "4 runs" in panel.plan.value

    _field(panel, "out").value.value = "elsewhere"
    assert panel.parameter_sets()[0]["out"] == "elsewhere"
    _field(panel, "layers").value.value = "[16"  # broken YAML: a message, no run
    assert "layers" in panel.plan.value
    assert panel.start() is None and "layers" in panel.status.value


def test_a_notebook_without_parameters_cell_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="missing-parameters-cell"):
        RunPanel(_job(tmp_path / "plain.ipynb", with_parameters=False), store=str(tmp_path / "store"))


def test_runs_start_from_a_kernel_and_land_in_the_store(kernel: KernelSession, tmp_path: Path) -> None:
    path = _job(tmp_path / "job.ipynb")
    store = tmp_path / "store"
    kernel.run("%load_ext nbhygiene")
    shown = kernel.run(f"%nbhygiene runs {path}")
    assert_no_error(shown)
    assert stream_text(shown, "stderr") == ""
    [bundle] = bundles(shown)
    assert "application/vnd.jupyter.widget-view+json" in bundle and "Runs of job.ipynb" in bundle["text/html"]

    kernel.run(
        "from nbhygiene.widgets import RunPanel\n"
        f"panel = RunPanel({path!r}, store={str(store)!r})\n"
        "next(f for f in panel.fields if f.name == 'x').grid.value = '1, 3'\n"
        "panel.start()\n"
        "panel.wait(240)"
    )
    state = kernel.value(
        "{'error': panel.error, 'runs': [(r['status'], r['params'], r['metrics']) for r in panel.runs], "
        "'table': panel.table.value, 'progress': [panel.progress.value, panel.progress.max]}"
    )
    assert state["error"] is None
    assert sorted((status, params["x"], metrics["y"]) for status, params, metrics in state["runs"]) == [
        ("succeeded", 1, 1.0),
        ("succeeded", 3, 3.0),
    ]
    assert state["progress"] == [2, 2]
    assert "succeeded" in state["table"] and "metric: y" in state["table"]
    assert list(store.glob("runs/*/status.json")), "the runs are in the run store"

    # The same parameters again: answered from the store without running anything.
    kernel.run("panel.start()\npanel.wait(120)")
    again = kernel.value("[r['status'] for r in panel.result.runs]")
    assert again == ["cached", "cached"]
