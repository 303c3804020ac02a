from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class NoExecutionHistory(Rule):
    """The notebook was saved without execution counts; history rules were skipped.

    ## What it does
    Reports once when no code cell has an execution count (outputs stripped by nbstripout, or a
    notebook paired through jupytext), and says which rules needed that history and were skipped.

    ## Why it matters
    `execution-order`, `unexecuted-cell`, `stale-output`, `execution-count-gap` and `kernel-not-fresh`
    read the saved execution counts. Without them those problems cannot be seen.

    ## Example
    Every code cell shows `[ ]`.

    ## What to do instead
    Nothing, if stripping is deliberate. In pre-commit, run the `nbhygiene-check` hook before any
    output-stripping hook so that it still sees the history.
    """

    code = "NBH011"
    name = "no-execution-history"
    summary = "Saved without execution counts: rules needing execution history were skipped."
    severity = Severity.INFO
    family = Family.NOTEBOOK
    needs_python = False

    def check(self, ctx: Context) -> Iterator[Report]:
        code_cells = [c for c in ctx.analysis.code_cells if c.has_source]
        if code_cells and not ctx.notebook.has_execution_history:
            from nbhygiene.rules import history_rule_names

            yield Report(
                "No execution counts saved (stripped outputs?): skipped " + ", ".join(history_rule_names())
            )
