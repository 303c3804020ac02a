"""The run store: folders, the SQLite index, ownership of running runs, recovery and pruning."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.history import collect_garbage
from nbhygiene.jobs.store import RunStore, find_store_dir

from .conftest import _test_environment, read_json


def record(key: str = "k1", params: dict | None = None, notebook: str = "nb.ipynb") -> dict:
    return {
        "key": key,
        "key_parts": {"params": "p-" + json.dumps(params or {}, sort_keys=True)},
        "notebook": {"path": notebook},
        "params": params or {},
        "created_at": "2026-01-01T00:00:00.000+00:00",
        "origin": "run",
    }


_clock = iter(range(10_000))


def new_run(store: RunStore, status: str = "succeeded", **kwargs: object) -> str:
    run_id = store.create_run(record(**kwargs), source_notebook=b"{}", environment={})  # type: ignore[arg-type]
    if status != "running":
        minute = next(_clock)
        started = f"2026-01-01T{minute // 60 % 24:02d}:{minute % 60:02d}:00.000+00:00"
        store.finish_run(
            run_id,
            status=status,
            started_at=started,
            duration_s=1.0,
            error=None,
            metrics={"values": {"acc": 0.9}},
        )
    return run_id


def test_store_location(tmp_path, monkeypatch) -> None:
    nested = tmp_path / "repo" / "notebooks" / "deep"
    nested.mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    assert find_store_dir(None, str(nested)) == str(tmp_path / "repo" / ".nbhygiene")
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    assert find_store_dir(None, str(lonely)) == str(lonely / ".nbhygiene")
    monkeypatch.setenv("NBHYGIENE_STORE", str(tmp_path / "env-store"))
    assert find_store_dir(None, str(nested)) == str(tmp_path / "env-store")
    assert find_store_dir(str(tmp_path / "flag"), str(nested)) == str(tmp_path / "flag")


def test_create_finish_and_query(tmp_path) -> None:
    with RunStore(str(tmp_path / ".nbhygiene")) as store:
        first = new_run(store, params={"a": 1})
        second = new_run(store, status="failed", key="k2")
        mode = store.connection.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        assert store.find_cached("k1") == first
        assert store.find_cached("k2") is None
        assert {r["id"] for r in store.rows()} == {first, second}
        assert store.resolve_id(first[-6:]) == first
        assert store.resolve_id("latest") in (first, second)
        with pytest.raises(UsageError):
            store.resolve_id("../etc")
        with pytest.raises(UsageError, match="no run"):
            store.resolve_id("zzzz")
        paths = store.paths(first)
        assert read_json(paths.status_json)["status"] == "succeeded"
        assert not [n for n in os.listdir(paths.directory) if n.startswith(".tmp-")]


def test_index_is_rebuilt_from_folders(tmp_path) -> None:
    path = str(tmp_path / ".nbhygiene")
    with RunStore(path) as store:
        ids = {new_run(store) for _ in range(3)}
    os.unlink(os.path.join(path, "index.sqlite"))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(os.path.join(path, "index.sqlite" + suffix)):
            os.unlink(os.path.join(path, "index.sqlite" + suffix))
    with RunStore(path) as store:
        assert {r["id"] for r in store.rows()} == ids  # a fresh index fills itself from the folders
        assert store.reindex() == 3


def test_damaged_index_is_put_aside_and_rebuilt(tmp_path, capsys) -> None:
    path = str(tmp_path / ".nbhygiene")
    with RunStore(path) as store:
        run_id = new_run(store)
    with open(os.path.join(path, "index.sqlite"), "wb") as handle:
        handle.write(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(os.path.join(path, "index.sqlite" + suffix)):
            os.unlink(os.path.join(path, "index.sqlite" + suffix))
    with RunStore(path) as store:
        assert [r["id"] for r in store.rows()] == [run_id]
    assert "rebuilding" in capsys.readouterr().err
    assert any(name.startswith("index.sqlite.damaged-") for name in os.listdir(path))


def test_folder_added_or_removed_behind_the_index(tmp_path) -> None:
    path = str(tmp_path / ".nbhygiene")
    with RunStore(path) as store:
        kept, removed = new_run(store), new_run(store)
    # a folder deleted by hand, and a row lost (a process died between folder and index)
    import shutil

    shutil.rmtree(os.path.join(path, "runs", removed))
    connection = sqlite3.connect(os.path.join(path, "index.sqlite"))
    connection.execute("DELETE FROM runs WHERE id = ?", (kept,))
    connection.commit()
    connection.close()
    with RunStore(path) as store:
        store.recover()
        assert [r["id"] for r in store.rows()] == [kept]


OWNER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from nbhygiene.jobs.store import RunStore
    store = RunStore(sys.argv[1])
    run_id = store.create_run({"key": "k", "notebook": {"path": "nb.ipynb"}, "params": {},
                               "created_at": "2026-01-01T00:00:00.000+00:00"}, source_notebook=b"{}",
                              environment={})
    print(run_id, flush=True)
    time.sleep(60)
    """
)


def test_runs_of_a_killed_owner_become_interrupted(tmp_path) -> None:
    path = str(tmp_path / ".nbhygiene")
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, path], stdout=subprocess.PIPE, text=True, env=_test_environment()
    )
    assert owner.stdout is not None
    run_id = owner.stdout.readline().strip()
    try:
        with RunStore(path) as store:
            assert store.recover() == []  # the owner lives: its run stays running
            assert store.row(run_id)["status"] == "running"
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    with RunStore(path) as store:
        assert store.recover() == [run_id]
        row = store.row(run_id)
        assert row["status"] == "interrupted"
        assert "ended before the run finished" in json.loads(row["error"])["message"]
    status = read_json(os.path.join(path, "runs", run_id, "status.json"))
    assert status["status"] == "interrupted"


def test_own_running_runs_are_not_interrupted(tmp_path) -> None:
    with RunStore(str(tmp_path / ".nbhygiene")) as store:
        run_id = new_run(store, status="running")
        store._recovered = False
        assert store.recover() == []
        assert store.row(run_id)["status"] == "running"


def test_gc_keeps_the_cache_and_running_runs(tmp_path) -> None:
    with RunStore(str(tmp_path / ".nbhygiene")) as store:
        old_failed = new_run(store, status="failed", key="a")
        cached = new_run(store, key="a")
        newer_same_key = new_run(store, key="a")
        running = new_run(store, status="running", key="b")
        dry = collect_garbage(store, keep_last=0, older_than_days=None, statuses=None, dry_run=True)
        assert set(dry["deleted"]) == {old_failed, cached}
        assert len(store.rows()) == 4
        done = collect_garbage(store, keep_last=0, older_than_days=None, statuses=None, dry_run=False)
        assert set(done["deleted"]) == {old_failed, cached}
        assert {r["id"] for r in store.rows()} == {newer_same_key, running}
        assert store.find_cached("a") == newer_same_key
