"""The notebook model every rule reads: cells with their coordinates, execution counts and outputs.

Built from plain JSON (see :mod:`nbhygiene.loading`) without validation; structural problems are
recorded as ``schema_problems`` instead of raising, so one odd cell never stops the analysis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nbhygiene.loading import LoadedNotebook

PY2_VERSION = re.compile(r"^\s*2\.")


@dataclass(slots=True)
class Cell:
    index: int  # 0-based over all cells
    cell_type: str  # "code", "markdown", "raw" (anything else is kept as given)
    source: str
    id: str | None = None
    execution_count: int | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    tags: frozenset[str] = frozenset()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def position(self) -> int:
        """1-based position over all cells, as JupyterLab shows "Cell N/M"."""
        return self.index + 1

    @property
    def is_code(self) -> bool:
        return self.cell_type == "code"

    @property
    def has_source(self) -> bool:
        return bool(self.source.strip())

    @property
    def lines(self) -> list[str]:
        return self.source.splitlines()


@dataclass(slots=True)
class Notebook:
    path: str
    cells: list[Cell]
    metadata: dict[str, Any]
    nbformat_version: tuple[int, int]
    language: str  # lower-case kernel language; "python" when the notebook does not say
    kernel_name: str
    python_major: int | None  # 2 or 3 when the metadata says, else None
    content_hash: str = ""
    schema_problems: list[tuple[int | None, str]] = field(default_factory=list)
    upgraded: bool = False

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.is_code]

    @property
    def is_python(self) -> bool:
        return self.language in ("python", "python3", "python2", "ipython", "")

    @property
    def has_execution_history(self) -> bool:
        return any(c.execution_count is not None for c in self.cells if c.is_code)

    def cell_by_id(self, cell_id: str) -> Cell | None:
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        return None


def _join_source(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return None


def build_model(loaded: LoadedNotebook) -> Notebook:
    data = loaded.data
    problems = list(loaded.schema_problems)
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        if metadata is not None:
            problems.append((None, "notebook 'metadata' is not an object"))
        metadata = {}
    cells: list[Cell] = []
    for index, raw in enumerate(data.get("cells") or []):
        if not isinstance(raw, dict):
            problems.append((index, "cell is not a JSON object; skipped"))
            cells.append(Cell(index=index, cell_type="invalid", source=""))
            continue
        cell_type = raw.get("cell_type")
        if not isinstance(cell_type, str):
            problems.append((index, "cell has no 'cell_type'"))
            cell_type = "invalid"
        source = _join_source(raw.get("source", ""))
        if source is None:
            problems.append((index, "cell 'source' is neither a string nor a list of strings"))
            source = ""
        cell_meta = raw.get("metadata")
        if not isinstance(cell_meta, dict):
            cell_meta = {}
        tags_value = cell_meta.get("tags") or ()
        tags = (
            frozenset(t for t in tags_value if isinstance(t, str))
            if isinstance(tags_value, list)
            else frozenset()
        )
        cell_id = raw.get("id")
        if not isinstance(cell_id, str):
            cell_id = None
        count = raw.get("execution_count") if cell_type == "code" else None
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            problems.append((index, f"execution_count {count!r} is not an integer"))
            count = None
        outputs = raw.get("outputs") if cell_type == "code" else None
        if not isinstance(outputs, list):
            if cell_type == "code" and outputs is not None:
                problems.append((index, "cell 'outputs' is not a list"))
            outputs = []
        cells.append(
            Cell(
                index=index,
                cell_type=cell_type,
                source=source,
                id=cell_id,
                execution_count=count,
                outputs=[o for o in outputs if isinstance(o, dict)],
                tags=tags,
                metadata=cell_meta,
            )
        )
    language, kernel_name, py_major = _kernel_facts(metadata)
    return Notebook(
        path=loaded.path,
        cells=cells,
        metadata=metadata,
        nbformat_version=loaded.original_version,
        language=language,
        kernel_name=kernel_name,
        python_major=py_major,
        content_hash=loaded.content_hash,
        schema_problems=problems,
        upgraded=loaded.upgraded,
    )


def _kernel_facts(metadata: dict[str, Any]) -> tuple[str, str, int | None]:
    kernelspec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    info = metadata.get("language_info") if isinstance(metadata.get("language_info"), dict) else {}
    assert isinstance(kernelspec, dict) and isinstance(info, dict)
    jupytext = metadata.get("jupytext") if isinstance(metadata.get("jupytext"), dict) else {}
    assert isinstance(jupytext, dict)
    language = kernelspec.get("language") or info.get("name") or jupytext.get("main_language") or ""
    if not isinstance(language, str):
        language = ""
    language = language.strip().lower()
    kernel_name = str(kernelspec.get("name")) if isinstance(kernelspec.get("name"), str) else ""
    py_major: int | None = None
    version = info.get("version")
    if language.startswith("python") or language == "":
        if (
            (isinstance(version, str) and PY2_VERSION.match(version))
            or kernel_name in ("python2", "python2.7")
            or language == "python2"
        ):
            py_major = 2
        elif isinstance(version, str) and version.strip().startswith("3"):
            py_major = 3
        codemirror = info.get("codemirror_mode")
        if py_major is None and isinstance(codemirror, dict) and codemirror.get("version") == 2:
            py_major = 2
    if language in ("python2", "python3"):
        language = "python"
    return language, kernel_name, py_major
