"""``edited-after-run``: a live-kernel rule. It reads the kernel's execution history, which a saved file
does not hold, so it is silent in ``nbhygiene check`` and speaks only in ``%nbhygiene live``.

The history is an optional fact that the live analysis (:mod:`nbhygiene.widgets.live`) attaches to the
:class:`~nbhygiene.analysis.NotebookAnalysis` with :func:`attach_live_history`; the fact's type lives
here, next to the rule that reads it, so that the core never imports the widget package.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule

if TYPE_CHECKING:
    from nbhygiene.analysis import NotebookAnalysis
    from nbhygiene.model import Cell

_FACT = "live_history"


@dataclass(frozen=True, slots=True)
class LiveHistory:
    """What a live kernel knows that a saved notebook cannot.

    ``inputs[n]`` is the code the kernel ran as execution ``n`` (IPython's ``In``, or better its raw
    input history: what was typed, before IPython's transformation); ``inputs[0]`` is empty.
    ``current`` is the execution that asks for the analysis: it is neither a cell's past nor a change.
    ``namespace`` holds the names the user namespace defines now (None when unknown).
    """

    inputs: tuple[str, ...]
    current: int | None = None
    namespace: frozenset[str] | None = None

    def ran_as(self, count: int | None) -> str | None:
        """The code of execution ``count``, or None when this kernel has no such execution."""
        if count is None or count < 1 or count >= len(self.inputs) or count == self.current:
            return None
        return self.inputs[count]

    def executions(self) -> range:
        return range(1, len(self.inputs))


def attach_live_history(analysis: NotebookAnalysis, history: LiveHistory) -> None:
    # NotebookAnalysis is a plain dataclass without slots: an optional fact is an instance attribute.
    vars(analysis)[_FACT] = history


def live_history_of(analysis: NotebookAnalysis) -> LiveHistory | None:
    history = vars(analysis).get(_FACT)
    return history if isinstance(history, LiveHistory) else None


def normalized_lines(code: str) -> list[str]:
    """Lines that compare equal when only trailing blanks or surrounding blank lines differ (IPython
    strips the trailing newline of what it stores; front ends differ on the rest)."""
    lines = [line.rstrip() for line in code.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def same_code(saved: str, ran: str) -> bool:
    """Whether a cell's saved source is the code that ran. ``ran`` may be IPython's transformed form
    (``In`` holds ``get_ipython().run_line_magic(...)`` where the cell says ``%time``)."""
    if normalized_lines(saved) == normalized_lines(ran):
        return True
    from nbhygiene.source import transform_ipython

    return normalized_lines(transform_ipython(saved)) == normalized_lines(ran)


def first_difference(saved: str, ran: str) -> int:
    """The 1-based line of the saved source where it first differs from the code that ran."""
    saved_lines, ran_lines = saved.splitlines(), ran.splitlines()
    for line, (a, b) in enumerate(zip(saved_lines, ran_lines, strict=False), 1):
        if a.rstrip() != b.rstrip():
            return line
    return max(1, min(len(saved_lines), len(ran_lines) + 1))


def cells_by_count(cells: Sequence[Cell]) -> dict[int, Cell]:
    """Executed code cells by execution count, leaving out counts that two cells share: one session gives
    each count to one cell, so a shared count comes from an earlier session and names neither cell."""
    owners: dict[int, Cell] = {}
    shared: set[int] = set()
    for cell in cells:
        count = cell.execution_count
        if not cell.is_code or count is None:
            continue
        if count in owners:
            shared.add(count)
        owners[count] = cell
    return {count: cell for count, cell in owners.items() if count not in shared}


def saved_counts_match(cells: Sequence[Cell], history: LiveHistory) -> bool:
    """Whether the saved execution counts come from this kernel's session.

    A count this kernel never reached, or several executed cells none of which matches the code of its
    count, means the notebook was saved from another session (or not since the kernel restarted):
    comparing would call every cell edited.
    """
    candidates = 0
    matches = 0
    for cell in cells:
        count = cell.execution_count
        if not cell.is_code or count is None or count == history.current:
            continue
        if count >= len(history.inputs):
            return False
        candidates += 1
        matches += same_code(cell.source, history.inputs[count])
    return candidates < 2 or matches > 0


class EditedAfterRun(Rule):
    """A cell's source changed after it last ran: its output and its values come from other code.

    ## What it does
    Compares each executed cell's saved source with the code the kernel really ran under that cell's
    execution count (`In[n]`). When they differ, the cell was edited after it ran: what it printed and
    the values it left in the kernel come from the earlier code. This needs the kernel's history, so the
    rule fires only in the live analysis (`%load_ext nbhygiene`, then `%nbhygiene live`); a saved file
    cannot show it and `nbhygiene check` never reports it. Its trigger and trap fixtures are therefore
    live kernel sessions (`tests/widgets/test_live.py`), not static notebooks under
    `tests/fixtures/rules/`. Nothing is reported when the saved execution counts do not belong to the
    kernel's session (the notebook was saved before a restart), and a count that two cells share (one
    of them kept it from an earlier session) is not compared. Save the notebook before the check: the
    kernel compares its history with the saved file.

    ## Why it matters
    The notebook shows one thing and the kernel holds another. `threshold = 0.7` on screen while the
    model was trained with `threshold = 0.5`: every cell below computes from a value no cell shows,
    and "Restart & Run All" gives other results.

    ## Example
    ```python
    # ran as [4] with `threshold = 0.5`, then edited and never re-run
    threshold = 0.7
    ```

    ## What to do instead
    Re-run the edited cell and the cells that depend on it, or restart the kernel and run all cells.
    """

    code = "NBH014"
    name = "edited-after-run"
    summary = "A cell's source changed after it last ran: its output and values come from other code."
    severity = Severity.WARNING
    family = Family.HIDDEN_STATE
    # It reads the saved counts, but a notebook saved without any simply gives it nothing to compare; left
    # False so that `no-execution-history` does not list a rule that a static check never runs anyway.
    needs_history = False

    def check(self, ctx: Context) -> Iterator[Report]:
        history = live_history_of(ctx.analysis)
        if history is None:  # a static check: the history is not in the file
            return
        cells = ctx.analysis.code_cells
        if not saved_counts_match(cells, history):
            return
        for count, cell in sorted(cells_by_count(cells).items(), key=lambda item: item[1].index):
            ran = history.ran_as(count)
            if ran is None or same_code(cell.source, ran):
                continue
            line = first_difference(cell.source, ran)
            yield Report(
                f"Cell edited after it ran as [{count}]: its output and the values it left in the kernel "
                f"come from the code of In[{count}], not from this source (first difference at line {line})",
                cell,
                line,
                1,
            )
