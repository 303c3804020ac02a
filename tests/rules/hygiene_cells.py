"""Notebooks built in memory for the hygiene rules' unit tests (NBH101-NBH109).

The executed fixture notebooks under tests/fixtures/rules/ prove each rule on real files; these small
notebooks cover many more shapes of cells and outputs cheaply (including installs and credentials that
must never be executed).
"""

from __future__ import annotations

import hashlib
from typing import Any

from nbhygiene.config import Config
from nbhygiene.engine import check_data
from nbhygiene.findings import Finding


def code(
    source: str, cell_id: str | None = None, outputs: list[dict[str, Any]] | None = None, **meta: Any
) -> dict:
    return {
        "cell_type": "code",
        "id": cell_id or "c" + hashlib.blake2b(source.encode(), digest_size=4).hexdigest(),
        "metadata": meta,
        "source": source,
        "outputs": outputs or [],
        "execution_count": None,
    }


def markdown(source: str, cell_id: str = "md") -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": source}


def notebook(cells: list[dict | str], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    built = [code(c, f"cell{i}") if isinstance(c, str) else c for i, c in enumerate(cells)]
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            **(metadata or {}),
        },
        "cells": built,
    }


def findings(nb: dict[str, Any], rule: str, config: Config | None = None) -> list[Finding]:
    result = check_data(nb, "memory.ipynb", config or Config())
    assert result.error is None, result.error
    return [f for f in result.findings if f.rule == rule]


def flagged(cells: list[dict | str], rule: str, config: Config | None = None) -> list[int]:
    """0-based indexes of the cells where ``rule`` fires."""
    return sorted({f.cell_index for f in findings(notebook(cells), rule, config) if f.cell_index is not None})


def stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def display(data: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def error(ename: str, evalue: str, traceback: list[str] | None = None) -> dict[str, Any]:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback or []}
