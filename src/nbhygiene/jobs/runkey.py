"""A run's key: what must match for an earlier successful run to stand in for a new one.

The key hashes five parts, kept separately in every run so that ``runs show`` can say which one
changed:

``code``         the notebook's normalised code (outputs, comments and formatting do not count);
``params``       the effective parameters, the notebook's defaults overlaid with the user's;
``environment``  the kernel's interpreter and installed distributions (see :mod:`.environment`);
``inputs``       the content of every file declared with ``--input``;
``location``     where the notebook lives and the kernel's working directory, relative to the project,
                 because a relative data path reads a different file from elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from nbhygiene.jobs.environment import package_changes
from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.files import atomic_write_json, read_json_or_none

KEY_PARTS = ("code", "params", "environment", "inputs", "location")
KEY_VERSION = 1


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True, frozen=True)
class RunKey:
    key: str
    parts: dict[str, str]


def compute_run_key(
    *,
    code_digest: str,
    params: dict[str, Any],
    environment_digest: str,
    inputs: list[dict[str, Any]],
    location: dict[str, str],
) -> RunKey:
    parts = {
        "code": code_digest,
        "params": _digest(params),
        "environment": environment_digest,
        "inputs": _digest(sorted((item["path"], item["sha256"]) for item in inputs)),
        "location": _digest(location),
    }
    return RunKey(_digest({"version": KEY_VERSION, **parts}), parts)


def hash_input_files(paths: list[str], root: str, cache_dir: str | None) -> list[dict[str, Any]]:
    """Content hashes of declared input files; a file whose size, mtime and inode are unchanged is not
    read again (data files can be large, and a cached re-run must stay fast)."""
    described = []
    for given in paths:
        path = os.path.abspath(given)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise UsageError(f"--input {given}: no such file") from None
        except OSError as exc:
            raise UsageError(f"--input {given}: {exc.strerror or exc}") from None
        if os.path.isdir(path):
            raise UsageError(f"--input {given}: is a directory; declare the files it holds")
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        cache_path = None
        sha = None
        if cache_dir is not None:
            cache_path = os.path.join(
                cache_dir, "input-" + hashlib.sha1(path.encode()).hexdigest()[:20] + ".json"
            )
            cached = read_json_or_none(cache_path)
            if isinstance(cached, dict) and cached.get("path") == path and cached.get("stamp") == stamp:
                sha = cached.get("sha256")
        if not isinstance(sha, str):
            sha = _sha256_file(path, given)
            if cache_path is not None:
                try:
                    os.makedirs(cache_dir or ".", exist_ok=True)
                    atomic_write_json(cache_path, {"path": path, "stamp": stamp, "sha256": sha})
                except OSError:
                    pass
        described.append({"path": relative_to(path, root), "sha256": sha, "size": st.st_size})
    return described


def _sha256_file(path: str, given: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise UsageError(f"--input {given}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def relative_to(path: str, root: str) -> str:
    """``path`` relative to the project root when it lies inside it, else absolute."""
    path = os.path.abspath(path)
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return path
    return path if rel == ".." or rel.startswith(".." + os.sep) else rel.replace(os.sep, "/")


def explain_key_difference(run: dict[str, Any], other: dict[str, Any]) -> list[dict[str, Any]]:
    """Which parts of the key differ between two stored runs, each with readable details.

    ``run`` and ``other`` are run records as :meth:`RunStore.load_record` returns them (with
    ``environment`` loaded)."""
    parts, other_parts = run.get("key_parts") or {}, other.get("key_parts") or {}
    differences = []
    for part in KEY_PARTS:
        if parts.get(part) == other_parts.get(part):
            continue
        differences.append({"part": part, "details": _details(part, run, other)})
    return differences


def _details(part: str, run: dict[str, Any], other: dict[str, Any]) -> list[str]:
    if part == "code":
        return _cell_changes(other.get("cells") or [], run.get("cells") or [])
    if part == "params":
        mine, theirs = run.get("params") or {}, other.get("params") or {}
        lines = []
        for name in sorted(set(mine) | set(theirs)):
            if name not in theirs:
                lines.append(f"{name}: (unset) -> {_show(mine[name])}")
            elif name not in mine:
                lines.append(f"{name}: {_show(theirs[name])} -> (unset)")
            elif mine[name] != theirs[name] or type(mine[name]) is not type(theirs[name]):
                lines.append(f"{name}: {_show(theirs[name])} -> {_show(mine[name])}")
        return lines
    if part == "environment":
        mine_env, their_env = run.get("environment") or {}, other.get("environment") or {}
        lines = []
        for field in ("kernel", "python", "implementation", "machine"):
            if mine_env.get(field) != their_env.get(field):
                lines.append(f"{field}: {their_env.get(field)} -> {mine_env.get(field)}")
        lines += package_changes(their_env.get("packages") or {}, mine_env.get("packages") or {})
        return lines or ["the kernel's interpreter changed"]
    if part == "inputs":
        mine_in = {i["path"]: i["sha256"] for i in run.get("inputs") or []}
        their_in = {i["path"]: i["sha256"] for i in other.get("inputs") or []}
        lines = []
        for path in sorted(set(mine_in) | set(their_in)):
            if path not in their_in:
                lines.append(f"+{path} (newly declared)")
            elif path not in mine_in:
                lines.append(f"-{path} (no longer declared)")
            elif mine_in[path] != their_in[path]:
                lines.append(f"{path}: content changed")
        return lines
    mine_loc, their_loc = run.get("location") or {}, other.get("location") or {}
    return [
        f"{name}: {their_loc.get(name)} -> {mine_loc.get(name)}"
        for name in ("notebook", "cwd")
        if mine_loc.get(name) != their_loc.get(name)
    ]


def _cell_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    def label(cell: dict[str, Any]) -> str:
        cell_id = f" (id {cell['id']})" if cell.get("id") else ""
        return f"cell {int(cell['index']) + 1}{cell_id}"

    with_ids = all(c.get("id") for c in before + after)
    key = "id" if with_ids else "index"
    old = {c[key]: c for c in before}
    new = {c[key]: c for c in after}
    lines = []
    for cell in after:
        previous = old.get(cell[key])
        if previous is None:
            lines.append(f"{label(cell)}: added")
        elif previous["digest"] != cell["digest"]:
            lines.append(f"{label(cell)}: changed")
    for cell in before:
        if cell[key] not in new:
            lines.append(f"{label(cell)}: removed")
    if not lines and [c["digest"] for c in before] != [c["digest"] for c in after]:
        lines.append("cells were reordered")
    return lines or ["the code changed"]


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
