from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.findings import Family, Severity
from nbhygiene.model import Cell
from nbhygiene.rule import Context, Report, Rule
from nbhygiene.rules.hardcoded_hyperparameter import PARAMETER_TAGS
from nbhygiene.rules.missing_parameters_cell import constant_assignments
from nbhygiene.source import ParsedCell

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_QUERY_REFERENCE = re.compile(r"@([A-Za-z_]\w*)")
_SHOWN_OUTPUTS = frozenset({"stream", "execute_result", "display_data", "error"})
_DISPLAY_CALLS = frozenset(
    {"print", "display", "pprint", "show", "plot", "imshow", "hist", "scatter", "savefig"}
)
_DISPLAY_ROOTS = frozenset({"plt", "sns", "px", "go", "hv", "alt"})


class UnusedDefinition(Rule):
    """A cell defines names that no cell uses, and shows nothing: a dead experimental path.

    ## What it does
    Reports, once per cell, the names a cell assigns (variables, functions, classes) that nothing in
    the notebook reads: not the cell itself, not any other cell, not any function's body, not a magic
    (`%store x`, `{x}` in a shell line, `$x`), not a non-Python cell magic's text, not a
    `df.query("... @x")` string. Only cells that show nothing are reported: no saved output, or, for a
    cell that was never run, no trailing expression, `print`, `display` or plot call. Left alone:
    `_`-prefixed names, imports (an unused import is a linter's job, e.g. ruff F401), loop and `with`
    targets, elements of tuple unpacking (`a, b = pair`), names only ever assigned a literal
    (`NAME = ""`: configuration someone else reads), decorated functions (the decorator uses them),
    names set by magics, the `parameters` cell, and notebooks with `%run`, `exec`, `eval`,
    `globals()`, `locals()` or `vars()`, where any name may be read without appearing in the code.

    ## Why it matters
    A result computed and then dropped is an abandoned idea: it costs run time on every "Run All",
    readers assume it matters, and it hides which path actually produced the results.

    ## Example
    ```python
    # Cell 9: tried a second model, never looked at it again
    svm = SVC(C=2.0).fit(X_train, y_train)
    svm_pred = svm.predict(X_test)
    ```

    ## What to do instead
    Delete the cell, or finish the idea: show or compare the result (`print(accuracy_score(y_test,
    svm_pred))`). Keep experiments you want to remember in version control, not as dead cells.
    """

    code = "NBH111"
    name = "unused-definition"
    summary = "A cell defines names that no cell uses and shows nothing (a dead experimental path)."
    severity = Severity.INFO
    family = Family.GLUE_CODE

    def check(self, ctx: Context) -> Iterator[Report]:
        analysis = ctx.analysis
        if any(flow.opaque or flow.dynamic for flow in analysis.flows.values()):
            return
        used = _used_names(analysis)
        for index, flow in sorted(analysis.flows.items()):
            parsed = analysis.parsed[index]
            cell = parsed.cell
            if parsed.tree is None or cell.tags & PARAMETER_TAGS:
                continue
            candidates = [
                ref
                for name, ref in flow.defines.items()
                if name not in used
                and not name.startswith("_")
                and flow.binding_kinds.get(name, set()) <= {"assign", "def", "class"}
            ]
            if not candidates or _shows_something(cell, parsed, analysis):
                continue
            excluded = _targets_and_decorated(parsed.tree)
            constants = constant_assignments(parsed.tree)
            unused = sorted(
                (r for r in candidates if r.name not in excluded and not constants.get(r.name, False)),
                key=lambda r: (r.line, r.column),
            )
            if not unused:
                continue
            names = ", ".join(f"`{r.name}`" for r in unused)
            verb = "is" if len(unused) == 1 else "are"
            first = unused[0]
            yield Report(
                f"{names} {verb} defined here but never used, and the cell shows nothing: a dead experimental path?",
                cell,
                first.line,
                first.column,
                first.end_line,
                first.end_column,
            )


def _used_names(analysis: NotebookAnalysis) -> set[str]:
    used: set[str] = set()
    for index, flow in analysis.flows.items():
        used |= flow.loads
        used.update(ref.name for ref in flow.soft_reads)
        for facts in (*flow.functions.values(), *flow.anonymous_functions):
            used.update(facts.global_reads)
            used |= facts.calls
        for magic in flow.magics:
            used.update(_IDENTIFIER.findall(magic.args))
        parsed = analysis.parsed[index]
        source = parsed.cell.source
        if parsed.kind == "non-python":
            used.update(_IDENTIFIER.findall(source))  # %%sql {x}, :x, $x, ...
        elif "@" in source:
            used.update(_QUERY_REFERENCE.findall(source))  # df.query("a > @x"), pd.eval
    return used


def _shows_something(cell: Cell, parsed: ParsedCell, analysis: NotebookAnalysis) -> bool:
    if any(o.get("output_type") in _SHOWN_OUTPUTS for o in cell.outputs):
        return True
    if cell.execution_count is not None:
        return False  # it ran and printed nothing
    tree = parsed.tree
    if tree is not None and tree.body and isinstance(tree.body[-1], ast.Expr):
        return True
    for call in analysis.calls.get(cell.index, ()):
        func = call.func
        if isinstance(func, ast.Name) and _displays(func.id):
            return True
        if isinstance(func, ast.Attribute):
            if _displays(func.attr):
                return True
            root = func.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in _DISPLAY_ROOTS:
                return True
    return False


def _displays(name: str) -> bool:
    return name in _DISPLAY_CALLS or "plot" in name.lower() or name.startswith(("show", "display"))


def _targets_and_decorated(tree: ast.Module) -> set[str]:
    """Loop and `with` targets, and decorated functions/classes, at the cell's top level."""
    names: set[str] = set()
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        statement = stack.pop()
        targets: list[ast.AST] = []
        if isinstance(statement, (ast.For, ast.AsyncFor)):
            targets.append(statement.target)
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            targets.extend(item.optional_vars for item in statement.items if item.optional_vars is not None)
        elif isinstance(statement, ast.Assign):
            # `a, b = pair`: unpacking binds every element, needed or not (ruff's F841 agrees).
            targets.extend(t for t in statement.targets if isinstance(t, (ast.Tuple, ast.List)))
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if statement.decorator_list:
                names.add(statement.name)
            continue
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list):
                stack.extend(inner)
        for handler in getattr(statement, "handlers", ()):
            stack.extend(handler.body)
    return names
