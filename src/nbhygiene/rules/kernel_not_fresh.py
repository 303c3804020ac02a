from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class KernelNotFresh(Rule):
    """The notebook was not run from a fresh kernel: the lowest execution count is above 1.

    ## What it does
    Reports the cell with the lowest execution count when that count is greater than 1: the kernel had
    already executed code that is not in the notebook (or was re-run) before the first visible cell ran.

    ## Why it matters
    Whatever ran first (an import, a variable, a monkey patch) may be what makes the notebook work.

    ## Example
    The first code cell shows [12].

    ## What to do instead
    Use "Restart Kernel and Run All Cells" before saving.
    """

    code = "NBH009"
    name = "kernel-not-fresh"
    summary = "The lowest execution count is above 1: the kernel ran code not shown before."
    severity = Severity.INFO
    family = Family.HIDDEN_STATE
    needs_python = False
    needs_history = True

    def check(self, ctx: Context) -> Iterator[Report]:
        executed = ctx.analysis.executed
        if not executed:
            return
        first = executed[0]
        if (first.execution_count or 0) > 1:
            yield Report(
                f"Lowest execution count is [{first.execution_count}]: "
                f"{(first.execution_count or 1) - 1} execution(s) happened before any cell shown",
                first,
                1,
                1,
            )
