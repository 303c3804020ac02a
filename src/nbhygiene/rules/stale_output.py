from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.dataflow import NameRef
from nbhygiene.findings import Family, Severity
from nbhygiene.model import Cell
from nbhygiene.rule import Context, Report, Rule


class StaleOutput(Rule):
    """A cell's saved output was computed before a cell above it changed a name the cell reads.

    ## What it does
    For every executed code cell with saved outputs, looks at the names it reads (directly, or through
    the functions it calls). If a cell *above* it ran *later* (a higher execution count) and rebound or
    mutated one of those names, the output on screen was computed from the old value. Re-running an
    import does not count (the module is the same).

    ## Why it matters
    The output no longer matches the code above it: "Restart & Run All" prints something else. Numbers
    copied from such an output into a report cannot be reproduced.

    ## Example
    ```python
    # Cell 2, ran as [7] after an edit
    threshold = 0.7
    # Cell 3, ran as [4]: its printed precision used the old threshold
    print(precision_score(y_test, proba > threshold))
    ```

    ## What to do instead
    Re-run the cells below any cell you change (or restart and run all) before saving.
    """

    code = "NBH005"
    name = "stale-output"
    summary = "A cell's saved output was computed before a cell executed later changed a name it reads."
    severity = Severity.WARNING
    family = Family.HIDDEN_STATE
    needs_history = True

    def check(self, ctx: Context) -> Iterator[Report]:
        analysis = ctx.analysis
        executed = [
            c for c in analysis.code_cells if c.execution_count is not None and c.index in analysis.flows
        ]
        for cell in executed:
            if not _shows_output(cell):
                continue
            flow = analysis.flows[cell.index]
            reads = {ref.name: ref for ref in (*flow.reads, *flow.soft_reads)}
            for invoked in flow.invoked:
                for _index, facts in analysis.functions.get(invoked.name, ()):
                    for name in analysis.closure_reads(facts, {}):
                        reads.setdefault(name, invoked)
            if not reads:
                continue
            count = cell.execution_count or 0
            culprit = _latest_change(ctx, cell, count, reads)
            if culprit is None:
                continue
            changer, name = culprit
            ref = reads[name]
            yield Report(
                f"Output is stale: cell {changer.position} above ran later as [{changer.execution_count}] and "
                f"changed `{name}`, which this cell (ran as [{count}]) reads",
                cell,
                ref.line,
                ref.column,
                ref.end_line,
                ref.end_column,
                related=({"cell_index": changer.index, "cell_position": changer.position},),
            )


def _shows_output(cell: Cell) -> bool:
    return any(o.get("output_type") in ("stream", "execute_result", "display_data") for o in cell.outputs)


def _latest_change(
    ctx: Context, cell: Cell, count: int, reads: dict[str, NameRef]
) -> tuple[Cell, str] | None:
    analysis = ctx.analysis
    best: tuple[Cell, str] | None = None
    for other in analysis.code_cells:
        if other.index >= cell.index:
            break
        other_count = other.execution_count
        if other_count is None or other_count <= count or other.index not in analysis.flows:
            continue
        flow = analysis.flows[other.index]
        changed = [n for n in flow.defines if not flow.import_only(n)]
        changed.extend(flow.mutations)
        for invoked in flow.invoked:
            for _i, facts in analysis.functions.get(invoked.name, ()):
                changed.extend(facts.global_writes)
                changed.extend(facts.global_mutations)
        for name in changed:
            if name in reads and name not in analysis.import_names:
                if best is None or (other_count > (best[0].execution_count or 0)):
                    best = (other, name)
                break
    return best
