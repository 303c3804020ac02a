from __future__ import annotations

import ast
from collections.abc import Iterator

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule
from nbhygiene.rules.hardcoded_hyperparameter import PARAMETER_TAGS
from nbhygiene.rules.missing_parameters_cell import constant_assignments

_NOT_DATA_KINDS = frozenset({"import", "def", "class"})


class GlobalInFunction(Rule):
    """A notebook function reads a global variable holding data instead of taking it as a parameter.

    ## What it does
    For every function defined at the notebook's top level (named `lambda`s too; classes are left
    alone), looks at the module-level names its body reads (through the data-flow model's
    `FunctionFacts.global_reads`) and reports the ones that hold *data*: names some cell assigns.
    Not reported: modules and other imports, functions, classes, builtins, constants by convention
    (an `UPPER_CASE` name of two or more characters, such as `MAX_LEN`), names whose every
    assignment is a literal (`threshold = 0.7`: configuration, not data), names of the `parameters`
    cell, and names the function itself declares `global` (state it writes on purpose). Functions
    that are only handed to other code and never called by name (callbacks of widgets, optimisers,
    `map`) are left alone: the caller dictates their signature. One finding per function lists the
    globals; severity `info`, since many exploratory notebooks do this on purpose.

    ## Why it matters
    The function's result depends on whatever the global holds when it is called, which in a notebook
    depends on which cells ran last. It cannot be reused on other data, tested, or moved into a
    module without dragging the notebook along: the call `rmse_of(model)` hides that it also uses
    `X_test` and `y_test`.

    ## Example
    ```python
    def rmse_of(model):
        pred = model.predict(X_test)
        return np.sqrt(mean_squared_error(y_test, pred))
    ```

    ## What to do instead
    Pass the data in: `def rmse_of(model, X, y): ...` and call `rmse_of(model, X_test, y_test)`.
    """

    code = "NBH112"
    name = "global-in-function"
    summary = "A notebook function reads a global variable holding data instead of taking it as a parameter."
    severity = Severity.INFO
    family = Family.GLUE_CODE

    def check(self, ctx: Context) -> Iterator[Report]:
        analysis = ctx.analysis
        data = _DataGlobals(analysis)
        called = _called_directly(analysis)
        for index, flow in sorted(analysis.flows.items()):
            cell = analysis.notebook.cells[index]
            for name, facts in flow.functions.items():
                if facts.is_class or name == "<lambda>" or name not in called:
                    continue
                offending = sorted(
                    (
                        ref
                        for read, ref in facts.global_reads.items()
                        if read not in facts.global_writes and data[read]
                    ),
                    key=lambda r: (r.line, r.column),
                )
                if not offending:
                    continue
                names = ", ".join(f"`{r.name}`" for r in offending)
                plural = len(offending) > 1
                first = offending[0]
                yield Report(
                    f"The function `{name}` reads the notebook global{'s' if plural else ''} {names} instead of "
                    f"taking {'them as parameters' if plural else 'it as a parameter'}",
                    cell,
                    first.line,
                    first.column,
                    first.end_line,
                    first.end_column,
                )


def _called_directly(analysis: NotebookAnalysis) -> set[str]:
    """Names called as `name(...)` anywhere; a function only handed to others is a callback whose
    signature the caller dictates (widgets, optimisers), so it cannot take the data as a parameter."""
    return {
        call.func.id for calls in analysis.calls.values() for call in calls if isinstance(call.func, ast.Name)
    }


class _DataGlobals(dict[str, bool]):
    """name -> whether it is a notebook global holding data, computed on first use."""

    def __init__(self, analysis: NotebookAnalysis) -> None:
        super().__init__()
        self.analysis = analysis
        self.modules = frozenset(analysis.import_names)
        self.constants: dict[int, dict[str, bool]] = {}

    def __missing__(self, name: str) -> bool:
        verdict = self[name] = self._holds_data(name)
        return verdict

    def _holds_data(self, name: str) -> bool:
        analysis = self.analysis
        if analysis.is_known(name) or is_constant_name(name):
            return False
        definers = analysis.definers.get(name)
        if not definers:
            return False  # undefined or written only by functions: other rules' business
        kinds: set[str] = set()
        for index in definers:
            kinds |= analysis.flows[index].binding_kinds.get(name, set())
            if analysis.notebook.cells[index].tags & PARAMETER_TAGS:
                return False
        if not kinds or kinds & _NOT_DATA_KINDS:
            return False
        return not all(self._constant_in(index, name) for index in definers)

    def _constant_in(self, index: int, name: str) -> bool:
        constants = self.constants.get(index)
        if constants is None:
            tree = self.analysis.parsed[index].tree
            constants = self.constants[index] = constant_assignments(tree, self.modules) if tree else {}
        return constants.get(name, False)


def is_constant_name(name: str) -> bool:
    """`MAX_LEN`, `N_CLASSES`: upper case by convention (a single capital like `X` is data)."""
    return len(name) > 1 and name.isupper()
