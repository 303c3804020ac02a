"""The rule interface. One rule per module under :mod:`nbhygiene.rules`; the class docstring is the doc.

A rule never walks the syntax tree for names itself: it reads the facts that
:class:`~nbhygiene.analysis.NotebookAnalysis` computed once for the whole notebook.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.findings import Family, Fix, Severity
from nbhygiene.model import Cell

DOC_SECTIONS = ("What it does", "Why it matters", "Example", "What to do instead")


@dataclass(frozen=True, slots=True)
class Report:
    """What a rule says; the engine turns it into a :class:`~nbhygiene.findings.Finding`."""

    message: str
    cell: Cell | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    fix: Fix | None = None
    related: tuple[dict[str, Any], ...] = ()


class Context:
    """What a rule may read: the analysis, and the rule's options from the configuration."""

    def __init__(self, analysis: NotebookAnalysis, options: dict[str, Any]) -> None:
        self.analysis = analysis
        self.notebook = analysis.notebook
        self.options = options

    def option(self, name: str, default: Any) -> Any:
        return self.options.get(name, default)


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    severity: ClassVar[Severity]
    family: ClassVar[Family]
    needs_python: ClassVar[bool] = True  # skipped for R, Julia, ... notebooks
    needs_history: ClassVar[bool] = False  # skipped when the notebook was saved without execution counts
    options: ClassVar[dict[str, Any]] = {}  # configurable settings and their defaults

    def check(self, ctx: Context) -> Iterator[Report]:
        raise NotImplementedError

    @classmethod
    def doc(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        sections: dict[str, str] = {}
        current: str | None = None
        for line in cls.doc().splitlines():
            match = re.match(r"^##\s+(.*?)\s*$", line)
            if match:
                current = match.group(1)
                sections[current] = ""
            elif current is not None:
                sections[current] += line + "\n"
        return {k: v.strip() for k, v in sections.items()}

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "code": cls.code,
            "name": cls.name,
            "summary": cls.summary,
            "severity": cls.severity.value,
            "family": cls.family.value,
            "needs_history": cls.needs_history,
            "options": dict(cls.options),
        }


def cell_report(
    cell: Cell, message: str, line: int | None = None, column: int | None = None, **kw: Any
) -> Report:
    return Report(message, cell, line, column, **kw)
