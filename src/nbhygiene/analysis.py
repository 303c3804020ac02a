"""Notebook-level facts built once from the per-cell data flow and shared by every rule.

Two readings of a notebook matter:

* **Run all** (top to bottom in a fresh kernel): which reads find no definition yet
  (``use-before-definition``), or none at all (``undefined-name``). Functions are late-bound, so the
  names a function reads are checked where it is called.
* **The saved history**: execution counts say in which order cells last ran, which reveals
  out-of-order runs, stale outputs and executions that no cell shows any more.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from nbhygiene.dataflow import CellFlow, FunctionFacts, NameRef, cell_flow, is_builtin
from nbhygiene.model import Cell, Notebook
from nbhygiene.source import ParsedCell, parse_cell

if TYPE_CHECKING:
    from nbhygiene.ml_facts import MLFacts


@dataclass(frozen=True, slots=True)
class UnresolvedRead:
    """A read that fails on a fresh top-to-bottom run."""

    cell: Cell
    ref: NameRef
    kind: str  # "later" (defined further down), "deleted", "nowhere"
    defined_in: tuple[int, ...] = ()  # cell indexes that define the name (for "later")
    deleted_in: int | None = None
    via: str | None = None  # the function whose body reads the name, when read through a call


@dataclass
class NotebookAnalysis:
    notebook: Notebook
    builtins: frozenset[str] = frozenset()
    parsed: dict[int, ParsedCell] = field(default_factory=dict)
    flows: dict[int, CellFlow] = field(default_factory=dict)

    @classmethod
    def build(cls, notebook: Notebook, extra_builtins: frozenset[str] = frozenset()) -> NotebookAnalysis:
        analysis = cls(notebook, extra_builtins)
        if notebook.is_python and notebook.python_major != 2:
            for cell in notebook.cells:
                if cell.is_code:
                    parsed = parse_cell(cell, notebook.python_major)
                    analysis.parsed[cell.index] = parsed
                    analysis.flows[cell.index] = cell_flow(parsed)
        return analysis

    # -- shared facts -----------------------------------------------------------------------------
    @cached_property
    def python2_evidence(self) -> str | None:
        """Why this looks like a Python 2 notebook, or None."""
        if self.notebook.python_major == 2:
            return "its kernel metadata names Python 2"
        python2 = [p for p in self.parsed.values() if p.kind == "python2" and p.syntax_error]
        if not python2:
            return None
        if self.notebook.python_major == 3:
            # The kernel that last ran it was Python 3: one stray `print x` among Python 3 cells is a
            # syntax error in a Python 3 notebook, not a Python 2 notebook (which turns analysis off).
            with_code = [p for p in self.parsed.values() if p.kind != "empty"]
            if 2 * len(python2) < len(with_code):
                return None
        first = python2[0]
        assert first.syntax_error is not None
        return f"cell {first.cell.position} uses Python 2 syntax ({first.syntax_error[0]})"

    @cached_property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.notebook.cells if c.is_code]

    @cached_property
    def definers(self) -> dict[str, list[int]]:
        """Cells that bind each module-level name (directly, or through a function they call)."""
        result: dict[str, list[int]] = {}
        for index, flow in self.flows.items():
            for name in flow.defines:
                result.setdefault(name, []).append(index)
            for facts in self._all_function_facts(flow):
                for name in facts.global_writes:
                    result.setdefault(name, []).append(index)
        return result

    @staticmethod
    def _all_function_facts(flow: CellFlow) -> list[FunctionFacts]:
        return [*flow.functions.values(), *flow.anonymous_functions]

    @cached_property
    def functions(self) -> dict[str, list[tuple[int, FunctionFacts]]]:
        result: dict[str, list[tuple[int, FunctionFacts]]] = {}
        for index, flow in self.flows.items():
            for name, facts in flow.functions.items():
                result.setdefault(name, []).append((index, facts))
        return result

    @cached_property
    def opaque_cells(self) -> list[int]:
        """Cells that may define names nobody can see (star imports, %run, exec, ...)."""
        return sorted(i for i, f in self.flows.items() if f.star_imports or f.opaque)

    @cached_property
    def calls(self) -> dict[int, list[ast.Call]]:
        """Every call in each parsed code cell, in source order, as the data-flow pass met them: shared
        by the rules that look at calls (hyperparameters, glue code, ...) so none walks the tree again."""
        return {
            index: self.flows[index].calls for index, parsed in self.parsed.items() if parsed.tree is not None
        }

    @cached_property
    def import_paths(self) -> dict[str, str]:
        """Bound name -> the dotted path it was imported as (`np` -> `numpy`, `Ridge` ->
        `sklearn.linear_model.Ridge`); the first import of a name wins."""
        paths: dict[str, str] = {}
        for flow in self.flows.values():
            for bound, path, _line in flow.imports:
                paths.setdefault(bound, path)
        return paths

    @cached_property
    def ml(self) -> MLFacts:
        """Data lineage and scikit-learn events (fits, splits, evaluations, random draws) for the
        ML-pitfall rules; built on first use, once per notebook (see :mod:`nbhygiene.ml_facts`)."""
        from nbhygiene.ml_facts import build_ml_facts

        return build_ml_facts(self)

    @cached_property
    def import_names(self) -> set[str]:
        names: set[str] = set()
        for flow in self.flows.values():
            names.update(n for n in flow.defines if flow.import_only(n))
        return names

    def is_known(self, name: str) -> bool:
        return is_builtin(name) or name in self.builtins

    def closure_reads(self, facts: FunctionFacts, known: dict[str, FunctionFacts]) -> dict[str, NameRef]:
        """Module-level names read when ``facts`` runs, through the functions it calls too."""
        reads: dict[str, NameRef] = {}
        seen: set[int] = set()
        stack = [facts]
        while stack:
            current = stack.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            for name, ref in current.global_reads.items():
                if name not in reads:
                    reads[name] = ref
            for callee in current.calls:
                if callee in known:
                    stack.append(known[callee])
        return reads

    # -- run all ----------------------------------------------------------------------------------
    @cached_property
    def run_all(self) -> list[UnresolvedRead]:
        notebook = self.notebook
        definers = self.definers
        opaque_anywhere = bool(self.opaque_cells)
        defined: set[str] = set()
        deleted: dict[str, int] = {}
        visible_functions: dict[str, FunctionFacts] = {}
        opaque_seen = False
        issues: list[UnresolvedRead] = []
        reported: set[tuple[int, str]] = set()

        def check(cell: Cell, flow: CellFlow, ref: NameRef, name: str, via: str | None) -> None:
            if name in defined or self.is_known(name) or opaque_seen or (cell.index, name) in reported:
                return
            if ref.name != name:  # read through a call: report the name the function reads, at the call
                ref = NameRef(name, ref.line, ref.column, ref.end_line, ref.end_column)
            later = tuple(i for i in definers.get(name, ()) if i >= cell.index)
            if later:
                reported.add((cell.index, name))
                issues.append(UnresolvedRead(cell, ref, "later", later, via=via))
            elif name in deleted:
                reported.add((cell.index, name))
                issues.append(UnresolvedRead(cell, ref, "deleted", deleted_in=deleted[name], via=via))
            elif not opaque_anywhere and name not in definers and via is None:
                # (a function's read of a name no cell defines is reported once, in the function's body,
                # by the loop below, not again at every call)
                reported.add((cell.index, name))
                issues.append(UnresolvedRead(cell, ref, "nowhere", via=via))

        for cell in notebook.cells:
            flow = self.flows.get(cell.index)
            if flow is None:
                continue
            parsed = self.parsed[cell.index]
            if parsed.kind in ("syntax-error", "python2"):
                continue  # it would stop here; what it defines is unknown
            for ref in flow.reads:
                check(cell, flow, ref, ref.name, None)
            cell_functions = dict(visible_functions)
            cell_functions.update(flow.functions)
            for invoked in flow.invoked:
                facts = cell_functions.get(invoked.name)
                if facts is None:
                    continue
                for name, _inner in self.closure_reads(facts, cell_functions).items():
                    if name in flow.defines and flow.defines[name].line <= invoked.line:
                        continue
                    check(cell, flow, invoked, name, facts.name)
                for name in facts.global_writes:
                    defined.add(name)
            if flow.star_imports or flow.opaque:
                opaque_seen = True
            defined.update(flow.defines)
            for name in flow.deletes:
                if name not in flow.defines or flow.deletes[name].line >= flow.defines[name].line:
                    defined.discard(name)
                    deleted[name] = cell.index
            for name in flow.defines:
                deleted.pop(name, None)
            visible_functions.update(flow.functions)

        # Functions nobody calls: a global they read must at least exist somewhere.
        if not opaque_anywhere:
            for index, flow in self.flows.items():
                cell = notebook.cells[index]
                for facts in self._all_function_facts(flow):
                    for name, ref in facts.global_reads.items():
                        if self.is_known(name) or name in definers or (index, name) in reported:
                            continue
                        reported.add((index, name))
                        issues.append(UnresolvedRead(cell, ref, "nowhere", via=facts.name))
        issues.sort(key=lambda u: (u.cell.index, u.ref.line, u.ref.column))
        return issues

    # -- history ----------------------------------------------------------------------------------
    @cached_property
    def executed(self) -> list[Cell]:
        """Code cells with an execution count, in the order they last ran."""
        cells = [c for c in self.code_cells if c.execution_count is not None]
        return sorted(cells, key=lambda c: (c.execution_count or 0, c.index))

    @cached_property
    def out_of_order(self) -> list[Cell]:
        """The fewest cells whose removal leaves execution counts increasing top to bottom.

        The complement of a longest increasing subsequence: when the first cell is re-run at the end,
        that one cell is out of order, not every cell below it.
        """
        cells = [c for c in self.code_cells if c.execution_count is not None]
        if len(cells) < 2:
            return []
        counts = [c.execution_count or 0 for c in cells]
        # Longest increasing subsequence, computed right to left as a longest decreasing one so
        # that ties keep the cells higher up and report the ones that ran before a cell above them.
        import bisect

        reversed_negated = [-value for value in reversed(counts)]
        tails: list[int] = []
        tails_index: list[int] = []
        previous = [-1] * len(counts)
        for i, value in enumerate(reversed_negated):
            pos = bisect.bisect_left(tails, value)
            if pos == len(tails):
                tails.append(value)
                tails_index.append(i)
            else:
                tails[pos] = value
                tails_index[pos] = i
            previous[i] = tails_index[pos - 1] if pos else -1
        keep: set[int] = set()
        i = tails_index[-1] if tails_index else -1
        while i >= 0:
            keep.add(len(counts) - 1 - i)
            i = previous[i]
        return [cell for i, cell in enumerate(cells) if i not in keep]
