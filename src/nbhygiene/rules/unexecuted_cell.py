from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class UnexecutedCell(Rule):
    """A code cell with source was not executed while cells after it were.

    ## What it does
    Reports a code cell that has source but no execution count when a code cell below it was executed.
    A trailing cell that was never run (work in progress at the end) is not reported.

    ## Why it matters
    The saved outputs below it were computed without this cell. Either it is dead code, or running the
    notebook top to bottom will do something the author never saw.

    ## Example
    ```python
    # Cell 3, never ran
    df = df[df["alcohol"] > 11]
    # Cell 4, ran as [5]
    model.fit(df[features], df["target"])
    ```

    ## What to do instead
    Run the cell (or restart and run all), or delete it if it is an abandoned experiment.
    """

    code = "NBH002"
    name = "unexecuted-cell"
    summary = "A code cell with source was not executed while cells after it were."
    severity = Severity.WARNING
    family = Family.HIDDEN_STATE
    needs_python = False
    needs_history = True

    def check(self, ctx: Context) -> Iterator[Report]:
        cells = ctx.analysis.code_cells
        last_executed = max((c.index for c in cells if c.execution_count is not None), default=-1)
        for cell in cells:
            if cell.index >= last_executed:
                break
            if cell.execution_count is None and cell.has_source and not _only_comments(cell.source):
                yield Report("Cell was not executed, but cells below it were", cell, 1, 1)


def _only_comments(source: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in source.splitlines())
