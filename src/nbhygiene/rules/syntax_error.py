from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class SyntaxErrorRule(Rule):
    """A code cell is not valid Python, even after IPython's transformation.

    ## What it does
    Parses every code cell the way IPython would run it (magics, `!cmd`, `obj?` and top-level `await`
    are understood) and reports the first syntax error in each cell. The other cells are still
    analysed. Non-Python cell magics (`%%bash`, `%%sql`, ...) are not parsed. A Python 2 notebook gets
    one `python2-notebook` finding instead of one error per cell.

    ## Why it matters
    The cell cannot run, and nothing after it that depends on it can either.

    ## Example
    ```python
    model.fit(X, y
    ```

    ## What to do instead
    Fix the syntax; if the cell is meant for another language, start it with the cell magic for that
    language (`%%bash`, `%%sql`, ...).
    """

    code = "NBH007"
    name = "syntax-error"
    summary = "A code cell is not valid Python, even after IPython's transformation."
    severity = Severity.ERROR
    family = Family.NOTEBOOK

    def check(self, ctx: Context) -> Iterator[Report]:
        if ctx.analysis.python2_evidence:
            return
        for parsed in ctx.analysis.parsed.values():
            if parsed.syntax_error is None:
                continue
            message, line, column = parsed.syntax_error
            yield Report(f"Syntax error: {message}", parsed.cell, line, column)
