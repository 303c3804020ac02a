from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule

MAX_LINES = 60


class LongCell(Rule):
    """A code cell has more lines of code than `max-lines` (default 60).

    ## What it does
    Counts the lines of a Python code cell that are neither blank nor comment-only (a cell magic's
    own `%%time` line is not counted either) and reports cells with more than `max-lines`. Cells in
    other languages (`%%bash`, `%%html`, `%%sql`, `%%writefile` ...) are not counted: they are
    scripts or files, not notebook code. The limit is configurable:

    ```toml
    [tool.nbhygiene.options.long-cell]
    max-lines = 80
    ```

    ## Why it matters
    A long cell does many things at once: it cannot be re-run in part, its intermediate results are
    invisible, its errors are harder to locate, and it usually hides functions that belong in a
    module where they can be tested and reused.

    ## Example
    A 150-line cell that loads the data, cleans it, engineers features, trains three models and plots
    their scores.

    ## What to do instead
    Split the cell at its natural steps (load, clean, features, train, evaluate) with a markdown
    heading for each, and move reusable functions into a module that the notebook imports.
    """

    code = "NBH109"
    name = "long-cell"
    summary = "A code cell has more lines of code than `max-lines` (default 60)."
    severity = Severity.INFO
    family = Family.NOTEBOOK
    options = {"max-lines": MAX_LINES}

    def check(self, ctx: Context) -> Iterator[Report]:
        try:
            limit = int(ctx.option("max-lines", MAX_LINES))
        except (TypeError, ValueError):
            limit = MAX_LINES
        for parsed in ctx.analysis.parsed.values():
            if parsed.kind not in ("python", "syntax-error"):
                continue
            source = parsed.cell.source
            if source.count("\n") < limit:
                continue  # cannot have more than `limit` lines
            lines = source.splitlines()
            count = 0
            first: int | None = None
            for number, line in enumerate(lines, 1):
                text = line.strip()
                if text and not text.startswith("#") and not (parsed.cell_magic and text.startswith("%%")):
                    count += 1
                    first = first or number
            if count > limit:
                yield Report(
                    f"Cell has {count} lines of code (limit {limit}); split it into smaller steps"
                    " or move functions into a module",
                    parsed.cell,
                    first,
                )
