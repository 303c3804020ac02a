"""``nbhygiene runs list|show|compare|rerun|gc``: reading, comparing and pruning the run history."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from typing import Any

from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.files import parse_iso, read_json_or_none, utc_now
from nbhygiene.jobs.runkey import explain_key_difference, relative_to
from nbhygiene.jobs.store import FINAL_STATUSES, STATUSES, RunStore, public_metrics, row_to_json


def notebook_filter(store: RunStore, notebook: str | None) -> str | None:
    """The store's name for a notebook given on the command line (a path from here, or a stored name)."""
    if notebook is None:
        return None
    stored = relative_to(os.path.abspath(notebook), store.root)
    known = (
        {row[0] for row in store.connection.execute("SELECT DISTINCT notebook FROM runs")}
        if store.exists()
        else set()
    )
    if stored in known or not known:
        return stored
    if notebook in known:
        return notebook
    by_name = sorted(k for k in known if os.path.basename(k) == os.path.basename(notebook))
    if len(by_name) == 1:
        return by_name[0]
    return stored


def list_runs(
    store: RunStore, *, notebook: str | None, status: str | None, limit: int | None
) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise UsageError(f"--status {status}: expected one of {', '.join(STATUSES)}")
    rows = store.rows(notebook=notebook_filter(store, notebook), status=status, limit=limit)
    return [row_to_json(store, row) for row in rows]


# ------------------------------------------------------------------------------------------- show
def show_run(store: RunStore, run_ref: str, against: str | None) -> dict[str, Any]:
    run_id = store.resolve_id(run_ref)
    record = store.load_record(run_id)
    row = store.row(run_id)
    public = row_to_json(store, row) if row is not None else {"id": run_id}
    other_id = store.resolve_id(against) if against else _previous_with_other_key(store, record)
    document: dict[str, Any] = {
        "run": public,
        "notebook": record.get("notebook", {}).get("path"),
        "key_parts": record.get("key_parts"),
        "inputs": record.get("inputs", []),
        "environment": _environment_summary(record.get("environment") or {}),
        "timings": record.get("timings") or {},
        "origin": record.get("origin"),
        "rerun_of": record.get("rerun_of"),
        "paths": {"folder": record["paths"].directory, "kernel_log": _existing(record["paths"].kernel_log)},
        "against": other_id,
        "key_changes": [],
    }
    if other_id is not None and other_id != run_id:
        other = store.load_record(other_id)
        document["key_changes"] = explain_key_difference(record, other)
    return document


def _existing(path: str) -> str | None:
    return path if os.path.exists(path) else None


def _environment_summary(environment: dict[str, Any]) -> dict[str, Any]:
    return {
        "fingerprint": environment.get("fingerprint"),
        "kernel": environment.get("kernel"),
        "python": environment.get("python"),
        "platform": environment.get("platform"),
        "packages": len(environment.get("packages") or {}),
        "git": environment.get("git"),
    }


def _previous_with_other_key(store: RunStore, record: dict[str, Any]) -> str | None:
    """The newest earlier run of the same notebook whose key differs: "what changed since then"."""
    notebook = (record.get("notebook") or {}).get("path")
    for row in store.rows(notebook=notebook):
        if row["id"] < record["id"] and row["key"] != record.get("key"):
            return str(row["id"])
    return None


def format_show(document: dict[str, Any]) -> str:
    run = document["run"]
    lines = [
        f"run {run.get('id')}  {run.get('status')}  notebook {document.get('notebook')}",
        f"key {run.get('key')}  started {run.get('started_at')}  duration {run.get('duration_s')}s",
    ]
    if run.get("params"):
        lines.append(
            "params:  " + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(run["params"].items()))
        )
    if run.get("metrics"):
        lines.append(
            "metrics: "
            + ", ".join(
                f"{k}={v['figure'] if isinstance(v, dict) and 'figure' in v else json.dumps(v)}"
                for k, v in sorted(run["metrics"].items())
            )
        )
    if run.get("error"):
        error = run["error"]
        where = f" (cell {error['cell_position']})" if error.get("cell_position") else ""
        lines.append(f"error:   {error.get('kind')}: {error.get('message')}{where}")
    env = document["environment"]
    git = env.get("git") or {}
    lines.append(
        f"environment: python {env.get('python')} ({env.get('packages')} packages, fingerprint "
        f"{env.get('fingerprint')})"
        + (f", git {git.get('commit', '')[:10]}{' dirty' if git.get('dirty') else ''}" if git else "")
    )
    for item in document.get("inputs") or []:
        lines.append(f"input:   {item['path']} sha256 {item['sha256'][:12]}")
    lines.append(f"output:  {run.get('output_notebook')}")
    if document.get("against"):
        changes = document["key_changes"]
        if not changes:
            lines.append(f"against run {document['against']}: same key")
        else:
            lines.append(
                f"against run {document['against']}, the key changed in: "
                + ", ".join(c["part"] for c in changes)
            )
            for change in changes:
                for detail in change["details"] or ["(changed)"]:
                    lines.append(f"  {change['part']}: {detail}")
    else:
        lines.append("no earlier run of this notebook with another key to compare with")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- compare
def compare_runs(store: RunStore, refs: list[str]) -> dict[str, Any]:
    if len(refs) < 2:
        raise UsageError("runs compare needs at least two run ids")
    ids = [store.resolve_id(ref) for ref in refs]
    runs = []
    for run_id in ids:
        row = store.row(run_id)
        if row is None:
            raise UsageError(f"run {run_id} is not in the index (try `nbhygiene runs reindex`)")
        runs.append(row_to_json(store, row))
    params = _side_by_side([r["params"] for r in runs])
    metrics = _side_by_side([r["metrics"] for r in runs])
    return {
        "runs": [{"id": r["id"], "status": r["status"], "started_at": r["started_at"]} for r in runs],
        "params": params,
        "metrics": metrics,
        "differences": {
            "params": [name for name, values in params.items() if not _all_equal(values)],
            "metrics": [name for name, values in metrics.items() if not _all_equal(values)],
        },
    }


_MISSING = {"__missing__": True}


def _side_by_side(maps: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names: list[str] = []
    for mapping in maps:
        names += [n for n in mapping if n not in names]
    return {name: [mapping.get(name) for mapping in maps] for name in sorted(names)}


def _all_equal(values: list[Any]) -> bool:
    first = json.dumps(values[0], sort_keys=True)
    return all(json.dumps(v, sort_keys=True) == first for v in values[1:])


def format_compare(document: dict[str, Any], show_all: bool) -> str:
    from nbhygiene.jobs.report import show_value, table

    header = ["", *[r["id"] for r in document["runs"]]]
    rows = [["status", *[r["status"] for r in document["runs"]]]]
    for section in ("params", "metrics"):
        for name, values in document[section].items():
            differs = name in document["differences"][section]
            if differs or show_all:
                marker = "*" if differs else " "
                rows.append(
                    [
                        f"{marker} {section[:-1] if section == 'params' else 'metric'} {name}",
                        *[("-" if v is None else show_value(v, 20)) for v in values],
                    ]
                )
    text = table(rows, header)
    equal = sum(len(v) for v in document["params"].values()) and (
        len(document["params"])
        - len(document["differences"]["params"])
        + len(document["metrics"])
        - len(document["differences"]["metrics"])
    )
    if not show_all and equal:
        text += f"\n({equal} equal row(s) hidden; --all shows them)"
    return text


# ------------------------------------------------------------------------------------------ rerun
def drift_between(
    store: RunStore, original_id: str, new_id: str, *, rel_tol: float = 1e-9
) -> list[dict[str, Any]]:
    """What differs between a run and its re-execution: status, metrics, the key's parts, cell outputs."""
    old, new = store.load_record(original_id), store.load_record(new_id)
    drift: list[dict[str, Any]] = []
    old_status = old["status_record"].get("status")
    new_status = new["status_record"].get("status")
    if old_status != new_status:
        drift.append({"what": "status", "name": "status", "before": old_status, "after": new_status})
    old_metrics = (old["metrics_record"] or {}).get("values") or {}
    new_metrics = (new["metrics_record"] or {}).get("values") or {}
    for name in sorted(set(old_metrics) | set(new_metrics)):
        before, after = old_metrics.get(name), new_metrics.get(name)
        if isinstance(before, dict) and "figure" in before and isinstance(after, dict) and "figure" in after:
            continue  # PNG bytes vary with fonts and library versions; the figure's presence is what counts
        if not _same_value(before, after, rel_tol):
            drift.append({"what": "metric", "name": name, "before": before, "after": after})
    for change in explain_key_difference(new, old):
        if change["part"] in ("environment", "inputs", "code"):
            drift.append({"what": change["part"], "name": change["part"], "details": change["details"]})
    drift += _output_drift(old["paths"].output_notebook, new["paths"].output_notebook)
    return drift


def _same_value(a: Any, b: Any, rel_tol: float) -> bool:
    if (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0)
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _text_outputs(path: str) -> dict[int, list[str]]:
    notebook = read_json_or_none(path)
    if not isinstance(notebook, dict):
        return {}
    texts: dict[int, list[str]] = {}
    position = 0
    for cell in notebook.get("cells", []):
        tags = (cell.get("metadata") or {}).get("tags") or []
        if "papermill-error-cell-tag" in tags:
            continue
        position += 1
        if cell.get("cell_type") != "code":
            continue
        found = []
        for output in cell.get("outputs") or []:
            kind = output.get("output_type")
            if kind == "stream":
                found.append("".join(output.get("text") or ""))
            elif kind in ("execute_result", "display_data"):
                data = output.get("data") or {}
                if "text/plain" in data and "image/png" not in data:
                    found.append("".join(data["text/plain"]))
            elif kind == "error":
                found.append(f"{output.get('ename')}: {output.get('evalue')}")
        texts[position] = found
    return texts


def _output_drift(before_path: str, after_path: str) -> list[dict[str, Any]]:
    before, after = _text_outputs(before_path), _text_outputs(after_path)
    drift = []
    for position in sorted(set(before) | set(after)):
        if before.get(position) != after.get(position):
            drift.append(
                {
                    "what": "output",
                    "name": f"cell {position}",
                    "before": _clip(before.get(position)),
                    "after": _clip(after.get(position)),
                }
            )
    return drift


def _clip(texts: list[str] | None) -> str | None:
    if texts is None:
        return None
    text = "".join(texts).strip()
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------------------------- gc
def collect_garbage(
    store: RunStore,
    *,
    keep_last: int | None,
    older_than_days: float | None,
    statuses: list[str] | None,
    dry_run: bool,
) -> dict[str, Any]:
    """Delete runs chosen by the options, never the newest succeeded run of a key (the cache), never a
    running one; always clear leftovers (temporary files, stale locks, half-created folders)."""
    for status in statuses or []:
        if status not in FINAL_STATUSES:
            raise UsageError(f"--status {status}: expected one of {', '.join(FINAL_STATUSES)}")
    if keep_last is None and older_than_days is None and not statuses:
        candidates: list[str] = []
    else:
        rows = store.rows(newest_first=True)
        protected = set()
        seen_keys = set()
        for row in rows:
            if row["status"] == "succeeded" and row["key"] not in seen_keys:
                seen_keys.add(row["key"])
                protected.add(row["id"])
        per_group: dict[tuple[str, str], int] = {}
        now = utc_now()
        candidates = []
        for row in rows:
            if row["status"] not in FINAL_STATUSES or row["id"] in protected:
                if row["status"] in FINAL_STATUSES:
                    per_group[(row["notebook"], row["params_digest"])] = (
                        per_group.get((row["notebook"], row["params_digest"]), 0) + 1
                    )
                continue
            group = (row["notebook"], row["params_digest"])
            per_group[group] = per_group.get(group, 0) + 1
            chosen = True
            if statuses and row["status"] not in statuses:
                chosen = False
            if keep_last is not None and per_group[group] <= keep_last:
                chosen = False
            if older_than_days is not None:
                try:
                    age_days = (now - parse_iso(row["started_at"])).total_seconds() / 86400
                except ValueError:
                    age_days = math.inf
                if age_days < older_than_days:
                    chosen = False
            if chosen:
                candidates.append(str(row["id"]))
    freed = 0
    for run_id in candidates:
        freed += _folder_size(store.paths(run_id).directory)
        if not dry_run:
            store.delete_run(run_id)
    leftovers = _leftovers(store)
    for path in leftovers:
        freed += _folder_size(path)
        if not dry_run:
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)
    return {"deleted": candidates, "leftovers": leftovers, "freed_bytes": freed, "dry_run": dry_run}


def _leftovers(store: RunStore) -> list[str]:
    from nbhygiene.jobs.store import owner_is_alive

    found = []
    hour_ago = time.time() - 3600
    with _scandir(store.runs_dir) as entries:
        for entry in entries:
            if entry.name.startswith(".deleting-") or entry.name.startswith(".tmp-"):
                found.append(entry.path)
            elif (
                entry.is_dir()
                and not os.path.exists(os.path.join(entry.path, "run.json"))
                and entry.stat().st_mtime < hour_ago
            ):
                found.append(entry.path)  # a run folder whose creation never finished
    with _scandir(os.path.join(store.path, "tmp")) as entries:
        for entry in entries:
            if entry.stat().st_mtime < hour_ago:
                found.append(entry.path)
    with _scandir(store.owners_dir) as entries:
        for entry in entries:
            if entry.name.endswith(".lock") and store._owner is not None and entry.name == store._owner.name:
                continue
            if entry.name.endswith(".lock"):
                host_pid = entry.name[: -len(".lock")].rsplit("-", 2)
                owner = {"lock": entry.name, "host": host_pid[0] if len(host_pid) == 3 else None}
                if not owner_is_alive(store.owners_dir, owner, remove_stale=False):
                    found.append(entry.path)
    return sorted(found)


class _scandir:
    """``os.scandir`` that yields nothing for a missing folder."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._iterator: Any = None

    def __enter__(self) -> Any:
        try:
            self._iterator = os.scandir(self.path)
        except OSError:
            return iter(())
        return self._iterator

    def __exit__(self, *exc: object) -> None:
        if self._iterator is not None:
            self._iterator.close()


def _folder_size(path: str) -> int:
    total = 0
    if os.path.isfile(path):
        return os.path.getsize(path)
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(directory, name))
    return total


def public_run(store: RunStore, run_id: str) -> dict[str, Any]:
    row = store.row(run_id)
    if row is None:
        raise UsageError(f"run {run_id} is not in the index")
    return row_to_json(store, row)


__all__ = [
    "collect_garbage",
    "compare_runs",
    "drift_between",
    "format_compare",
    "format_show",
    "list_runs",
    "notebook_filter",
    "public_metrics",
    "public_run",
    "show_run",
]
