"""``cannot-execute``: an execution-only rule, reporting why ``nbhygiene check --execute`` could not run a
notebook here. It reads the fact :mod:`nbhygiene.rules.not_reproducible` defines and is silent otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule
from nbhygiene.rules.not_reproducible import execution_result_of


class CannotExecute(Rule):
    """The notebook could not be re-executed here, for a reason outside it.

    ## What it does
    With `nbhygiene check --execute`, reports a notebook whose fresh run stopped for an external reason:
    a package that is not installed (`ModuleNotFoundError`, `ImportError`), a data file that is not
    there (`FileNotFoundError`), no network (`ConnectionError`, `URLError`, `gaierror`, ...), a kernel
    that is not installed, or the `--timeout`. The cause and the cell are in the message. Such a
    notebook is not called non-reproducible: the cells that ran before the stop are still compared,
    the cells after it are not. A plain `nbhygiene check` never runs a notebook, so this rule is silent
    there.

    ## Why it matters
    Whether a notebook reproduces can only be checked where it can run. Saying so plainly keeps a
    missing dataset from being mistaken for hidden state, and tells you what the notebook needs.

    ## Example
    ```python
    import lightgbm  # not installed where `nbhygiene check --execute` runs
    ```

    ## What to do instead
    Run the check in the notebook's own environment (install its requirements, provide its data, or use
    the `nbhygiene-reproduce` pre-commit hook, which runs with your environment's kernel), or declare
    what it needs in a requirements file next to it.
    """

    code = "NBH016"
    name = "cannot-execute"
    summary = "The notebook could not be re-executed here, for a reason outside it."
    severity = Severity.INFO
    family = Family.NOTEBOOK

    def check(self, ctx: Context) -> Iterator[Report]:
        result = execution_result_of(ctx.analysis)
        if result is None or result.blocker is None:
            return
        cells = ctx.analysis.notebook.cells
        index = result.blocked_cell
        where = f"cell {cells[index].position}: " if index is not None and 0 <= index < len(cells) else ""
        yield Report(f"Cannot execute this notebook here: {where}{result.blocker}")
