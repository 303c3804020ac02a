"""Small file helpers shared by the store and the executors: atomic writes and UTC timestamps."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import tempfile
from typing import Any


def atomic_write_bytes(path: str, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never a torn one.

    The temporary file lives in the same directory (``os.replace`` is atomic only within a file system).
    ``durable`` fsyncs it first, so that after a power cut a replaced file does not come back empty; the
    frequent saves of a running notebook skip that (the final save is durable).
    """
    directory = os.path.dirname(path) or "."
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path)[:40], dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise


def dumps_json(value: Any, *, indent: int | None = 1) -> str:
    return json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def atomic_write_json(path: str, value: Any) -> None:
    atomic_write_bytes(path, dumps_json(value).encode("utf-8"))


def write_notebook_json(path: str, notebook: Any, *, durable: bool = True) -> None:
    """Write a notebook the way nbformat lays it out on disk (indent 1, sorted keys), atomically.

    ``nbformat.write`` would validate the whole document on every save; the executor saves after
    cells, so that cost would be paid many times per run for a document we built ourselves.
    """
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_json_or_none(path: str) -> Any:
    """The parsed file, or None when it is missing or unreadable (a half-created run folder)."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def now_iso() -> str:
    return iso(utc_now())


def parse_iso(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text)
