"""Faults across processes: a coordinator killed with SIGKILL, Ctrl-C, eight coordinators on one store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest

from .conftest import Project, _test_environment, read_json


def start_cli(project: Project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "nbhygiene.jobs", *args],
        cwd=project.root,
        env=_test_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def statuses(project: Project) -> dict[str, str]:
    found = {}
    runs = os.path.join(project.store, "runs")
    for run_id in os.listdir(runs) if os.path.isdir(runs) else []:
        try:
            with open(os.path.join(runs, run_id, "status.json"), encoding="utf-8") as handle:
                found[run_id] = json.load(handle)["status"]
        except (OSError, ValueError, KeyError):
            continue
    return found


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def partial_outputs_printed(project: Project) -> int:
    """How many running runs have an output notebook on disk that already shows the first cell's print."""
    count = 0
    for run_id, status in statuses(project).items():
        if status != "running":
            continue
        try:
            notebook = read_json(project.run_file(run_id, "output.ipynb"))
        except (OSError, ValueError):
            continue
        texts = ["".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", [])]
        count += any("sleeping" in t for t in texts)
    return count


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def all_gone(processes: list[psutil.Process]) -> bool:
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


@pytest.mark.slow
def test_coordinator_killed_mid_batch(project: Project) -> None:
    project.write("grid.yaml", "- {seconds: 0}\n- {seconds: 0.1}\n- {seconds: 60}\n- {seconds: 61}\n")
    coordinator = start_cli(project, "run", "sleeps.ipynb", "--grid", "grid.yaml", "--jobs", "2")
    try:
        wait_for(
            lambda: sorted(statuses(project).values()) == ["running", "running", "succeeded", "succeeded"],
            what="two finished and two running runs",
        )
        wait_for(lambda: partial_outputs_printed(project) == 2, what="the running runs to print and autosave")
        children = descendants(coordinator.pid)
        kernels = [p for p in children if "ipykernel" in " ".join(p.cmdline())]
        assert len(kernels) >= 2
        coordinator.send_signal(signal.SIGKILL)
        coordinator.wait(timeout=10)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
        coordinator.communicate()
    wait_for(
        lambda: all_gone(children),
        timeout=15,
        what="the kernels and the watchdog to die with the coordinator",
    )

    before = statuses(project)
    assert sorted(before.values()) == [
        "running",
        "running",
        "succeeded",
        "succeeded",
    ]  # nobody has looked yet
    listed = project.cli("runs", "list", "--format", "json", check_json=True)
    assert listed.code == 0, listed
    runs = {r["id"]: r for r in listed.json()["runs"]}
    assert sorted(r["status"] for r in runs.values()) == [
        "interrupted",
        "interrupted",
        "succeeded",
        "succeeded",
    ]
    for run in runs.values():
        if run["status"] == "interrupted":
            assert run["error"]["kind"] == "interrupted"
            partial = read_json(run["output_notebook"])
            assert any(
                "sleeping" in "".join(o.get("text", ""))
                for c in partial["cells"]
                for o in c.get("outputs", [])
            )
        else:
            assert os.path.exists(run["output_notebook"]) and run["metrics"] == {}
    connection = sqlite3.connect(os.path.join(project.store, "index.sqlite"))
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    connection.close()


def test_ctrl_c_marks_runs_interrupted(project: Project) -> None:
    coordinator = start_cli(project, "run", "sleeps.ipynb", "--format", "json")
    try:
        wait_for(lambda: list(statuses(project).values()) == ["running"], what="a running run")
        time.sleep(1.0)
        kernels = [p for p in descendants(coordinator.pid) if "ipykernel" in " ".join(p.cmdline())]
        assert kernels
        coordinator.send_signal(signal.SIGINT)
        stdout, stderr = coordinator.communicate(timeout=30)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
    assert coordinator.returncode == 130, stderr
    (run,) = json.loads(stdout)["runs"]
    assert run["status"] == "interrupted" and "SIGINT" in run["error"]["message"]
    assert list(statuses(project).values()) == ["interrupted"]
    wait_for(lambda: all_gone(kernels), timeout=10, what="the kernel to stop")


@pytest.mark.slow
def test_eight_concurrent_coordinators_share_one_store(project: Project) -> None:
    processes = [
        start_cli(project, "run", "tiny.ipynb", "-p", "x", str(i), "--jobs", "1", "--format", "json")
        for i in range(8)
    ]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr
        outputs.append(json.loads(stdout)["runs"][0])
    assert sorted(r["metrics"]["y"] for r in outputs) == [2 * i for i in range(8)]
    assert len({r["id"] for r in outputs}) == 8
    listed = project.cli("runs", "list", "--format", "json").json()["runs"]
    assert {r["id"] for r in listed} == {r["id"] for r in outputs}
    assert {r["status"] for r in listed} == {"succeeded"}
    connection = sqlite3.connect(os.path.join(project.store, "index.sqlite"))
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 8
    connection.close()
    assert project.cli("runs", "reindex", "--format", "json").json()["indexed"] == 8
    assert not os.listdir(os.path.join(project.store, "owners"))  # every owner released its lock
