from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.model import Cell
from nbhygiene.rule import Context, Report, Rule


class UndefinedName(Rule):
    """A cell reads a name that no cell defines.

    ## What it does
    Reports a name that is read but bound by no cell of the notebook: not by an assignment, import,
    function or class, loop, `with`/`except` target, walrus, pattern, magic (`%%capture out`,
    `%store -r x`, `x = !ls`) or a function called with `global`. Builtins and IPython's names
    (`display`, `get_ipython`, `In`, `Out`, `_`, `_i3`, ...) are known. Nothing is reported when the
    notebook has a star import, `%run`, `exec` or a write to `globals()`, since those can define any
    name. When the cell's saved output shows it ran without a NameError, the message says the name
    came from code that is no longer in the notebook. A name deleted with `del` and read afterwards is
    reported too. Extra builtins (for example `spark` on Databricks) go in `builtins` in the config.

    ## Why it matters
    The name lived only in the kernel that produced the outputs: a deleted cell, an edited cell or an
    interactive session. Nobody else can run this notebook.

    ## Example
    ```python
    # the cell that defined FEATURES was deleted
    X = df[FEATURES]
    ```

    ## What to do instead
    Restore the definition in a cell above, then restart the kernel and run all cells to confirm.
    """

    code = "NBH004"
    name = "undefined-name"
    summary = "A cell reads a name that no cell defines."
    severity = Severity.ERROR
    family = Family.HIDDEN_STATE

    def check(self, ctx: Context) -> Iterator[Report]:
        cells = ctx.notebook.cells
        for issue in ctx.analysis.run_all:
            name = issue.ref.name
            if issue.kind == "deleted" and issue.deleted_in is not None:
                message = f"`{name}` is read after cell {cells[issue.deleted_in].position} deleted it"
            elif issue.kind == "nowhere":
                via = f" in `{issue.via}`" if issue.via and issue.via != "<lambda>" else ""
                message = f"`{name}`{via} is not defined in any cell"
                # A cell that only defines a function proves nothing about the names its body reads.
                if issue.via is None and _ran_without_name_error(issue.cell, name):
                    message += " (it ran here, so it came from a deleted or edited cell or another session)"
            else:
                continue
            yield Report(
                message,
                issue.cell,
                issue.ref.line,
                issue.ref.column,
                issue.ref.end_line,
                issue.ref.end_column,
            )


def _ran_without_name_error(cell: Cell, name: str) -> bool:
    if cell.execution_count is None:
        return False
    for output in cell.outputs:
        if output.get("output_type") == "error" and output.get("ename") == "NameError":
            return False
    return True
