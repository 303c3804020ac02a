from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from nbhygiene.findings import Family, Severity
from nbhygiene.model import Cell
from nbhygiene.rule import Context, Report, Rule

MAX_BYTES = 1_000_000
MAX_TOTAL_BYTES = 5_000_000


class LargeOutput(Rule):
    """A cell's saved outputs, or all outputs of the notebook together, are very large.

    ## What it does
    Adds up the size of each code cell's saved outputs (stream text, every mime type of rich outputs,
    error tracebacks) and reports a cell whose outputs exceed `max-bytes` (default 1 MB), naming the
    biggest mime type. Reports the notebook once when all outputs together exceed `max-total-bytes`
    (default 5 MB). Sizes are string lengths as stored in the file: base64 images are measured, never
    decoded, so a notebook with 100 MB of images is checked in milliseconds. Widget state in the
    notebook metadata and markdown attachments are not counted.

    ```toml
    [tool.nbhygiene.options.large-output]
    max-bytes = 2_000_000
    max-total-bytes = 10_000_000
    ```

    ## Why it matters
    Large outputs make the notebook slow to open, bloat the git history with every re-run (each one
    is a new multi-megabyte blob), make diffs and reviews unreadable, and often mean a whole data
    frame or thousands of log lines were printed by accident.

    ## Example
    ```python
    df                       # prints a 200,000-row frame as HTML
    for epoch in range(500):
        print(history[epoch])
    ```

    ## What to do instead
    Show summaries (`df.head()`, `df.describe()`), log to a file, save large figures to files and
    display smaller versions (lower `dpi`, PNG instead of embedded interactive HTML), and clear big
    outputs before committing (`jupyter nbconvert --clear-output`, or `nbstripout`).
    """

    code = "NBH108"
    name = "large-output"
    summary = "A cell's saved outputs, or all outputs of the notebook together, are very large."
    severity = Severity.WARNING
    family = Family.NOTEBOOK
    needs_python = False
    options = {"max-bytes": MAX_BYTES, "max-total-bytes": MAX_TOTAL_BYTES}

    def check(self, ctx: Context) -> Iterator[Report]:
        limit = _int_option(ctx, "max-bytes", MAX_BYTES)
        total_limit = _int_option(ctx, "max-total-bytes", MAX_TOTAL_BYTES)
        total = 0
        for cell in ctx.notebook.cells:
            if not cell.outputs:
                continue
            sizes = output_sizes(cell)
            size = sum(sizes.values())
            total += size
            if size > limit:
                biggest = max(sizes, key=lambda key: sizes[key])
                yield Report(
                    f"Saved outputs take {_human(size)} (limit {_human(limit)}), mostly {biggest}"
                    f" ({_human(sizes[biggest])}); clear or shrink them",
                    cell,
                )
        if total > total_limit:
            yield Report(f"All saved outputs take {_human(total)} (limit {_human(total_limit)})")


def _int_option(ctx: Context, name: str, default: int) -> int:
    try:
        return int(ctx.option(name, default))
    except (TypeError, ValueError):
        return default


def _length(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(len(part) if isinstance(part, str) else _length(part) for part in value)
    if value is None:
        return 0
    try:
        return len(json.dumps(value))
    except (TypeError, ValueError):
        return 0


def output_sizes(cell: Cell) -> dict[str, int]:
    """Stored size of a cell's outputs by kind ("text/html", "image/png", "stdout", "error", ...)."""
    sizes: dict[str, int] = {}
    for output in cell.outputs:
        kind = output.get("output_type")
        if kind == "stream":
            key = str(output.get("name") or "stream")
            sizes[key] = sizes.get(key, 0) + _length(output.get("text"))
        elif kind == "error":
            sizes["error"] = (
                sizes.get("error", 0) + _length(output.get("traceback")) + _length(output.get("evalue"))
            )
        else:
            data = output.get("data")
            if isinstance(data, dict):
                for mime, value in data.items():
                    sizes[mime] = sizes.get(mime, 0) + _length(value)
    return sizes


def _human(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} kB"
    return f"{size} bytes"
