"""Helpers for the tests of the debt rules (NBH110-NBH113, NBH201-NBH202): notebooks built in memory
(static checks need no kernel), checked with one rule."""

from __future__ import annotations

from typing import Any

from nbhygiene.config import Config
from nbhygiene.engine import check_data
from nbhygiene.findings import Finding


def notebook(*cells: str | dict[str, Any], executed: bool = False) -> dict[str, Any]:
    """A notebook from cell sources (or full cell dicts); cell ids are c0, c1, ..."""
    built = []
    for i, cell in enumerate(cells):
        if isinstance(cell, str):
            cell = {"source": cell}
        built.append(
            {
                "cell_type": cell.get("cell_type", "code"),
                "id": cell.get("id", f"c{i}"),
                "metadata": {"tags": cell["tags"]} if cell.get("tags") else {},
                "source": cell["source"],
                **(
                    {"outputs": cell.get("outputs", []), "execution_count": (i + 1) if executed else None}
                    if cell.get("cell_type", "code") == "code"
                    else {}
                ),
            }
        )
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "cells": built,
    }


def check(code: str, data: dict[str, Any], **options: Any) -> list[Finding]:
    """The findings of the rule ``code`` on the notebook ``data``, with rule ``options``."""
    config = Config(select=[code], options={code: options} if options else {})
    result = check_data(data, "test.ipynb", config)
    assert result.error is None, result.error
    return [f for f in result.findings if f.code == code]
