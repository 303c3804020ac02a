from __future__ import annotations

import re
from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule
from nbhygiene.rules.secret_in_notebook import redact

# Cell tags that say "this cell is meant to fail" (nbsphinx, nbval, Jupyter Book / MyST-NB).
EXPECTED_ERROR_TAGS = frozenset({"raises-exception", "nbval-raises-exception"})
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class SavedErrorOutput(Rule):
    """A cell was saved with an error (a traceback) as its output.

    ## What it does
    Reports each code cell whose saved outputs contain an error (an exception raised by the cell,
    including `KeyboardInterrupt`). The message gives the exception type and the first line of its
    message (redacted if it holds a credential).

    Errors that are meant to be there are not reported: cells tagged `raises-exception` (the
    convention of nbsphinx, Jupyter Book/MyST-NB and nbval, which also accepts the tag
    `nbval-raises-exception` and a `# NBVAL_RAISES_EXCEPTION` comment), and every cell of a notebook
    whose metadata sets
    `"nbsphinx": {"allow_errors": true}`. The tag `skip-execution` is not an exemption: it tells a
    documentation build not to run the cell, not that its saved traceback is expected.
    A traceback merely printed to stderr (by `traceback.print_exc()` or a failing `!command`) is not an
    error output and is not reported.

    ## Why it matters
    A saved traceback says the notebook did not run cleanly when it was saved: either the results
    below it came from an earlier, different state of the kernel, or the notebook is broken for the
    next person. Readers cannot tell whether the error matters.

    ## Example
    ```python
    final_model.predict_proba(new_patient)
    # ValueError: X has 30 features, but LogisticRegression is expecting 10 features as input.
    ```

    ## What to do instead
    Fix the cause, restart the kernel and run all cells, then save. If the cell demonstrates an
    error on purpose, tag it `raises-exception` (documentation builders then expect the error too).
    """

    code = "NBH107"
    name = "saved-error-output"
    summary = "A cell was saved with an error (a traceback) as its output."
    severity = Severity.WARNING
    family = Family.NOTEBOOK
    needs_python = False

    def check(self, ctx: Context) -> Iterator[Report]:
        nbsphinx = ctx.notebook.metadata.get("nbsphinx")
        if isinstance(nbsphinx, dict) and nbsphinx.get("allow_errors") is True:
            return
        for cell in ctx.notebook.cells:
            if not cell.is_code or not cell.outputs or cell.tags & EXPECTED_ERROR_TAGS:
                continue
            if "NBVAL_RAISES_EXCEPTION" in cell.source:
                continue
            for output in cell.outputs:
                if output.get("output_type") == "error":
                    yield Report(f"Saved with an error output: {_describe(output)}", cell)
                    break


def _describe(output: dict[str, object]) -> str:
    name = _ANSI.sub("", str(output.get("ename") or "error")).strip() or "error"
    value = _ANSI.sub("", str(output.get("evalue") or "")).strip().split("\n", 1)[0]
    if not value:
        return f"`{name[:80]}`"
    value = redact(value)
    if len(value) > 100:
        value = value[:97] + "..."
    return f"`{name[:80]}: {value}`"
