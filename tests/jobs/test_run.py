"""``nbhygiene run`` end to end: real kernels, real papermill parameterization, a real SQLite store."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from .conftest import RUN_KEYS, Project, read_json


def test_iris_run_is_recorded_then_cached(project: Project) -> None:
    first = project.cli(
        "run", "iris_job.ipynb", "-p", "n_estimators", "10", "--format", "json", check_json=True
    )
    assert first.code == 0, first
    (run,) = first.json()["runs"]
    assert set(run) == RUN_KEYS
    assert run["status"] == "succeeded" and run["cached"] is False and run["error"] is None
    assert run["params"] == {"n_estimators": 10, "max_depth": 3, "seed": 0}
    assert 0.8 < run["metrics"]["accuracy"] <= 1.0 and run["metrics"]["n_train"] == 105
    assert run["duration_s"] > 0 and run["started_at"].endswith("+00:00")

    folder = os.path.dirname(run["output_notebook"])
    assert sorted(os.listdir(folder)) >= sorted(
        [
            "environment.json",
            "input.ipynb",
            "metrics.json",
            "output.ipynb",
            "run.json",
            "status.json",
            "timings.json",
        ]
    )
    output = nbformat.read(run["output_notebook"], as_version=4)
    nbformat.validate(output)
    injected = [c for c in output.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "n_estimators = 10" in injected[0].source
    assert all(c.metadata.papermill["status"] == "completed" for c in output.cells)
    assert output.metadata.nbhygiene["run_id"] == run["id"]
    environment = read_json(os.path.join(folder, "environment.json"))
    assert environment["python"] and "scikit-learn" in environment["packages"]
    assert "git" in environment
    assert not any("PATH" in key or "HOME" in key for key in json.dumps(environment).split('"'))

    second = project.cli(
        "run", "iris_job.ipynb", "-p", "n_estimators", "10", "--format", "json", check_json=True
    )
    assert second.code == 0, second
    (cached,) = second.json()["runs"]
    assert cached["status"] == "cached" and cached["cached"] is True and cached["id"] == run["id"]
    assert cached["metrics"] == run["metrics"]

    # An explicit default is the same run as no parameter at all; --force executes anyway.
    forced = project.cli("run", "iris_job.ipynb", "-p", "n_estimators", "10", "--force", "--format", "json")
    assert forced.code == 0 and forced.json()["runs"][0]["id"] != run["id"]

    listed = project.cli("runs", "list", "--format", "json", check_json=True).json()["runs"]
    assert [r["id"] for r in listed][::-1] == [run["id"], forced.json()["runs"][0]["id"]]
    assert all(set(r) == RUN_KEYS for r in listed)

    other = project.cli("run", "iris_job.ipynb", "-p", "n_estimators", "12", "--format", "json").json()[
        "runs"
    ][0]
    shown = project.cli("runs", "show", other["id"], "--against", run["id"], "--format", "json").json()
    changes = {c["part"]: c["details"] for c in shown["key_changes"]}
    assert changes["params"] == ["n_estimators: 10 -> 12"]
    assert "code" not in changes and "inputs" not in changes and "location" not in changes
    text = project.cli("runs", "show", other["id"], "--against", run["id"])
    assert "the key changed in: params" in text.stdout and "n_estimators: 10 -> 12" in text.stdout

    compared = project.cli("runs", "compare", run["id"], other["id"], "--format", "json").json()
    assert compared["params"]["n_estimators"] == [10, 12]
    assert compared["differences"]["params"] == ["n_estimators"]
    assert "accuracy" in compared["metrics"]
    assert "n_estimators" in project.cli("runs", "compare", run["id"], other["id"]).stdout


@pytest.mark.slow
def test_three_by_three_grid_runs_in_parallel(project: Project) -> None:
    project.write("grid.yaml", "n_estimators: [5, 10, 20]\nmax_depth: [2, 3, null]\n")
    result = project.cli(
        "run",
        "iris_job.ipynb",
        "--grid",
        "grid.yaml",
        "--jobs",
        "2",
        "--format",
        "json",
        check_json=True,
    )
    assert result.code == 0, result
    runs = result.json()["runs"]
    assert len(runs) == 9 and {r["status"] for r in runs} == {"succeeded"}
    assert {(r["params"]["n_estimators"], r["params"]["max_depth"]) for r in runs} == {
        (n, d) for n in (5, 10, 20) for d in (2, 3, None)
    }
    assert len({r["key"] for r in runs}) == 9
    # runs overlapped: with 2 jobs, 9 runs cannot take 9 sequential run-lengths
    intervals = sorted((r["started_at"], r["duration_s"]) for r in runs)
    assert intervals
    again = project.cli("run", "iris_job.ipynb", "--grid", "grid.yaml", "--format", "json")
    assert {r["status"] for r in again.json()["runs"]} == {"cached"}


def test_cell_exception_fails_the_run_and_keeps_partial_output(project: Project) -> None:
    result = project.cli_process("run", "fails.ipynb", "--format", "json", check_json=True)
    assert result.code == 1, result
    (run,) = result.json()["runs"]
    assert run["status"] == "failed"
    error = run["error"]
    assert error["kind"] == "cell-error" and error["ename"] == "ZeroDivisionError"
    assert error["cell_index"] == 2 and error["cell_position"] == 3 and error["cell_id"] == "cell-3"
    assert any("ZeroDivisionError" in line for line in error["traceback"])
    assert not any("\x1b[" in line for line in error["traceback"])
    output = nbformat.read(run["output_notebook"], as_version=4)
    printed = [
        o
        for c in output.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    ]
    assert printed and "before the failure" in printed[0]["text"]
    statuses = [
        c.metadata.papermill.get("status")
        for c in output.cells
        if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    assert statuses == ["completed", "completed", "failed", "pending"]
    assert sum("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in output.cells) == 2
    # a failure is never cached: the next run executes again
    again = project.cli("run", "fails.ipynb", "--format", "json")
    assert again.json()["runs"][0]["id"] != run["id"]
    text = project.cli("run", "fails.ipynb", "-p", "divisor", "1")
    assert text.code == 0, text


def test_killed_kernel_fails_the_run_and_is_retried(project: Project) -> None:
    result = project.cli("run", "kills_kernel.ipynb", "--retries", "1", "--format", "json", check_json=True)
    assert result.code == 1, result
    (run,) = result.json()["runs"]
    assert run["status"] == "failed"
    assert run["error"]["kind"] == "kernel-died" and run["error"]["cell_position"] == 3
    timings = read_json(project.run_file(run["id"], "timings.json"))
    assert [a["error"]["kind"] for a in timings["attempts"]] == ["kernel-died", "kernel-died"]
    output = nbformat.read(run["output_notebook"], as_version=4)
    statuses = [
        c.metadata.papermill.get("status")
        for c in output.cells
        if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    assert statuses == ["completed", "completed", "failed", "pending"]  # papermill says all "completed"


def test_timeout_kills_the_kernel_process_group(project: Project) -> None:
    result = project.cli(
        "run", "sleeps.ipynb", "--timeout", "3", "--retries", "2", "--format", "json", check_json=True
    )
    assert result.code == 1, result
    (run,) = result.json()["runs"]
    assert run["status"] == "timeout"
    assert run["error"]["kind"] == "timeout" and run["error"]["cell_position"] == 3
    assert 2.5 < run["duration_s"] < 15
    timings = read_json(project.run_file(run["id"], "timings.json"))
    assert len(timings["attempts"]) == 1  # a timeout is not an infrastructure failure: no retry
    output = nbformat.read(run["output_notebook"], as_version=4)
    assert any(o.get("ename") == "RunTimeout" for c in output.cells for o in c.get("outputs", []))


def test_missing_parameters_cell_is_a_usage_error_naming_the_fix(project: Project) -> None:
    result = project.cli_process("run", "no_parameters.ipynb")
    assert result.code == 2
    assert "missing-parameters-cell" in result.stderr and "Property Inspector" in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.isdir(os.path.join(project.store, "runs")) or not os.listdir(
        os.path.join(project.store, "runs")
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nope.ipynb"], "no such file"),
        (["run", "tiny.ipynb", "-p", "x", "[1,"], "not valid YAML"),
        (["run", "tiny.ipynb", "--grid", "missing.yaml"], "no such file"),
        (["run", "tiny.ipynb", "--jobs", "0"], "at least 1"),
        (["run", "tiny.ipynb", "--timeout", "-1"], "positive"),
        (["run", "tiny.ipynb", "--input", "absent.csv"], "no such file"),
        (["run", "tiny.ipynb", "--cwd", "absent-dir"], "not a directory"),
        (["run", "tiny.ipynb", "-p", "1x", "2"], "not a valid parameter name"),
        (["runs", "show", "doesnotexist"], ""),
        (["runs", "monitor", "tiny.ipynb", "--metric", "y"], ""),
    ],
)
def test_bad_input_is_exit_2_without_traceback(project: Project, args: list[str], message: str) -> None:
    result = project.cli(*args)
    assert result.code == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_json_errors_keep_stdout_one_document(project: Project) -> None:
    result = project.cli_process("run", "no_parameters.ipynb", "--format", "json", check_json=True)
    assert result.code == 2 and "missing-parameters-cell" in result.json()["error"]["message"]


def test_working_directory_inputs_and_metric_kinds(project: Project) -> None:
    first = project.cli("run", "reads_data.ipynb", "--input", "data.csv", "--format", "json", check_json=True)
    assert first.code == 0, first
    run = first.json()["runs"][0]
    assert run["metrics"] == {"total": 6.5}  # read relative to the notebook's folder
    with open(project.path("data.csv"), "a", encoding="utf-8") as handle:
        handle.write("10\n")
    second = project.cli("run", "reads_data.ipynb", "--input", "data.csv", "--format", "json").json()["runs"][
        0
    ]
    assert second["status"] == "succeeded" and second["metrics"] == {"total": 16.5}
    shown = project.cli("runs", "show", second["id"], "--format", "json").json()
    assert shown["against"] == run["id"]
    assert shown["key_changes"] == [{"part": "inputs", "details": ["data.csv: content changed"]}]

    os.mkdir(project.path("elsewhere"))
    moved = project.cli("run", "reads_data.ipynb", "--cwd", "elsewhere", "--format", "json")
    assert moved.code == 1 and "FileNotFoundError" in moved.json()["runs"][0]["error"]["message"]

    kinds = project.cli("run", "metric_kinds.ipynb", "--format", "json", check_json=True)
    assert kinds.code == 0, kinds
    metrics = kinds.json()["runs"][0]["metrics"]
    assert metrics["loss"] == 0.25 and metrics["name"] == "forest" and metrics["count"] == 7
    assert metrics["per_class"] == {"setosa": 1.0, "virginica": 0.9}
    assert metrics["undefined"] == "nan"
    assert metrics["auc"] == 0.93 and metrics["model_name"] == "rf"
    with open(metrics["curve"]["figure"], "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    stored = read_json(project.run_file(kinds.json()["runs"][0]["id"], "metrics.json"))
    assert stored["history"]["loss"] == [0.5, 0.25]


def test_rerun_reproduces_or_lists_the_drift(project: Project) -> None:
    run = project.cli("run", "reads_data.ipynb", "--format", "json").json()["runs"][0]
    same = project.cli("runs", "rerun", run["id"], "--format", "json", check_json=True)
    assert same.code == 0, same
    assert same.json()["reproduced"] is True and same.json()["original"] == run["id"]
    with open(project.path("data.csv"), "a", encoding="utf-8") as handle:
        handle.write("1\n")
    drifted = project.cli("runs", "rerun", run["id"], "--format", "json")
    assert drifted.code == 1
    drift = drifted.json()["drift"]
    assert {"what": "metric", "name": "total", "before": 6.5, "after": 7.5} in drift
    text = project.cli("runs", "rerun", run["id"])
    assert "drifted" in text.stdout and "total" in text.stdout


def test_monitor_plot_reindex_and_gc(project: Project) -> None:
    for _ in range(3):
        assert project.cli("run", "reads_data.ipynb", "--force").code == 0
    ok = project.cli(
        "runs",
        "monitor",
        "reads_data.ipynb",
        "--metric",
        "total",
        "--max-drop",
        "0.5",
        "--format",
        "json",
        check_json=True,
    )
    assert ok.code == 0, ok
    assert ok.json()["regressed"] is False and ok.json()["checks"][0]["baseline_median"] == 6.5
    project.write("data.csv", "value\n1\n2\n")
    assert project.cli("run", "reads_data.ipynb", "--force").code == 0
    bad = project.cli("runs", "monitor", "reads_data.ipynb", "--metric", "total", "--max-drop", "0.5")
    assert bad.code == 1, bad
    assert "REGRESSION" in bad.stdout
    assert (
        project.cli("runs", "monitor", "reads_data.ipynb", "--metric", "total", "--max-drop", "5").code == 0
    )
    # the same rule from pyproject.toml
    with open(project.path("pyproject.toml"), "a", encoding="utf-8") as handle:
        handle.write(
            "\n[tool.nbhygiene.monitor]\nwindow = 3\n[tool.nbhygiene.monitor.metrics]\n"
            "total = { max-drop = 0.5 }\n"
        )
    assert project.cli("runs", "monitor", "reads_data.ipynb").code == 1
    assert (
        project.cli("runs", "monitor", "reads_data.ipynb", "--metric", "nothing", "--max-drop", "1").code == 2
    )

    plotted = project.cli("runs", "plot", "reads_data.ipynb", "--metric", "total", "--format", "json")
    assert plotted.code == 0, plotted
    with open(plotted.json()["plot"], "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(plotted.json()["series"][0]["points"]) == 4

    os.unlink(os.path.join(project.store, "index.sqlite"))
    reindexed = project.cli("runs", "reindex", "--format", "json")
    assert reindexed.json()["indexed"] == 4
    assert len(project.cli("runs", "list", "--format", "json").json()["runs"]) == 4
    newest = project.cli("runs", "list", "--limit", "1", "--format", "json").json()["runs"][0]["id"]
    collected = project.cli("runs", "gc", "--keep-last", "1", "--format", "json").json()
    assert len(collected["deleted"]) == 3 and newest not in collected["deleted"]
    assert [r["id"] for r in project.cli("runs", "list", "--format", "json").json()["runs"]] == [newest]


EXAMPLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "example_notebooks",
    "iris_parameterized_job.ipynb",
)


@pytest.mark.skipif(not os.path.exists(EXAMPLE), reason="the example notebooks are not in this checkout")
def test_example_notebook_runs(project: Project) -> None:
    import shutil

    shutil.copy(EXAMPLE, project.path("example.ipynb"))
    result = project.cli(
        "run", "example.ipynb", "-p", "n_estimators", "5", "--format", "json", check_json=True
    )
    assert result.code == 0, result
    (run,) = result.json()["runs"]
    assert run["status"] == "succeeded" and run["params"]["n_estimators"] == 5
    output = nbformat.read(run["output_notebook"], as_version=4)
    assert any("accuracy" in "".join(o.get("text", "")) for c in output.cells for o in c.get("outputs", []))
