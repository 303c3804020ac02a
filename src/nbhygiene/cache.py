"""The results cache: a re-run over unchanged notebooks is nearly free.

One JSON file per configuration fingerprint (and tool version) under the user's cache directory
(``NBHYGIENE_CACHE_DIR``, else ``$XDG_CACHE_HOME/nbhygiene``, else ``~/.cache/nbhygiene``), so nothing is
written into the user's repository. An entry is valid when the file's size, modification and change times and inode match,
or else when its content hash matches. Entries hold findings only; rules never put a secret in a message,
so the cache never holds one either. Writes are atomic; a corrupt cache file is ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from nbhygiene.__about__ import __version__
from nbhygiene.config import Config
from nbhygiene.findings import FileError, FileResult, Finding
from nbhygiene.loading import content_hash


def _code_fingerprint() -> str:
    """Changes whenever nbhygiene's own code changes (an upgrade, or an editable install being edited)."""
    import hashlib

    package = os.path.dirname(os.path.abspath(__file__))
    stamp = []
    for directory, _subdirs, files in os.walk(package):
        for name in sorted(files):
            if name.endswith(".py"):
                stat = os.stat(os.path.join(directory, name))
                stamp.append(f"{directory}/{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.blake2b("\n".join(sorted(stamp)).encode(), digest_size=6).hexdigest()


def cache_dir() -> str:
    explicit = os.environ.get("NBHYGIENE_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nbhygiene")


def _stamp(stat: os.stat_result) -> list[int]:
    """Size, modification and change times, inode: any write changes the change time, even one that
    restores the modification time, so only an unchanged file skips the content hash."""
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


class ResultsCache:
    def __init__(self, file: str) -> None:
        self.file = file
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        try:
            with open(file, encoding="utf-8") as handle:
                data = json.load(handle)
            if isinstance(data, dict) and data.get("version") == __version__:
                entries = data.get("entries")
                if isinstance(entries, dict):
                    self.entries = entries
        except (OSError, ValueError):
            pass

    @classmethod
    def for_config(cls, config: Config) -> ResultsCache:
        name = f"results-{__version__}-{_code_fingerprint()}-{config.fingerprint()}.json"
        return cls(os.path.join(cache_dir(), name))

    def get(self, path: str) -> FileResult | None:
        key = os.path.abspath(path)
        entry = self.entries.get(key)
        if entry is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if entry.get("stamp") != _stamp(stat):
            try:
                with open(path, "rb") as handle:
                    digest = content_hash(handle.read())
            except OSError:
                return None
            if digest != entry.get("hash"):
                return None
            entry["stamp"] = _stamp(stat)
            self.dirty = True
        try:
            findings = [Finding.from_json(f, path) for f in entry["findings"]]
            error = FileError(**entry["error"]) if entry.get("error") else None
        except (KeyError, TypeError, ValueError):
            return None
        return FileResult(path, findings, error=error, cached=True)

    def put(self, path: str, digest: str, result: FileResult) -> None:
        try:
            stat = os.stat(path)
        except OSError:
            return
        self.entries[os.path.abspath(path)] = {
            "stamp": _stamp(stat),
            "hash": digest,
            "findings": [f.to_json(internal=True) for f in result.findings],
            "error": result.error.to_json() if result.error else None,
        }
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        directory = os.path.dirname(self.file)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=directory, prefix=".results-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": __version__, "entries": self.entries}, handle, separators=(",", ":"))
            os.replace(temp, self.file)
        except OSError:
            pass  # a read-only home must not fail the check
        self.dirty = False
