from __future__ import annotations

import itertools
from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class ExecutionCountGap(Rule):
    """Executions happened that no cell in the notebook shows any more.

    ## What it does
    Looks for gaps in the saved execution counts (for example [3] then [7]). Each missing number is an
    execution whose cell was re-run later, edited, or deleted. One notebook-level finding summarises
    the gaps, so that busy notebooks are not flooded.

    ## Why it matters
    Code that ran but is not visible may have defined the state the outputs depend on. Gaps are the
    trace that hidden state leaves; the other hidden-state rules say which names are affected.

    ## Example
    Cells numbered [1], [2], [9], [10]: executions 3 to 8 are not in the notebook.

    ## What to do instead
    Restart the kernel and run all cells before saving, so counts run 1, 2, 3, ... without gaps.
    """

    code = "NBH008"
    name = "execution-count-gap"
    summary = "Executions happened that no cell in the notebook shows (re-run, edited or deleted cells)."
    severity = Severity.INFO
    family = Family.HIDDEN_STATE
    needs_python = False
    needs_history = True

    def check(self, ctx: Context) -> Iterator[Report]:
        executed = ctx.analysis.executed
        gaps: list[tuple[int, int]] = []
        for before, after in itertools.pairwise(executed):
            a, b = before.execution_count or 0, after.execution_count or 0
            if b - a > 1:
                gaps.append((a, b))
        if not gaps:
            return
        missing = sum(b - a - 1 for a, b in gaps)
        shown = ", ".join(f"[{a}]→[{b}]" for a, b in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
        yield Report(f"{missing} execution(s) are not shown by any cell (gaps {shown})")
