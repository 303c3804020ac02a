"""The one record every front end renders: a :class:`Finding`."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValueError(f"unknown severity {value!r} (expected error, warning or info)") from None


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Family(str, enum.Enum):
    """Groups rules for the sidebar, the debt report and its score."""

    HIDDEN_STATE = "hidden-state"
    NOTEBOOK = "notebook"
    GLUE_CODE = "glue-code"
    CONFIGURATION = "configuration"
    ML_PITFALLS = "ml-pitfalls"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class Fix:
    """A change that resolves a finding. ``safe`` fixes are applied by ``check --fix``."""

    description: str
    safe: bool = False
    data: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "safe": self.safe, "data": dict(self.data)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in one notebook.

    Cell coordinates are ``None`` for notebook-level findings. ``cell_index`` is 0-based over all cells,
    ``cell_position`` is 1-based over all cells (markdown and raw included), as JupyterLab shows
    "Cell N/M". ``line``/``column`` are 1-based within the cell's source.
    """

    code: str
    rule: str
    severity: Severity
    message: str
    path: str
    cell_index: int | None = None
    cell_id: str | None = None
    cell_position: int | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    fix: Fix | None = None
    related: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    # Hash of the cell's source, for baselines (never the source itself: it may hold a secret).
    source_hash: str | None = field(default=None, compare=False)

    def to_json(self, internal: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "cell_index": self.cell_index,
            "cell_id": self.cell_id,
            "cell_position": self.cell_position,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "fix": self.fix.to_json() if self.fix else None,
        }
        # Links to the static findings that explain this one (entries naming a "rule"; other rules keep
        # plain cell references in ``related``): an additional key, present only when there are links.
        explained_by = [entry for entry in self.related if "rule" in entry]
        if explained_by:
            data["explained_by"] = explained_by
        if internal:
            data["related"] = list(self.related)
            data["source_hash"] = self.source_hash
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], path: str) -> Finding:
        fix = data.get("fix")
        return cls(
            code=data["code"],
            rule=data["rule"],
            severity=Severity(data["severity"]),
            message=data["message"],
            path=path,
            cell_index=data.get("cell_index"),
            cell_id=data.get("cell_id"),
            cell_position=data.get("cell_position"),
            line=data.get("line"),
            column=data.get("column"),
            end_line=data.get("end_line"),
            end_column=data.get("end_column"),
            fix=Fix(fix["description"], bool(fix.get("safe")), tuple((fix.get("data") or {}).items()))
            if fix
            else None,
            related=tuple(data.get("related") or ()),
            source_hash=data.get("source_hash"),
        )

    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.path,
            self.cell_index if self.cell_index is not None else -1,
            self.line or 0,
            self.column or 0,
            self.code,
        )


@dataclass(frozen=True, slots=True)
class FileError:
    """A file that could not be analysed at all (not a notebook, unreadable, ...)."""

    kind: str
    message: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(slots=True)
class FileResult:
    """What checking one file produced: either an error or a (possibly empty) list of findings."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    error: FileError | None = None
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "error": self.error.to_json() if self.error else None,
            "findings": [f.to_json() for f in self.findings],
        }
