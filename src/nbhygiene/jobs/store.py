"""The run store: one folder per run, plus an SQLite index that can always be rebuilt from the folders.

Layout of a store (by default ``.nbhygiene/`` at the project root)::

    runs/<run id>/run.json          what the run is: key and its parts, notebook, parameters, inputs
                  environment.json  interpreter, platform, distributions, git commit and dirty flag
                  input.ipynb       the notebook as it was read for this run
                  output.ipynb      the executed notebook, saved while it runs
                  metrics.json      values recorded with nbhygiene.record() or scrapbook's glue
                  figures/*.png     recorded figures
                  timings.json      kernel start, execution, per-cell durations, attempts
                  kernel.log        what the kernel process printed outside the notebook
                  status.json       running / succeeded / failed / timeout / interrupted: written last
    index.sqlite                    WAL-mode index over the folders (``runs reindex`` rebuilds it)
    owners/<host>-<pid>-<t>.lock    held (flock) by each live process that owns running runs
    cache/                          environment fingerprints and input-file digests

Every file is written atomically (temporary file + ``os.replace``), ``status.json`` last, so a reader
sees a run either as running or as finished with all its files. Where the folder and the index
disagree, the folder wins.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nbhygiene.jobs.errors import StoreError, UsageError
from nbhygiene.jobs.files import atomic_write_bytes, atomic_write_json, now_iso, read_json_or_none

STORE_DIRNAME = ".nbhygiene"
STORE_ENV = "NBHYGIENE_STORE"
SCHEMA_VERSION = "1"
FINAL_STATUSES = ("succeeded", "failed", "timeout", "interrupted")
STATUSES = (*FINAL_STATUSES, "cached", "running")
PROJECT_MARKERS = ("pyproject.toml", ".git")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    notebook TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    params_digest TEXT NOT NULL,
    metrics TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_s REAL,
    error TEXT,
    owner TEXT,
    origin TEXT,
    batch TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (key, status);
CREATE INDEX IF NOT EXISTS runs_by_notebook ON runs (notebook, started_at);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
"""
_COLUMNS = (
    "id",
    "key",
    "notebook",
    "status",
    "params",
    "params_digest",
    "metrics",
    "started_at",
    "finished_at",
    "duration_s",
    "error",
    "owner",
    "origin",
    "batch",
)


def find_store_dir(explicit: str | None = None, start: str | None = None) -> str:
    """``--store``, else ``$NBHYGIENE_STORE``, else ``.nbhygiene`` in the nearest directory upward that
    holds ``pyproject.toml`` or ``.git``, else in the current directory."""
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    from_env = os.environ.get(STORE_ENV)
    if from_env:
        return os.path.abspath(os.path.expanduser(from_env))
    here = os.path.abspath(start or os.getcwd())
    directory = here
    while True:
        if any(os.path.exists(os.path.join(directory, marker)) for marker in PROJECT_MARKERS):
            return os.path.join(directory, STORE_DIRNAME)
        parent = os.path.dirname(directory)
        if parent == directory:
            return os.path.join(here, STORE_DIRNAME)
        directory = parent


def new_run_id() -> str:
    """Sortable by creation time, unique without coordination: ``20261126-230145-3f9a1c``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def process_start_time(pid: int) -> str | None:
    """A token that tells a process from a later one that reuses its pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return fields[19]  # starttime, in clock ticks since boot
    except (OSError, IndexError):
        pass
    try:
        import psutil

        return str(psutil.Process(pid).create_time())
    except Exception:  # psutil missing, or no such process
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class OwnerLock:
    """This process's claim on its running runs: a file under ``owners/`` held with ``flock``.

    The kernel releases the lock when the process dies, however it dies (SIGKILL included), so another
    process can tell a live owner from a dead one without trusting pids, which get reused.
    """

    def __init__(self, owners_dir: str) -> None:
        self.pid = os.getpid()
        self.host = socket.gethostname()
        started = process_start_time(self.pid) or "0"
        self.name = f"{self.host}-{self.pid}-{started}.lock"
        self.path = os.path.join(owners_dir, self.name)
        self._handle: Any = None
        os.makedirs(owners_dir, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the process
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: fall back to pid checks
            pass
        except OSError as exc:
            handle.close()
            raise StoreError(f"cannot lock {self.path}: {exc}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": self.pid, "host": self.host, "started": started}))
        handle.flush()
        self._handle = handle

    def describe(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "lock": self.name}

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self._handle.close()
            self._handle = None


def owner_is_alive(owners_dir: str, owner: dict[str, Any] | None, *, remove_stale: bool = True) -> bool:
    """Whether the process that owns a running run still lives (True when that cannot be known)."""
    if not isinstance(owner, dict):
        return False
    if owner.get("host") not in (None, socket.gethostname()):
        return True  # another machine's process on a shared store: not ours to judge
    lock_name = owner.get("lock")
    if isinstance(lock_name, str) and os.sep not in lock_name and "/" not in lock_name:
        path = os.path.join(owners_dir, lock_name)
        try:
            import fcntl
        except ImportError:
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                handle = open(path, "r+")  # noqa: SIM115
            except FileNotFoundError:
                return False
            except OSError:
                return True
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return True  # somebody holds it: the owner lives
            # Nobody holds it: the owner is gone. Remove the stale file while we hold it.
            if remove_stale:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            handle.close()
            return False
    pid = owner.get("pid")
    return isinstance(pid, int) and _pid_alive(pid)


@dataclass(slots=True)
class RunPaths:
    directory: str

    def file(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @property
    def run_json(self) -> str:
        return self.file("run.json")

    @property
    def status_json(self) -> str:
        return self.file("status.json")

    @property
    def output_notebook(self) -> str:
        return self.file("output.ipynb")

    @property
    def input_notebook(self) -> str:
        return self.file("input.ipynb")

    @property
    def metrics_json(self) -> str:
        return self.file("metrics.json")

    @property
    def timings_json(self) -> str:
        return self.file("timings.json")

    @property
    def environment_json(self) -> str:
        return self.file("environment.json")

    @property
    def figures_dir(self) -> str:
        return self.file("figures")

    @property
    def kernel_log(self) -> str:
        return self.file("kernel.log")


class RunStore:
    """A run store at ``path`` (created on first write)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        # The project root that relative notebook paths are measured from.
        self.root = os.path.dirname(self.path) if os.path.basename(self.path) == STORE_DIRNAME else self.path
        self.runs_dir = os.path.join(self.path, "runs")
        self.cache_dir = os.path.join(self.path, "cache")
        self.owners_dir = os.path.join(self.path, "owners")
        self.index_path = os.path.join(self.path, "index.sqlite")
        self._connection: sqlite3.Connection | None = None
        self._owner: OwnerLock | None = None
        self._recovered = False

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, explicit: str | None = None, *, create: bool = True) -> RunStore:
        store = cls(find_store_dir(explicit))
        if create:
            store.ensure_layout()
        elif not os.path.isdir(store.path):
            raise StoreError(f"no run store at {store.path} (run `nbhygiene run` first, or pass --store)")
        return store

    def exists(self) -> bool:
        return os.path.isdir(self.runs_dir)

    def ensure_layout(self) -> None:
        try:
            for directory in (self.path, self.runs_dir, self.cache_dir, self.owners_dir):
                os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the run store at {self.path}: {exc.strerror or exc}") from None
        gitignore = os.path.join(self.path, ".gitignore")
        if not os.path.exists(gitignore):
            with contextlib.suppress(OSError):
                atomic_write_bytes(gitignore, b"# nbhygiene run store: local history, not source\n*\n")

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> sqlite3.Connection:
        self.ensure_layout()
        try:
            connection = self._open_index()
        except sqlite3.DatabaseError as exc:
            # The index is a cache of the folders: put a damaged one aside and rebuild it.
            aside = f"{self.index_path}.damaged-{int(time.time())}"
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    os.replace(self.index_path + suffix, aside + suffix)
            print(
                f"nbhygiene: the run index was unreadable ({exc}); rebuilding it from the run folders",
                file=sys.stderr,
            )
            connection = self._open_index()
            self._reindex(connection)
        return connection

    def _open_index(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.index_path, timeout=60, isolation_level=None)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA busy_timeout = 60000")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a file system without shared memory: still correct, slower
            connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("PRAGMA synchronous = NORMAL")
        with self._transaction(connection):
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    connection.execute(statement)
            row = connection.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            fresh = row is None
            if fresh:
                connection.execute("INSERT INTO meta (name, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"index schema {row[0]}, expected {SCHEMA_VERSION}")
        if fresh and self._has_run_folders():
            self._reindex(connection)
        return connection

    def _has_run_folders(self) -> bool:
        try:
            return any(True for _ in os.scandir(self.runs_dir))
        except OSError:
            return False

    @staticmethod
    @contextlib.contextmanager
    def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout
        # instead of failing halfway through with "database is locked".
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._owner is not None:
            self._owner.release()
            self._owner = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ ownership
    @property
    def owner(self) -> OwnerLock:
        if self._owner is None:
            self.ensure_layout()
            self._owner = OwnerLock(self.owners_dir)
        return self._owner

    # ------------------------------------------------------------------ writing runs
    def paths(self, run_id: str) -> RunPaths:
        return RunPaths(os.path.join(self.runs_dir, run_id))

    def create_run(
        self,
        record: dict[str, Any],
        *,
        source_notebook: bytes,
        environment: dict[str, Any],
    ) -> str:
        """Create a run folder with its record and a ``running`` status; return the run id."""
        self.ensure_layout()
        owner = self.owner.describe()
        for _ in range(20):
            run_id = new_run_id()
            directory = os.path.join(self.runs_dir, run_id)
            try:
                os.mkdir(directory)
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise StoreError(
                    f"cannot create a run folder in {self.runs_dir}: {exc.strerror or exc}"
                ) from None
        else:  # pragma: no cover - 20 collisions of 24 random bits within one second
            raise StoreError("could not find a free run id")
        paths = RunPaths(directory)
        record = {**record, "id": run_id}
        atomic_write_bytes(paths.input_notebook, source_notebook, durable=False)
        atomic_write_json(paths.environment_json, environment)
        atomic_write_json(paths.run_json, record)
        status = {
            "status": "running",
            "started_at": record["created_at"],
            "finished_at": None,
            "duration_s": None,
            "error": None,
            "owner": owner,
        }
        atomic_write_json(paths.status_json, status)
        self._upsert(self._row(record, status, {}))
        return run_id

    def mark_started(self, run_id: str, started_at: str) -> None:
        """Execution began (the run had a kernel): the run's ``started_at`` from now on."""
        paths = self.paths(run_id)
        status = read_json_or_none(paths.status_json) or {}
        status.update({"status": "running", "started_at": started_at})
        atomic_write_json(paths.status_json, status)
        with self._transaction(self.connection):
            self.connection.execute("UPDATE runs SET started_at = ? WHERE id = ?", (started_at, run_id))

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        started_at: str,
        duration_s: float | None,
        error: dict[str, Any] | None,
        metrics: dict[str, Any] | None = None,
        timings: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write the run's results, then its final status (last), then the index row."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status}")
        paths = self.paths(run_id)
        if metrics is not None:
            atomic_write_json(paths.metrics_json, metrics)
        if timings is not None:
            atomic_write_json(paths.timings_json, timings)
        final = {
            "status": status,
            "started_at": started_at,
            "finished_at": now_iso(),
            "duration_s": None if duration_s is None else round(duration_s, 3),
            "error": error,
        }
        atomic_write_json(paths.status_json, final)
        record = read_json_or_none(paths.run_json) or {"id": run_id}
        self._upsert(self._row(record, final, metrics or {}))
        return final

    def write_figure(self, run_id: str, name: str, png: bytes) -> str:
        directory = self.paths(run_id).figures_dir
        os.makedirs(directory, exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80] or "figure"
        path = os.path.join(directory, safe + ".png")
        atomic_write_bytes(path, png, durable=False)
        return path

    # ------------------------------------------------------------------ index rows
    @staticmethod
    def _row(record: dict[str, Any], status: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
        from nbhygiene.jobs.runkey import _digest

        params = record.get("params") or {}
        notebook = record.get("notebook") or {}
        return {
            "id": record["id"],
            "key": record.get("key") or "",
            "notebook": notebook.get("path") or "",
            "status": status.get("status") or "running",
            "params": json.dumps(params, sort_keys=True),
            "params_digest": (record.get("key_parts") or {}).get("params") or _digest(params),
            "metrics": json.dumps((metrics or {}).get("values") or {}, sort_keys=True),
            "started_at": status.get("started_at") or record.get("created_at") or "",
            "finished_at": status.get("finished_at"),
            "duration_s": status.get("duration_s"),
            "error": json.dumps(status["error"]) if status.get("error") else None,
            "owner": json.dumps(status["owner"])
            if status.get("status") == "running" and status.get("owner")
            else None,
            "origin": record.get("origin"),
            "batch": record.get("batch"),
        }

    def _upsert(self, row: dict[str, Any], connection: sqlite3.Connection | None = None) -> None:
        connection = connection or self.connection
        placeholders = ", ".join("?" for _ in _COLUMNS)
        sql = f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
        with self._transaction(connection):
            connection.execute(sql, tuple(row[c] for c in _COLUMNS))

    def row_from_folder(self, run_id: str) -> dict[str, Any] | None:
        paths = self.paths(run_id)
        record = read_json_or_none(paths.run_json)
        status = read_json_or_none(paths.status_json)
        if not isinstance(record, dict) or not isinstance(status, dict):
            return None
        metrics = read_json_or_none(paths.metrics_json)
        return self._row({**record, "id": run_id}, status, metrics if isinstance(metrics, dict) else {})

    # ------------------------------------------------------------------ recovery
    def recover(self) -> list[str]:
        """Mark runs whose owning process died as ``interrupted`` and sync the index with the folders.

        Every command calls this first, so that a coordinator killed with SIGKILL leaves its unfinished
        runs marked by whatever command comes next. Returns the ids it marked.
        """
        if self._recovered:
            return []
        self._recovered = True
        if not self.exists():
            return []
        marked = []
        rows = self.connection.execute("SELECT id, owner FROM runs WHERE status = 'running'").fetchall()
        own_lock = self._owner.name if self._owner is not None else None
        for row in rows:
            paths = self.paths(row["id"])
            status = read_json_or_none(paths.status_json)
            if not isinstance(status, dict):
                if not os.path.isdir(paths.directory):
                    with self._transaction(self.connection):
                        self.connection.execute("DELETE FROM runs WHERE id = ?", (row["id"],))
                continue
            if status.get("status") != "running":
                fresh = self.row_from_folder(row["id"])  # finished, but the index missed the update
                if fresh:
                    self._upsert(fresh)
                continue
            owner = status.get("owner")
            if isinstance(owner, dict) and owner.get("lock") == own_lock:
                continue
            if owner_is_alive(self.owners_dir, owner):
                continue
            pid = owner.get("pid") if isinstance(owner, dict) else None
            self.mark_interrupted(
                row["id"],
                f"the process that ran it (pid {pid}) ended before the run finished",
                status,
            )
            marked.append(row["id"])
        self._sync_folders()
        return marked

    def mark_interrupted(self, run_id: str, message: str, status: dict[str, Any] | None = None) -> None:
        from nbhygiene.jobs.files import parse_iso, utc_now

        paths = self.paths(run_id)
        status = status or read_json_or_none(paths.status_json) or {}
        started_at = status.get("started_at") or now_iso()
        try:
            duration = (utc_now() - parse_iso(started_at)).total_seconds()
        except ValueError:
            duration = None
        final = {
            "status": "interrupted",
            "started_at": started_at,
            "finished_at": now_iso(),
            "duration_s": None if duration is None else round(duration, 3),
            "error": {"kind": "interrupted", "message": message},
        }
        atomic_write_json(paths.status_json, final)
        fresh = self.row_from_folder(run_id)
        if fresh:
            self._upsert(fresh)

    def _sync_folders(self) -> None:
        """Add folders the index lacks (a process died between writing the folder and the index) and
        drop rows whose folder is gone (deleted by hand)."""
        try:
            folders = {entry.name for entry in os.scandir(self.runs_dir) if entry.is_dir()}
        except OSError:
            return
        indexed = {row[0] for row in self.connection.execute("SELECT id FROM runs")}
        for run_id in sorted(folders - indexed):
            fresh = self.row_from_folder(run_id)
            if fresh:
                self._upsert(fresh)
        gone = sorted(indexed - folders)
        if gone:
            with self._transaction(self.connection):
                self.connection.executemany("DELETE FROM runs WHERE id = ?", [(g,) for g in gone])

    def reindex(self) -> int:
        """Rebuild the index from the run folders; returns the number of runs indexed."""
        return self._reindex(self.connection)

    def _reindex(self, connection: sqlite3.Connection) -> int:
        rows = []
        try:
            entries = sorted(e.name for e in os.scandir(self.runs_dir) if e.is_dir())
        except OSError:
            entries = []
        for run_id in entries:
            fresh = self.row_from_folder(run_id)
            if fresh:
                rows.append(fresh)
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._transaction(connection):
            connection.execute("DELETE FROM runs")
            connection.executemany(
                f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                [tuple(row[c] for c in _COLUMNS) for row in rows],
            )
        return len(rows)

    # ------------------------------------------------------------------ queries
    def rows(
        self,
        *,
        notebook: str | None = None,
        status: str | None = None,
        key: str | None = None,
        params_digest: str | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[sqlite3.Row]:
        if not self.exists():
            return []
        clauses: list[str] = []
        values: list[Any] = []
        for column, value in (
            ("notebook", notebook),
            ("status", status),
            ("key", key),
            ("params_digest", params_digest),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value)
        sql = "SELECT * FROM runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        order = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY started_at {order}, id {order}"
        if limit is not None:
            sql += " LIMIT ?"
            values.append(limit)
        return self.connection.execute(sql, values).fetchall()

    def row(self, run_id: str) -> sqlite3.Row | None:
        if not self.exists():
            return None
        row = self.connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row

    def find_cached(self, key: str) -> str | None:
        """The newest succeeded run with ``key`` whose folder confirms it, if any."""
        for row in self.rows(key=key, status="succeeded"):
            status = read_json_or_none(self.paths(row["id"]).status_json)
            if isinstance(status, dict) and status.get("status") == "succeeded":
                return str(row["id"])
        return None

    def resolve_id(self, text: str) -> str:
        """A run id from a full id, a unique prefix or suffix, or ``latest``."""
        text = text.strip()
        if text in ("latest", "last"):
            rows = self.rows(limit=1)
            if not rows:
                raise UsageError(f"the run store {self.path} holds no runs")
            return str(rows[0]["id"])
        if not text or any(ch in text for ch in "/\\") or text.startswith("."):
            raise UsageError(f"{text!r} is not a run id")
        if os.path.isdir(os.path.join(self.runs_dir, text)):
            return text
        ids = [str(r[0]) for r in self.connection.execute("SELECT id FROM runs")] if self.exists() else []
        matches = [i for i in ids if i.startswith(text)] or [i for i in ids if i.endswith(text)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UsageError(f"no run {text!r} in {self.path} (`nbhygiene runs list` shows the runs)")
        raise UsageError(f"{text!r} matches {len(matches)} runs; give more of the id")

    def load_record(self, run_id: str) -> dict[str, Any]:
        """Everything stored about a run, merged into one dict."""
        paths = self.paths(run_id)
        record = read_json_or_none(paths.run_json)
        if not isinstance(record, dict):
            raise UsageError(f"run {run_id}: its folder has no readable run.json")
        status = read_json_or_none(paths.status_json) or {"status": "running"}
        metrics = read_json_or_none(paths.metrics_json) or {}
        record = {**record, "id": run_id}
        record["status_record"] = status
        record["metrics_record"] = metrics if isinstance(metrics, dict) else {}
        record["environment"] = read_json_or_none(paths.environment_json) or {}
        record["timings"] = read_json_or_none(paths.timings_json) or {}
        record["paths"] = paths
        return record

    # ------------------------------------------------------------------ deleting
    def delete_run(self, run_id: str) -> None:
        directory = self.paths(run_id).directory
        # Rename first: a half-deleted folder must not look like a run to a concurrent reader.
        trash = os.path.join(self.runs_dir, f".deleting-{run_id}-{secrets.token_hex(2)}")
        try:
            os.replace(directory, trash)
        except FileNotFoundError:
            trash = ""
        with self._transaction(self.connection):
            self.connection.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        if trash:
            shutil.rmtree(trash, ignore_errors=True)


def row_to_json(
    store: RunStore, row: sqlite3.Row | dict[str, Any], *, cached: bool = False
) -> dict[str, Any]:
    """The public shape of one run: ``{"id", "key", "status", "cached", "params", "metrics",
    "output_notebook", "started_at", "duration_s", "error"}``."""
    run_id = str(row["id"])
    output = store.paths(run_id).output_notebook
    metrics = json.loads(row["metrics"]) if row["metrics"] else {}
    return {
        "id": run_id,
        "key": row["key"],
        "status": "cached" if cached else row["status"],
        "cached": cached,
        "params": json.loads(row["params"]) if row["params"] else {},
        "metrics": public_metrics(store, run_id, metrics),
        "output_notebook": output if os.path.exists(output) else None,
        "started_at": row["started_at"],
        "duration_s": row["duration_s"],
        "error": json.loads(row["error"]) if row["error"] else None,
    }


def public_metrics(store: RunStore, run_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Figures are stored as relative paths; users get absolute ones."""
    shown = {}
    for name, value in values.items():
        if isinstance(value, dict) and set(value) == {"figure"} and isinstance(value["figure"], str):
            shown[name] = {"figure": os.path.join(store.paths(run_id).directory, value["figure"])}
        else:
            shown[name] = value
    return shown
