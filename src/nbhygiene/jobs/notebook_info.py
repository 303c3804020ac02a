"""What a run needs to know about its notebook, read straight from the notebook's JSON.

Like papermill, the ``parameters`` cell is the first code cell whose ``metadata.tags`` holds
``parameters``. Its literal assignments are the run's default parameters; everything else in the notebook
is "code", hashed after normalisation so that re-formatting, comments and outputs do not change a run's
key while any change to what executes does.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from nbhygiene.jobs.errors import UsageError

PARAMETERS_TAG = "parameters"
INJECTED_PARAMETERS_TAG = "injected-parameters"
# papermill inserts markdown cells with this tag next to a failure; they are never part of the code.
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
PYTHON_LANGUAGES = frozenset({"python", "python3", "ipython", "ipython3", ""})

MISSING_PARAMETERS_HELP = (
    "no code cell is tagged 'parameters', so there is nothing a run can change "
    "(nbhygiene rule missing-parameters-cell). Fix: move the values a run may vary into one code cell "
    "and tag it 'parameters' -- in JupyterLab select the cell, open the Property Inspector (the gear icon "
    "in the right sidebar) > Cell Tags and add 'parameters'; or let `nbhygiene check --fix NOTEBOOK` "
    "add the tag for you."
)


class MissingParametersCell(UsageError):
    """The notebook has no ``parameters`` cell; the message names the rule and how to fix it."""


@dataclass(slots=True)
class CellDigest:
    """The hash of one executed cell, kept per run so that ``runs show`` can say which cell changed."""

    index: int  # 0-based over all cells of the source notebook
    cell_id: str | None
    digest: str

    @property
    def position(self) -> int:
        return self.index + 1

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.cell_id, "digest": self.digest}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellDigest:
        return cls(int(data["index"]), data.get("id"), str(data["digest"]))


@dataclass(slots=True)
class NotebookInfo:
    path: str  # absolute
    data: dict[str, Any]  # nbformat 4 JSON
    kernel_name: str
    language: str
    parameters_cell_index: int | None
    defaults: dict[str, Any] = field(default_factory=dict)
    # Names assigned in the parameters cell to something that is not a literal (``Path("data")``):
    # they can be overridden but have no JSON default, so they live in the code hash instead.
    computed_defaults: dict[str, str] = field(default_factory=dict)
    cells: list[CellDigest] = field(default_factory=list)
    code_digest: str = ""

    @property
    def is_python(self) -> bool:
        return self.language in PYTHON_LANGUAGES

    @property
    def known_parameters(self) -> set[str]:
        return set(self.defaults) | set(self.computed_defaults)

    def require_parameters_cell(self) -> None:
        if self.parameters_cell_index is None:
            raise MissingParametersCell(f"{self.path}: {MISSING_PARAMETERS_HELP}")


def load_notebook_info(path: str) -> NotebookInfo:
    """Read ``path`` and describe it; raise :class:`UsageError` with a readable message when it is not a
    notebook (the core's loader already names every way a file can fail to be one)."""
    from nbhygiene.loading import NotebookLoadError, load_notebook

    try:
        loaded = load_notebook(path)
    except NotebookLoadError as exc:
        raise UsageError(exc.message) from None
    return describe_notebook(loaded.data, os.path.abspath(path))


def describe_notebook(data: dict[str, Any], path: str) -> NotebookInfo:
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    kernelspec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    language_info = metadata.get("language_info") if isinstance(metadata.get("language_info"), dict) else {}
    assert isinstance(kernelspec, dict) and isinstance(language_info, dict)
    kernel_name = str(kernelspec.get("name") or "python3")
    language = str(kernelspec.get("language") or language_info.get("name") or "python").lower()
    cells = [cell for cell in data.get("cells", []) if isinstance(cell, dict)]

    info = NotebookInfo(
        path=path,
        data=data,
        kernel_name=kernel_name,
        language=language,
        parameters_cell_index=find_tagged_cell(cells, PARAMETERS_TAG),
    )
    digests: list[CellDigest] = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        tags = cell_tags(cell)
        if INJECTED_PARAMETERS_TAG in tags or index == info.parameters_cell_index:
            # A stale papermill injection runs after the parameters cell, so its values are defaults too.
            defaults, computed, residual = split_parameters(source, info.is_python)
            info.defaults.update(defaults)
            info.computed_defaults.update(computed)
            for name in defaults:
                info.computed_defaults.pop(name, None)
            normalized = residual
        else:
            normalized = normalize_code(source, info.is_python)
        if not normalized:
            continue
        digest = hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:16]
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) else None
        digests.append(CellDigest(index, cell_id, digest))
    info.cells = digests
    info.code_digest = code_digest(digests, language)
    return info


def code_digest(cells: list[CellDigest], language: str) -> str:
    joined = "\n".join([language] + [cell.digest for cell in cells])
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]


def find_tagged_cell(cells: list[dict[str, Any]], tag: str) -> int | None:
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and tag in cell_tags(cell):
            return index
    return None


def cell_tags(cell: dict[str, Any]) -> list[str]:
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def normalize_code(source: str, is_python: bool = True) -> str:
    """A form of ``source`` that ignores comments, blank lines and formatting.

    Python that parses is compared by its AST (line numbers left out); anything else -- IPython magics,
    shell escapes, another kernel's language -- by its lines with comments and blanks dropped.
    """
    if is_python:
        try:
            return ast.dump(ast.parse(source), include_attributes=False)
        except (SyntaxError, ValueError, RecursionError):
            pass
    lines = []
    for line in source.splitlines():
        stripped = line.rstrip()
        if not stripped.strip() or stripped.lstrip().startswith("#"):
            continue
        lines.append(stripped)
    return "\n".join(lines)


def split_parameters(source: str, is_python: bool) -> tuple[dict[str, Any], dict[str, str], str]:
    """Split a parameters cell into JSON defaults, computed defaults and the normalised rest.

    ``n_estimators = 100`` is a default; ``data_dir = Path("data")`` is a computed default (its name can
    be overridden, but its value is code); anything else (an import, a print) is code.
    """
    if not is_python:
        return {}, {}, normalize_code(source, is_python=False)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return {}, {}, normalize_code(source, is_python=False)
    defaults: dict[str, Any] = {}
    computed: dict[str, str] = {}
    rest: list[ast.stmt] = []
    for statement in tree.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        if isinstance(target, ast.Name) and value is not None:
            literal = _json_literal(value)
            if literal is not _NOT_LITERAL:
                defaults[target.id] = literal
                computed.pop(target.id, None)
                continue
            computed[target.id] = ast.get_source_segment(source, value) or ast.unparse(value)
            defaults.pop(target.id, None)
        rest.append(statement)
    residual = ast.dump(ast.Module(body=rest, type_ignores=[]), include_attributes=False) if rest else ""
    return defaults, computed, residual


_NOT_LITERAL = object()


def _json_literal(node: ast.expr) -> Any:
    """The value of a literal expression if it is representable as JSON, else ``_NOT_LITERAL``."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return _NOT_LITERAL
