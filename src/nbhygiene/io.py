"""Atomic writes: a user's file is replaced whole or not at all (temp file in the same folder + rename)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any


def atomic_write_text(path: str, text: str) -> None:
    """Replace ``path`` whole or not at all. A target that exists and is not a regular file (``/dev/null``,
    a named pipe, ``/dev/stdout``) is written in place: renaming over it would replace a device."""
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        return
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if os.path.exists(path):
            os.chmod(temp, os.stat(path).st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def atomic_write_notebook(path: str, notebook: dict[str, Any]) -> None:
    """Write notebook JSON the way Jupyter does (indent 1, sorted keys, trailing newline)."""
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_text(path, text)
