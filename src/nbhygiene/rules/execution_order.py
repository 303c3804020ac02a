from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class ExecutionOrder(Rule):
    """Code cells were executed in a different order than they appear.

    ## What it does
    Reads the saved execution counts and finds the fewest cells that break the top-to-bottom order
    (the cells outside the longest increasing run of counts), and reports each of them. When the first
    cell was re-run at the end, that one cell is reported, not every cell below it.

    ## Why it matters
    The outputs you see were produced by a different sequence than "Restart & Run All" will use. A
    colleague (or a scheduled job) running the notebook top to bottom may get other numbers or a
    NameError.

    ## Example
    ```python
    # Cell 1, ran as [3]
    model.fit(X_train, y_train)
    # Cell 2, ran as [2]
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    ```

    ## What to do instead
    Reorder the cells so that they run top to bottom, then use "Restart Kernel and Run All Cells"
    before you save or commit.
    """

    code = "NBH001"
    name = "execution-order"
    summary = "Code cells were executed in a different order than they appear."
    severity = Severity.WARNING
    family = Family.HIDDEN_STATE
    needs_python = False
    needs_history = True

    def check(self, ctx: Context) -> Iterator[Report]:
        cells = [c for c in ctx.analysis.code_cells if c.execution_count is not None]
        for cell in ctx.analysis.out_of_order:
            count = cell.execution_count or 0
            above = [c for c in cells if c.index < cell.index and (c.execution_count or 0) > count]
            below = [c for c in cells if c.index > cell.index and (c.execution_count or 0) < count]
            if above:
                other = above[-1]  # the nearest cell above that ran later
                detail = f"before cell {other.position} above it, which ran as [{other.execution_count}]"
            elif below:
                other = below[0]  # the nearest cell below that ran earlier
                detail = f"after cell {other.position} below it, which ran as [{other.execution_count}]"
            else:  # pragma: no cover - equal counts
                detail = "out of order"
            yield Report(f"Cell ran as [{count}], {detail}: cells ran out of order", cell, 1, 1)
