from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class Python2Notebook(Rule):
    """The notebook targets Python 2; Python analysis was skipped.

    ## What it does
    Reports once per notebook when its kernel metadata names Python 2 or its cells use Python 2 syntax
    (`print x`, `exec "..."`), instead of one syntax error per cell.

    ## Why it matters
    Python 2 reached its end of life in 2020; the notebook cannot run on a current kernel.

    ## Example
    ```python
    print "accuracy:", acc
    ```

    ## What to do instead
    Port the notebook to Python 3 (`print(...)`, `except E as e`), for example with `2to3 -w`, and
    update its kernel.
    """

    code = "NBH010"
    name = "python2-notebook"
    summary = "The notebook targets Python 2; Python analysis was skipped."
    severity = Severity.WARNING
    family = Family.NOTEBOOK

    def check(self, ctx: Context) -> Iterator[Report]:
        evidence = ctx.analysis.python2_evidence
        if evidence:
            yield Report(f"Python 2 notebook ({evidence}); Python analysis skipped")
