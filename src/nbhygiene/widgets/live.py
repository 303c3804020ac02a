"""Live-kernel hidden state: the kernel's execution history read against the saved notebook.

A saved notebook shows the code its cells hold now; the kernel remembers the code it really ran
(IPython's ``In``). Their difference is where hidden state comes from:

* ``undefined-name``: a cell reads a name that no cell defines, and the kernel has it only because an
  execution whose code is in no cell any more (``In[n]``: a deleted or rewritten cell) bound it;
* ``edited-after-run``: a cell's source differs from the code it ran as (``In[execution_count]``);
* ``stale-output``: a cell's output was computed before a later execution changed a name it reads,
  where that execution was a cell above it or code that is in no cell any more.

Pure logic with no IPython or widget import: :func:`analyze_live` takes the history, the saved
notebook's JSON and the user namespace's names, and returns the same :class:`~nbhygiene.findings.Finding`
records, with the same rule names, as the static analyzer. It goes through the same engine: the notebook
model and :class:`~nbhygiene.analysis.NotebookAnalysis` are built as for ``nbhygiene check``, the history
is attached to the analysis as an optional fact, and the live variants of the rules run through
:func:`~nbhygiene.engine.findings_from_analysis`, so severities, selection and suppressions
(``# nbhygiene: ignore[...]``, cell tags, notebook metadata) apply exactly as they do to a check.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.config import Config, load_config
from nbhygiene.dataflow import CellFlow, FunctionFacts, NameRef, cell_flow
from nbhygiene.engine import analyse, findings_from_analysis
from nbhygiene.findings import Finding
from nbhygiene.model import Cell, build_model
from nbhygiene.rule import Context, Report, Rule
from nbhygiene.rules.edited_after_run import (
    EditedAfterRun,
    LiveHistory,
    attach_live_history,
    cells_by_count,
    live_history_of,
    normalized_lines,
    same_code,
    saved_counts_match,
)
from nbhygiene.rules.stale_output import StaleOutput
from nbhygiene.rules.undefined_name import UndefinedName
from nbhygiene.source import parse_cell, transform_ipython

__all__ = ["LIVE_RULES", "LiveFacts", "LiveResult", "analyze_live", "live_facts"]

_FACTS = "_nbhygiene_live_facts"


# -- what the history says ------------------------------------------------------------------------------
@dataclass(slots=True)
class Execution:
    """One entry of the kernel's history, read like a cell."""

    count: int
    code: str
    flow: CellFlow | None  # None when the code is not Python this analyzer reads (syntax error, %%bash)
    cells: list[Cell] = field(default_factory=list)  # the saved cells whose code this was ([] = none)

    @property
    def opaque(self) -> bool:
        """Whether it may have bound names nobody can see (star import, %run, exec, ...)."""
        return self.flow is not None and bool(self.flow.star_imports or self.flow.opaque)


@dataclass(slots=True)
class LiveFacts:
    """The history parsed once per analysis and matched with the saved cells; shared by the live rules."""

    analysis: NotebookAnalysis
    history: LiveHistory
    executions: dict[int, Execution]
    counts_trusted: bool  # the saved execution counts belong to this kernel's session
    last_run: dict[int, int]  # cell index -> the execution that last ran the cell's current code
    _function_versions: dict[str, list[tuple[int, FunctionFacts]]] = field(default_factory=dict)

    def function_at(self, name: str, count: int) -> FunctionFacts | None:
        """The definition of function ``name`` in effect when execution ``count`` ran."""
        versions = self._function_versions.get(name)
        if not versions:
            return None
        position = bisect.bisect_right([c for c, _ in versions], count)
        return versions[position - 1][1] if position else None

    def functions_at(self, count: int) -> dict[str, FunctionFacts]:
        known: dict[str, FunctionFacts] = {}
        for name in self._function_versions:
            facts = self.function_at(name, count)
            if facts is not None:
                known[name] = facts
        return known

    def describe(self, execution: Execution, relative_to: Cell | None = None) -> str:
        """Where an execution's code is now, for messages: ``cell 3`` or ``code no longer in any cell``."""
        if not execution.cells:
            return "code no longer in any cell of the saved notebook"
        cell = execution.cells[0]
        if not same_code(cell.source, execution.code):
            return f"an earlier version of cell {cell.position}"
        if relative_to is not None and cell.index < relative_to.index:
            return f"cell {cell.position} above"
        return f"cell {cell.position}"


def _parse_execution(count: int, code: str, python_major: int | None) -> Execution:
    cell = Cell(index=count, cell_type="code", source=code, execution_count=count)
    parsed = parse_cell(cell, python_major)
    flow = cell_flow(parsed) if parsed.kind in ("python", "empty") else None
    return Execution(count, code, flow)


def _code_keys(source: str) -> set[tuple[str, ...]]:
    keys = {tuple(normalized_lines(source))}
    if any(mark in source for mark in "%!?"):  # `In` holds IPython's transformed form of such cells
        keys.add(tuple(normalized_lines(transform_ipython(source))))
    return keys


def live_facts(analysis: NotebookAnalysis) -> LiveFacts | None:
    """The live facts for an analysis that carries the kernel's history (built once, then cached)."""
    cached = vars(analysis).get(_FACTS)
    if isinstance(cached, LiveFacts):
        return cached
    history = live_history_of(analysis)
    if history is None:
        return None
    cells = analysis.code_cells
    trusted = saved_counts_match(cells, history)
    by_code: dict[tuple[str, ...], list[Cell]] = {}
    for cell in cells:
        if cell.has_source:
            for key in _code_keys(cell.source):
                by_code.setdefault(key, []).append(cell)
    owner = cells_by_count(cells) if trusted else {}

    executions: dict[int, Execution] = {}
    versions: dict[str, list[tuple[int, FunctionFacts]]] = {}
    last_run: dict[int, int] = {}
    for count, cell in owner.items():
        if history.ran_as(count) is not None:
            last_run[cell.index] = count
    for count in history.executions():
        code = history.ran_as(count)
        if code is None:
            continue
        execution = _parse_execution(count, code, analysis.notebook.python_major)
        saved_owner = owner.get(count)
        matches = by_code.get(tuple(normalized_lines(code)), [])
        execution.cells = [saved_owner] if saved_owner is not None else list(matches)
        # Re-runs since the save: a cell whose code this is, when only one cell has that code (with two,
        # which one ran is unknown) and the saved count does not give the execution to another cell.
        if len(matches) == 1 and (saved_owner is None or saved_owner.index == matches[0].index):
            last_run[matches[0].index] = max(last_run.get(matches[0].index, 0), count)
        if execution.flow is not None:
            for name, function in execution.flow.functions.items():
                versions.setdefault(name, []).append((count, function))
        executions[count] = execution
    live = LiveFacts(analysis, history, executions, trusted, last_run, versions)
    vars(analysis)[_FACTS] = live
    return live


# -- the live variants of the rules --------------------------------------------------------------------
class LiveUndefinedName(UndefinedName):
    # Same code, name, severity and doc as the static rule: one rule, two sources of evidence.
    __doc__ = UndefinedName.__doc__

    def check(self, ctx: Context) -> Iterator[Report]:
        facts = live_facts(ctx.analysis)
        if facts is None:
            return
        yield from _names_from_vanished_code(facts)


class LiveStaleOutput(StaleOutput):
    __doc__ = StaleOutput.__doc__
    needs_history = False  # the kernel's history stands in for the saved execution counts

    def check(self, ctx: Context) -> Iterator[Report]:
        facts = live_facts(ctx.analysis)
        if facts is None:
            return
        yield from _outputs_changed_since(facts)


LIVE_RULES: tuple[type[Rule], ...] = (LiveUndefinedName, EditedAfterRun, LiveStaleOutput)


def _names_from_vanished_code(facts: LiveFacts) -> Iterator[Report]:
    analysis = facts.analysis
    namespace = facts.history.namespace
    binder: dict[str, int] = {}
    last_opaque = 0
    for count, execution in facts.executions.items():
        flow = execution.flow
        if flow is None:
            continue
        if execution.opaque:
            last_opaque = count
        bound = set(flow.defines)
        for invoked in flow.invoked:
            function = flow.functions.get(invoked.name) or facts.function_at(invoked.name, count)
            if function is not None:
                bound.update(function.global_writes)
        for name in bound:
            binder[name] = count
        for name in flow.deletes:
            if name not in flow.defines:
                binder.pop(name, None)

    reported: set[tuple[int, str]] = set()
    for cell in analysis.code_cells:
        flow = analysis.flows.get(cell.index)
        if flow is None:
            continue
        reads: list[tuple[str, NameRef, str | None]] = [
            (r.name, r, None) for r in (*flow.reads, *flow.soft_reads)
        ]
        for function in (*flow.functions.values(), *flow.anonymous_functions):
            reads.extend((name, ref, function.name) for name, ref in function.global_reads.items())
        for name, ref, via in reads:
            if name in analysis.definers or analysis.is_known(name) or (cell.index, name) in reported:
                continue
            if namespace is not None and name not in namespace:
                continue  # gone from the kernel too: the static rule says all there is to say
            bound_at = binder.get(name)
            if bound_at is None or last_opaque > bound_at:
                continue  # never bound in this session, or a later star import / %run may have rebound it
            reported.add((cell.index, name))
            where = facts.describe(facts.executions[bound_at])
            shown = f"`{name}` (read in `{via}`)" if via and via != "<lambda>" else f"`{name}`"
            yield Report(
                f"{shown} is not defined in any cell: the kernel has it only because In[{bound_at}] defined it "
                f"({where}); a fresh run fails here",
                cell,
                ref.line,
                ref.column,
                ref.end_line,
                ref.end_column,
            )


def _shows_output(cell: Cell) -> bool:
    return any(o.get("output_type") in ("stream", "execute_result", "display_data") for o in cell.outputs)


def _reads_of(facts: LiveFacts, execution: Execution) -> dict[str, NameRef]:
    flow = execution.flow
    if flow is None:
        return {}
    reads = {ref.name: ref for ref in (*flow.reads, *flow.soft_reads)}
    known = facts.functions_at(execution.count)
    known.update(flow.functions)
    for invoked in flow.invoked:
        function = known.get(invoked.name)
        if function is not None:
            for name in facts.analysis.closure_reads(function, known):
                reads.setdefault(name, invoked)
    return reads


def _changes_of(facts: LiveFacts, execution: Execution) -> set[str]:
    flow = execution.flow
    if flow is None:
        return set()
    changed = {name for name in flow.defines if not flow.import_only(name)}
    changed.update(flow.mutations)
    for invoked in flow.invoked:
        function = flow.functions.get(invoked.name) or facts.function_at(invoked.name, execution.count)
        if function is not None:
            changed.update(function.global_writes)
            changed.update(function.global_mutations)
    return changed


def _outputs_changed_since(facts: LiveFacts) -> Iterator[Report]:
    analysis = facts.analysis
    ordered = sorted(facts.executions)
    for cell in analysis.code_cells:
        ran_at = facts.last_run.get(cell.index)
        if ran_at is None or not _shows_output(cell):
            continue
        ran = facts.executions.get(ran_at)
        if ran is None:
            continue
        reads = _reads_of(facts, ran)
        if not reads:
            continue
        culprit: tuple[Execution, str] | None = None
        for count in ordered[bisect.bisect_right(ordered, ran_at) :]:
            later = facts.executions[count]
            where_now = {c.index for c in later.cells}
            if cell.index in where_now or (where_now and min(where_now) > cell.index):
                continue  # the cell itself, or a cell below it: a top-to-bottom run does the same
            changed = _changes_of(facts, later) & set(reads)
            if changed:
                culprit = (later, sorted(changed, key=lambda n: (reads[n].line, reads[n].column))[0])
        if culprit is None:
            continue
        later, name = culprit
        ref = _location(analysis, cell, ran, name, reads[name])
        where = facts.describe(later, relative_to=cell)
        yield Report(
            f"Output is stale: In[{later.count}] ({where}) changed `{name}` after this cell ran as "
            f"[{ran_at}]; the output shows the old value",
            cell,
            ref.line if ref else None,
            ref.column if ref else None,
            ref.end_line if ref else None,
            ref.end_column if ref else None,
            related=tuple(
                {"cell_index": c.index, "cell_position": c.position, "execution": later.count}
                for c in later.cells
            ),
        )


def _location(
    analysis: NotebookAnalysis, cell: Cell, ran: Execution, name: str, ran_ref: NameRef
) -> NameRef | None:
    """Where the cell's saved source reads ``name`` (the lines of the code that ran may differ)."""
    flow = analysis.flows.get(cell.index)
    if flow is not None:
        for ref in (*flow.reads, *flow.soft_reads):
            if ref.name == name:
                return ref
    return ran_ref if same_code(cell.source, ran.code) else None


# -- the entry point -----------------------------------------------------------------------------------
@dataclass(slots=True)
class LiveResult:
    path: str
    findings: list[Finding]
    notes: list[str]
    executions: int  # how many executions of the history were read


def analyze_live(
    history: Sequence[str],
    notebook: Mapping[str, Any],
    namespace: Iterable[str] | None,
    *,
    path: str,
    current: int | None = None,
    config: Config | None = None,
) -> LiveResult:
    """The live findings for a kernel session.

    ``history`` is the kernel's input history indexed by execution count (``In``, or IPython's raw input
    history, ``history[0] == ""``); ``notebook`` the saved notebook's JSON; ``namespace`` the names the
    user namespace holds now (None: unknown); ``current`` the execution count that asks (excluded).
    Raises :class:`~nbhygiene.loading.NotebookLoadError` when ``notebook`` is not a notebook.
    """
    from nbhygiene.loading import loaded_from_data

    if config is None:
        config = load_config(os.path.dirname(os.path.abspath(path)) or ".")
    model = build_model(loaded_from_data(dict(notebook), path))
    analysis = analyse(model, config)
    live = LiveHistory(
        tuple(str(code) if isinstance(code, str) else "" for code in history),
        current,
        frozenset(namespace) if namespace is not None else None,
    )
    attach_live_history(analysis, live)
    facts = live_facts(analysis)
    assert facts is not None
    notes: list[str] = []
    if not facts.counts_trusted:
        notes.append(
            "The saved execution counts are not from this kernel's session (the notebook was saved before "
            "the kernel restarted, or by another kernel), so edited cells cannot be told from re-run ones: "
            "save the notebook and run `%nbhygiene live` again."
        )
    if not model.is_python:
        notes.append(
            f"This is a {model.language or 'non-Python'} notebook: the live analysis reads Python only."
        )
    rules = [rule for rule in LIVE_RULES if config.is_enabled(rule)]
    findings = findings_from_analysis(analysis, config, rules)
    return LiveResult(path, findings, notes, len(facts.executions))
