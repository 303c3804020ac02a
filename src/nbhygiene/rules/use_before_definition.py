from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class UseBeforeDefinition(Rule):
    """A cell reads a name that only a later cell (or a later line of the same cell) defines.

    ## What it does
    Simulates "Restart & Run All": walks the code cells top to bottom and reports a read of a name that
    no earlier cell has defined yet, while a cell further down does define it. Function bodies are read
    where the function is called (or passed as a callback), as Python binds them late.

    ## Why it matters
    The notebook only worked because the cells ran in another order. Run top to bottom it stops with a
    NameError, or silently uses a value from an earlier session.

    ## Example
    ```python
    # Cell 2
    clf = LogisticRegression(C=C)
    # Cell 5
    C = 0.5
    ```

    ## What to do instead
    Move the defining cell above its first use, or move the use below the definition.
    """

    code = "NBH003"
    name = "use-before-definition"
    summary = "A cell reads a name that only a later cell defines."
    severity = Severity.ERROR
    family = Family.HIDDEN_STATE

    def check(self, ctx: Context) -> Iterator[Report]:
        cells = ctx.notebook.cells
        for issue in ctx.analysis.run_all:
            if issue.kind != "later":
                continue
            name = issue.ref.name
            later = [cells[i].position for i in issue.defined_in if i != issue.cell.index]
            where = f"cell {later[0]}" if later else "a later line of this cell"
            if len(later) > 1:
                where = "cells " + ", ".join(str(p) for p in later)
            via = f" (through `{issue.via}`)" if issue.via else ""
            yield Report(
                f"`{name}` is read{via} before it is defined: only {where} below defines it",
                issue.cell,
                issue.ref.line,
                issue.ref.column,
                issue.ref.end_line,
                issue.ref.end_column,
                related=tuple(
                    {"cell_index": i, "cell_position": cells[i].position} for i in issue.defined_in
                ),
            )
