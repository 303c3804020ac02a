from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class NotebookSchema(Rule):
    """The notebook file does not follow the nbformat schema in a way the analysis noticed.

    ## What it does
    Reports structural problems found while reading (a cell that is not an object, a `source` that is
    neither a string nor a list of strings, an execution count that is not an integer, ...) and old
    formats that were upgraded in memory. Full schema validation is left to `jupyter nbconvert` and
    nbformat; this rule reports only what affected the analysis.

    ## Why it matters
    JupyterLab may refuse to open, or silently repair, such a file; other tools may crash on it.

    ## Example
    `"execution_count": "3"` (a string).

    ## What to do instead
    Open and save the notebook in JupyterLab, or run `python -m nbformat.validator` on it (nbformat's
    validator), and fix the reported fields.
    """

    code = "NBH012"
    name = "notebook-schema"
    summary = "The file deviates from the nbformat schema (or is an old format upgraded in memory)."
    severity = Severity.INFO
    family = Family.NOTEBOOK
    needs_python = False

    def check(self, ctx: Context) -> Iterator[Report]:
        notebook = ctx.notebook
        if notebook.upgraded:
            major, minor = notebook.nbformat_version
            yield Report(f"nbformat {major}.{minor} notebook, upgraded to version 4 in memory for analysis")
        for index, problem in notebook.schema_problems:
            cell = notebook.cells[index] if index is not None and index < len(notebook.cells) else None
            yield Report(f"Schema problem: {problem}", cell)
