"""``not-reproducible``: an execution-only rule. It reports what a fresh top-to-bottom run of the notebook
showed, which a saved file alone cannot, so it is silent in ``nbhygiene check`` and speaks only with
``nbhygiene check --execute``.

The run is an optional fact that :mod:`nbhygiene.reproduce` attaches to the
:class:`~nbhygiene.analysis.NotebookAnalysis` with :func:`attach_execution_result` (the pattern of
``edited-after-run`` and its live history); the fact's types live here, next to the rule that reads them,
so that the core never imports the executor.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule

if TYPE_CHECKING:
    from nbhygiene.analysis import NotebookAnalysis

_FACT = "execution_result"


@dataclass(frozen=True, slots=True)
class CellReplay:
    """One code cell whose fresh outputs differ from its saved ones (already normalised and compared).

    ``related`` holds the static findings that explain the difference, each as ``{"rule", "code",
    "cell_index", "cell_position", "line"}``; ``line`` is where the difference starts in the cell's source
    when known (the line of the explaining finding)."""

    cell_index: int
    message: str
    line: int | None = None
    related: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What re-executing the notebook in a fresh kernel showed.

    ``differences``: the cells that did not reproduce. ``blocker``: why the notebook could not run here
    for a reason outside it (a missing package or data file, no network, no kernel, a timeout), or None;
    ``blocked_cell`` is the cell where that happened (None: before the first cell)."""

    differences: tuple[CellReplay, ...] = ()
    blocker: str | None = None
    blocked_cell: int | None = None


def attach_execution_result(analysis: NotebookAnalysis, result: ExecutionResult) -> None:
    # NotebookAnalysis is a plain dataclass without slots: an optional fact is an instance attribute.
    vars(analysis)[_FACT] = result


def execution_result_of(analysis: NotebookAnalysis) -> ExecutionResult | None:
    result = vars(analysis).get(_FACT)
    return result if isinstance(result, ExecutionResult) else None


class NotReproducible(Rule):
    """A cell's saved outputs are not what a fresh "Restart & Run All" produces.

    ## What it does
    With `nbhygiene check --execute`, the notebook is executed top to bottom in a fresh kernel (a copy:
    nothing is written next to it, the working directory is the notebook's own) and every code cell's
    saved outputs are compared with the fresh ones: stdout and stderr text, displayed values
    (`text/plain`), errors (type and message) and whether the cell ran at all. Images are compared by
    size and a downscaled grayscale difference, never byte for byte. Known-volatile content is
    normalised first: `%time`/`%%time` and `%timeit` timings, memory addresses (`0x7f...`), progress
    bars (`\\r` lines, tqdm), file paths and line numbers of warnings, dates and times, temporary paths.
    Like "Run All", the run stops at the first error. The message shows the first differing lines and
    names the static findings that explain the difference (for example a `NameError` for a name that
    `use-before-definition` reports at the same cell). A plain `nbhygiene check` never runs a notebook,
    so this rule is silent there; its trigger and trap notebooks live in `tests/fixtures/reproduce/`.

    ## Why it matters
    A notebook is a record of results. When a fresh run gives other numbers, or fails, the saved results
    came from hidden kernel state (cells run out of order, edited or deleted after they ran) or from
    unseeded randomness, and nobody, including its author, can get them again.

    ## Example
    ```python
    # cell 7, saved with output `0.91`; `threshold` is only defined in cell 9
    accuracy = (scores > threshold).mean()
    accuracy
    ```

    ## What to do instead
    Fix the cause the finding names (define names before use, seed the randomness, re-run edited
    cells), then restart the kernel, run all cells and save.
    """

    code = "NBH015"
    name = "not-reproducible"
    summary = 'A cell\'s saved outputs are not what a fresh "Restart & Run All" produces.'
    severity = Severity.ERROR
    family = Family.HIDDEN_STATE

    def check(self, ctx: Context) -> Iterator[Report]:
        result = execution_result_of(ctx.analysis)
        if result is None:  # a static check: nothing was executed
            return
        cells = ctx.analysis.notebook.cells
        for replay in result.differences:
            if 0 <= replay.cell_index < len(cells):
                yield Report(replay.message, cells[replay.cell_index], replay.line, related=replay.related)
