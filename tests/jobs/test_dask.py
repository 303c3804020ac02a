"""Runs on Dask: a LocalCluster started for the batch, and an existing scheduler given by address."""

from __future__ import annotations

import pytest

from .conftest import Project

distributed = pytest.importorskip("distributed")


def test_local_cluster_executor(project: Project) -> None:
    project.write("grid.yaml", "x: [1, 2, 3]\n")
    result = project.cli_process(
        "run",
        "tiny.ipynb",
        "--grid",
        "grid.yaml",
        "--executor",
        "dask",
        "--jobs",
        "2",
        "--format",
        "json",
        check_json=True,
    )
    assert result.code == 0, result
    runs = result.json()["runs"]
    assert sorted(r["metrics"]["y"] for r in runs) == [2, 4, 6]
    assert all(r["status"] == "succeeded" and r["output_notebook"] for r in runs)
    failing = project.cli_process("run", "fails.ipynb", "--executor", "dask", "--format", "json")
    assert failing.code == 1 and failing.json()["runs"][0]["error"]["kind"] == "cell-error"


@pytest.mark.slow
def test_existing_scheduler(project: Project) -> None:
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
    ) as cluster:
        result = project.cli_process(
            "run",
            "tiny.ipynb",
            "-p",
            "x",
            "21",
            "--scheduler",
            cluster.scheduler_address,
            "--format",
            "json",
            check_json=True,
        )
    assert result.code == 0, result
    (run,) = result.json()["runs"]
    assert run["metrics"] == {"y": 42}
    bad = project.cli_process("run", "tiny.ipynb", "--scheduler", "not-an-address", "--format", "json")
    assert bad.code == 2 and "tcp://HOST:PORT" in bad.stderr
