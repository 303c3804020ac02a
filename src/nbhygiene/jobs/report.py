"""Rendering runs for people (text) and programs (JSON)."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO


def emit_json(document: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    stream.flush()


def show_value(value: Any, width: int = 28) -> str:
    if isinstance(value, float):
        text = "nan" if math.isnan(value) else f"{value:.6g}"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, dict) and set(value) == {"figure"}:
        text = "<figure>"
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def short_path(path: str | None) -> str:
    if not path:
        return "-"
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("../..") else path


def run_line(run: dict[str, Any], *, show_notebook: str | None = None) -> str:
    params = " ".join(f"{k}={show_value(v, 16)}" for k, v in sorted(run.get("params", {}).items()))
    metrics = " ".join(
        f"{k}={show_value(v, 16)}"
        for k, v in sorted(run.get("metrics", {}).items())
        if not (isinstance(v, dict) and "figure" in v)
    )
    duration = f"{run['duration_s']:.1f}s" if isinstance(run.get("duration_s"), (int, float)) else "-"
    parts = [f"{run['status']:<11}", str(run.get("id") or "-"), duration]
    if show_notebook:
        parts.append(show_notebook)
    if params:
        parts.append(params)
    if metrics:
        parts.append("-> " + metrics)
    line = "  ".join(parts)
    error = run.get("error")
    if error and run["status"] not in ("succeeded", "cached"):
        line += f"\n    {error.get('message', '')}"
        if error.get("cell_position"):
            line += f" (cell {error['cell_position']})"
    return line


def print_runs(runs: Sequence[dict[str, Any]], stream: TextIO | None = None, *, summary: bool = True) -> None:
    stream = stream or sys.stdout
    for run in runs:
        stream.write(run_line(run) + "\n")
        if run.get("output_notebook") and run["status"] not in ("running",):
            stream.write(f"    output: {short_path(run['output_notebook'])}\n")
    if summary and runs:
        counts: dict[str, int] = {}
        for run in runs:
            counts[run["status"]] = counts.get(run["status"], 0) + 1
        stream.write(
            f"{len(runs)} run(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + "\n"
        )


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(header)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)
