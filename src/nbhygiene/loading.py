"""Reading notebook files without trusting them.

The hot path is ``json.loads`` of the raw bytes: no schema validation and no decoding of output
payloads (a 100 MB image output stays one string). Old formats (v1-v3) are upgraded in memory through
nbformat's converters. Anything that is not a notebook raises :class:`NotebookLoadError` with a kind and a
message naming the reason, so that a run over many files reports it and goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any


class NotebookLoadError(Exception):
    """The file cannot be analysed as a notebook. ``kind`` is a stable machine-readable word."""

    def __init__(self, kind: str, message: str, content_hash: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.content_hash = content_hash  # set when the bytes were read (the error is then cacheable)


@dataclass(slots=True)
class LoadedNotebook:
    """A notebook as plain JSON data (nbformat 4 shape), plus what loading noticed."""

    path: str
    data: dict[str, Any]
    original_version: tuple[int, int]
    content_hash: str
    size: int
    upgraded: bool = False
    schema_problems: list[tuple[int | None, str]] = field(default_factory=list)


def content_hash(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise NotebookLoadError("not-found", f"{path}: no such file") from None
    except IsADirectoryError:
        raise NotebookLoadError("not-a-file", f"{path}: is a directory") from None
    except PermissionError:
        raise NotebookLoadError("unreadable", f"{path}: permission denied") from None
    except OSError as exc:
        raise NotebookLoadError("unreadable", f"{path}: {exc.strerror or exc}") from None


def load_notebook(path: str) -> LoadedNotebook:
    """Read and parse ``path``; raise :class:`NotebookLoadError` when it is not a notebook."""
    raw = read_bytes(path)
    digest = content_hash(raw)
    size = len(raw)
    try:
        text = decode(raw, path)
        # Let go of the bytes before parsing: a huge notebook is then held at most twice (text, then
        # parsed strings), never three times as json.loads(bytes) would.
        del raw
        data = parse_json(text, path)
        del text
        return loaded_from_data(data, path, digest, size)
    except NotebookLoadError as exc:
        exc.content_hash = digest
        raise


def decode(raw: bytes, path: str) -> str | bytes:
    """UTF-8 text, or the bytes themselves when json must detect another encoding (BOM, UTF-16)."""
    if not raw or raw.isspace():
        raise NotebookLoadError("empty", f"{path}: the file is empty")
    if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return raw
    if b"\x00" in raw[:8192]:
        raise NotebookLoadError("binary", f"{path}: binary data, not a JSON notebook")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookLoadError(
            "not-utf8", f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def parse_json(text: str | bytes, path: str) -> Any:
    try:
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise NotebookLoadError(
            "not-utf8", f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        # Ends early: the error is at the end of the (decoded) document, or inside a string that never
        # closes. `{"cells": [}` fails one character before the end and is invalid, not truncated.
        truncated = exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string")
        reason = "truncated JSON (the file ends early)" if truncated else f"invalid JSON: {exc.msg}"
        raise NotebookLoadError(
            "invalid-json", f"{path}: {reason} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise NotebookLoadError("invalid-json", f"{path}: JSON nested too deeply") from None


def loaded_from_data(data: Any, path: str, digest: str = "", size: int = 0) -> LoadedNotebook:
    """Check the top-level shape of parsed JSON and upgrade old formats to nbformat 4."""
    if not isinstance(data, dict):
        raise NotebookLoadError(
            "not-a-notebook", f"{path}: the JSON document is a {type(data).__name__}, not a notebook object"
        )
    major = data.get("nbformat")
    minor = data.get("nbformat_minor", 0)
    if major is None and "cells" not in data and "worksheets" not in data:
        raise NotebookLoadError(
            "not-a-notebook", f"{path}: JSON without 'nbformat' or 'cells': not a notebook"
        )
    if not isinstance(major, int):
        major = 4 if "cells" in data else 3
    if not isinstance(minor, int):
        minor = 0
    if major > 4:
        raise NotebookLoadError(
            "unsupported-version", f"{path}: nbformat {major} is newer than this tool knows"
        )
    loaded = LoadedNotebook(path, data, (major, minor), digest, size)
    if major < 4:
        loaded.data = _upgrade(data, major, path)
        loaded.upgraded = True
    if not isinstance(loaded.data.get("cells"), list):
        raise NotebookLoadError("not-a-notebook", f"{path}: no 'cells' list: not a notebook")
    return loaded


def _upgrade(data: dict[str, Any], major: int, path: str) -> dict[str, Any]:
    if major in (2, 3) or "worksheets" in data:
        return upgrade_v3(data)  # nbformat 2 shares version 3's layout for what the analysis reads
    # nbformat 1 is rare; nbformat's own converters handle it (importing nbformat costs time).
    import nbformat

    try:
        node = nbformat.from_dict(data)
        node = nbformat.versions[major].to_notebook_json(node)
        upgraded = nbformat.convert(node, 4)
    except Exception as exc:  # nbformat's converters raise many types on malformed input
        raise NotebookLoadError(
            "unsupported-version", f"{path}: nbformat {major} notebook could not be upgraded: {exc}"
        ) from None
    return _to_plain(upgraded)


_V3_OUTPUT_TYPES = {"pyout": "execute_result", "pyerr": "error"}


def upgrade_v3(data: dict[str, Any]) -> dict[str, Any]:
    """nbformat 3 -> 4, as nbformat.v4.convert does it, tolerating missing keys.

    Done here because importing nbformat pulls in jsonschema, which can cost seconds.
    """
    cells: list[Any] = []
    worksheets = data.get("worksheets")
    for sheet in worksheets if isinstance(worksheets, list) else []:
        sheet_cells = sheet.get("cells") if isinstance(sheet, dict) else None
        for cell in sheet_cells if isinstance(sheet_cells, list) else []:
            cells.append(_upgrade_v3_cell(cell) if isinstance(cell, dict) else cell)
    metadata = dict(data.get("metadata") or {}) if isinstance(data.get("metadata"), dict) else {}
    metadata.pop("name", None)
    metadata.pop("signature", None)
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 0}


def _upgrade_v3_cell(cell: dict[str, Any]) -> dict[str, Any]:
    kind = cell.get("cell_type")
    metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    if kind == "code":
        outputs = []
        for output in cell.get("outputs") or []:
            if not isinstance(output, dict):
                continue
            output = dict(output)
            output_type = _V3_OUTPUT_TYPES.get(output.get("output_type", ""), output.get("output_type"))
            output["output_type"] = output_type
            if output_type == "execute_result":
                output["execution_count"] = output.pop("prompt_number", None)
            if output_type == "stream":
                output["name"] = output.pop("stream", "stdout")
            outputs.append(output)
        return {
            "cell_type": "code",
            "source": cell.get("input", ""),
            "execution_count": cell.get("prompt_number"),
            "outputs": outputs,
            "metadata": metadata,
        }
    if kind == "heading":
        level = cell.get("level", 1) if isinstance(cell.get("level"), int) else 1
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        return {
            "cell_type": "markdown",
            "source": "#" * level + " " + " ".join(source.splitlines()),
            "metadata": metadata,
        }
    if kind == "html":
        kind = "markdown"
    return {"cell_type": kind, "source": cell.get("source", ""), "metadata": metadata}


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    return value


def is_notebook_path(path: str) -> bool:
    return path.endswith(".ipynb") and os.sep + ".ipynb_checkpoints" + os.sep not in os.sep + path
