"""The ``nbhygiene`` papermill engine: papermill jobs recorded as runs without code changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from .conftest import Project, _test_environment, read_json, read_text

papermill = pytest.importorskip("papermill")

from papermill.engines import papermill_engines  # noqa: E402
from papermill.exceptions import PapermillExecutionError  # noqa: E402

from nbhygiene.jobs.engine import HygieneCheckFailed, NbhygieneEngine  # noqa: E402

ENTRY_POINT_INSTALLED = any(ep.name == "nbhygiene" for ep in entry_points(group="papermill.engine"))


@pytest.fixture(autouse=True)
def _engine_registered() -> None:
    if not ENTRY_POINT_INSTALLED:  # a source checkout that was not pip-installed
        papermill_engines.register("nbhygiene", NbhygieneEngine)


def runs(project: Project) -> list[dict]:
    return project.cli("runs", "list", "--format", "json").json()["runs"]  # type: ignore[no-any-return]


def test_papermill_run_is_recorded_with_the_same_key(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    papermill.execute_notebook(
        "tiny.ipynb",
        "out.ipynb",
        parameters={"x": 5, "label": "pm"},
        engine_name="nbhygiene",
        progress_bar=False,
    )
    output = read_json(project.path("out.ipynb"))
    assert any("pm 10" in "".join(o.get("text", "")) for c in output["cells"] for o in c.get("outputs", []))
    (run,) = runs(project)
    assert run["status"] == "succeeded" and run["metrics"] == {"y": 10}
    assert run["params"] == {"x": 5, "label": "pm"}
    record = read_json(project.run_file(run["id"], "run.json"))
    assert record["origin"] == "papermill"
    # the same notebook and parameters through `nbhygiene run` is the same run
    again = project.cli("run", "tiny.ipynb", "-p", "x", "5", "-p", "label", "pm", "--format", "json")
    assert again.json()["runs"][0]["status"] == "cached" and again.json()["runs"][0]["id"] == run["id"]


def test_papermill_failures_are_recorded_and_still_raise(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    with pytest.raises(PapermillExecutionError, match="ZeroDivisionError"):
        papermill.execute_notebook("fails.ipynb", "out.ipynb", engine_name="nbhygiene", progress_bar=False)
    with pytest.raises(PapermillExecutionError):
        papermill.execute_notebook(
            "kills_kernel.ipynb", "out2.ipynb", engine_name="nbhygiene", progress_bar=False
        )
    found = {r["error"]["kind"]: r for r in runs(project)}
    assert set(found) == {"cell-error", "kernel-died"}
    assert all(r["status"] == "failed" for r in found.values())
    # papermill's own error markers, once (the engine leaves them to papermill)
    output = read_json(project.path("out.ipynb"))
    assert sum("papermill-error-cell-tag" in c["metadata"].get("tags", []) for c in output["cells"]) == 2


def test_fail_fast_on_hygiene_findings(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbhygiene.jobs.hygiene import blocking_findings

    data = read_json(project.path("no_parameters.ipynb"))
    if not blocking_findings(data, project.path("no_parameters.ipynb"), "info"):
        pytest.skip("the analyzer reports nothing for this notebook yet")
    monkeypatch.chdir(project.root)
    with pytest.raises(HygieneCheckFailed, match="blocking hygiene finding"):
        papermill.execute_notebook(
            "no_parameters.ipynb",
            "out.ipynb",
            engine_name="nbhygiene",
            progress_bar=False,
            nbhygiene_fail_on="info",
        )
    (run,) = runs(project)
    assert run["status"] == "failed" and run["error"]["kind"] == "hygiene"
    assert not os.path.exists(project.path("out.ipynb")) or "outputs" not in read_text(
        project.path("out.ipynb")
    )


@pytest.mark.skipif(
    not ENTRY_POINT_INSTALLED or shutil.which("papermill") is None,
    reason="needs nbhygiene installed (entry point) and the papermill command",
)
def test_papermill_command_line_with_engine(project: Project) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            "tiny.ipynb",
            "out.ipynb",
            "-p",
            "x",
            "3",
            "--engine",
            "nbhygiene",
        ],
        cwd=project.root,
        env=_test_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    (run,) = runs(project)
    assert run["metrics"] == {"y": 6}
