from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class StarImport(Rule):
    """A cell imports every public name of a module with `from module import *`.

    ## What it does
    Reports each `from module import *` in a code cell (also inside `if`/`try` blocks and in
    `%%time`/`%%capture` cells). `%pylab`, which star-imports numpy and matplotlib, is not reported
    here: it is deprecated and shows up as hidden state in the other rules.

    ## Why it matters
    A reader cannot tell where a name comes from, a later star import silently shadows names from an
    earlier one (`from numpy import *` replaces the builtin `sum`, `max`, `round`, ...), and the
    analysis cannot know which names the cell defines, so `undefined-name` and
    `use-before-definition` go quiet for the rest of the notebook.

    ## Example
    ```python
    from sklearn.metrics import *

    print(accuracy_score(y_test, y_pred))
    ```

    ## What to do instead
    Import the names you use, or the module under a short alias:
    ```python
    from sklearn.metrics import accuracy_score
    # or: from sklearn import metrics; metrics.accuracy_score(...)
    ```
    """

    code = "NBH101"
    name = "star-import"
    summary = "A cell imports every public name of a module with `from module import *`."
    severity = Severity.WARNING
    family = Family.NOTEBOOK

    def check(self, ctx: Context) -> Iterator[Report]:
        cells = ctx.notebook.cells
        for index, flow in ctx.analysis.flows.items():
            if not flow.star_imports:
                continue
            cell = cells[index]
            lines = cell.source.splitlines()
            for module, line in flow.star_imports:
                text = lines[line - 1] if 0 < line <= len(lines) else ""
                column = text.find("from") + 1 if "from" in text else None
                yield Report(
                    f"`from {module} import *` hides where names come from; import the names you use",
                    cell,
                    line,
                    column,
                )
