from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class NonIdempotentCell(Rule):
    """Running the cell twice changes state again (or fails the second time).

    ## What it does
    Reports a cell that changes a name it did not create itself, in a way that compounds: `x = x + 1`,
    `x += 1`, `lst.append(...)`/`extend`/`pop`/`remove` on a list from another cell,
    `df["a"] = df["a"] * 2`, `X = np.log(X)`, `X = X[1:]`, `del x`, `df.drop(..., inplace=True)`,
    `reset_index(inplace=True)`, `partial_fit`. Idempotent in-place changes such as
    `df.dropna(inplace=True)` or `df = df[mask]` are not reported. Module state such as
    `sys.path.append` is ignored.

    ## Why it matters
    Notebook cells get re-run all the time. A cell that doubles a column on every run gives results
    that depend on how often somebody pressed Shift+Enter, which nobody can reproduce.

    ## Example
    ```python
    # Cell 4 (df comes from cell 2)
    df["alcohol"] = df["alcohol"] * 10
    ```

    ## What to do instead
    Derive a new name (`df_scaled = df.assign(alcohol=df["alcohol"] * 10)`), or create the object in the
    same cell that changes it, so re-running the cell starts from the same state.
    """

    code = "NBH006"
    name = "non-idempotent-cell"
    summary = "Running the cell twice changes state (x = x + 1, list.append on another cell's list, ...)."
    severity = Severity.WARNING
    family = Family.HIDDEN_STATE

    def check(self, ctx: Context) -> Iterator[Report]:
        imports = ctx.analysis.import_names
        for index, flow in sorted(ctx.analysis.flows.items()):
            evidence = [(ref, why) for ref, why in flow.non_idempotent if ref.name not in imports]
            if not evidence:
                continue
            ref, why = evidence[0]
            more = f" (and {len(evidence) - 1} more)" if len(evidence) > 1 else ""
            yield Report(
                f"Cell is not idempotent: {why}{more}",
                ctx.notebook.cells[index],
                ref.line,
                ref.column,
                ref.end_line,
                ref.end_column,
            )
