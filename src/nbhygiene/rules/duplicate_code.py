from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from nbhygiene.dataflow import is_builtin
from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule
from nbhygiene.source import SCRATCH_FUNCTION, ipython_call

_SKIPPED_FIELDS = frozenset(
    {"ctx", "type_comment", "kind", "type_ignores", "name", "asname", "id", "arg", "attr"}
)
_FIELDS: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class _Window:
    cell: int
    first_line: int
    last_line: int


class DuplicateCode(Rule):
    """The same logic appears in two or more cells, with only names and literals changed.

    ## What it does
    Fingerprints every run of consecutive statements: the cell's top-level statements, and the body of
    every function. Each statement is reduced to the shape of its syntax tree, in which variable names
    and literal values are replaced by placeholders; imported names (`np`, `mean_squared_error`),
    builtins, attribute names (`.fit`, `.predict`) and keyword names stay, since they carry the logic.
    A window spans consecutive statements holding at least `min-statements` statements (default 5,
    counting the statements nested in loops, `with` and `if` blocks, but not `x = 0.8`, `pass` or a
    bare `df` shown at the end); imports, magics, `%timeit` and docstrings break a run. When a window of a cell has the same fingerprint as a window of an earlier cell, the
    later cell is reported once, naming the first cell it repeats and the lines involved. Each
    statement is fingerprinted once and each window hashed once, so the cost grows linearly with the
    notebook.

    ## Why it matters
    Copy-pasted blocks drift apart: a fix or a metric added to one copy is missing from the other, and
    the comparison the notebook claims (model A vs model B) is no longer like for like. Every copy is
    also more code to read and to extract into a pipeline later.

    ## Example
    ```python
    # Cell 12
    ridge.fit(X_train, y_train)
    ridge_pred = ridge.predict(X_test)
    ridge_rmse = np.sqrt(mean_squared_error(y_test, ridge_pred))
    ridge_mae = np.mean(np.abs(y_test - ridge_pred))
    ridge_r2 = r2_score(y_test, ridge_pred)
    # Cell 13: the same five statements with gbr_* names
    ```

    ## What to do instead
    Write the shared logic once as a function in an early cell and call it for each case:
    `def evaluate(model): ...; scores = {name: evaluate(m) for name, m in models.items()}`.
    """

    code = "NBH110"
    name = "duplicate-code"
    summary = "The same logic (up to names and literals) appears in two or more cells."
    severity = Severity.WARNING
    family = Family.GLUE_CODE
    options = {"min-statements": 5}

    def check(self, ctx: Context) -> Iterator[Report]:
        analysis = ctx.analysis
        minimum = max(1, int(ctx.option("min-statements", 5)))
        keep = frozenset(analysis.import_names)
        first_seen: dict[int, _Window] = {}
        for index, parsed in sorted(analysis.parsed.items()):
            if parsed.tree is None or parsed.code.count("\n") + 1 < minimum:
                continue  # too short to hold a window (each statement takes a line, bar `a; b`)
            fingerprints = _Fingerprints(keep)
            try:
                fingerprints.statements(parsed.tree.body)
            except RecursionError:
                continue
            windows = [
                w for body in fingerprints.bodies for w in _windows(body, fingerprints, minimum, index)
            ]
            matches: dict[int, list[tuple[_Window, _Window]]] = {}
            for key, window in windows:
                earlier = first_seen.get(key)
                if earlier is not None and earlier.cell != index:
                    matches.setdefault(earlier.cell, []).append((earlier, window))
            for key, window in windows:
                first_seen.setdefault(key, window)
            if not matches:
                continue
            original = min(matches)
            pairs = matches[original]
            here_first = min(w.first_line for _e, w in pairs)
            here_last = max(w.last_line for _e, w in pairs)
            there_first = min(e.first_line for e, _w in pairs)
            there_last = max(e.last_line for e, _w in pairs)
            original_cell = analysis.notebook.cells[original]
            yield Report(
                f"{_lines(here_first, here_last)} repeat the logic of cell {original_cell.position} "
                f"({_lines(there_first, there_last).lower()}) with only names or literals changed",
                parsed.cell,
                here_first,
                1,
                related=({"cell_index": original, "cell_position": original_cell.position},),
            )


def _lines(first: int, last: int) -> str:
    return f"Lines {first}-{last}" if last > first else f"Line {first}"


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple(f for f in getattr(cls, "_fields", ()) if f not in _SKIPPED_FIELDS)
    return fields


class _Fingerprints:
    """Hashes of statements with names and literals normalised; each node is visited once."""

    def __init__(self, keep: frozenset[str]) -> None:
        self.keep = keep
        self.hashes: dict[int, tuple[int, int]] = {}  # id(statement) -> (hash, statements inside)
        self.bodies: list[list[ast.stmt]] = []

    def statements(self, body: list[ast.stmt]) -> None:
        self.bodies.append(body)
        for statement in body:
            self.node(statement)

    def node(self, node: ast.AST) -> tuple[int, int]:
        """(hash, number of statements) of ``node``."""
        if isinstance(node, ast.Name):
            name = node.id
            return hash(("N", name if name in self.keep or is_builtin(name) else "")), 0
        if isinstance(node, ast.Constant):
            return hash("C"), 0
        cls = node.__class__
        parts: list[object] = [cls.__name__]
        size = 1 if isinstance(node, ast.stmt) else 0
        if isinstance(node, (ast.Attribute, ast.keyword)):
            parts.append(node.attr if isinstance(node, ast.Attribute) else node.arg)
        elif isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.AugAssign)):
            parts.append(node.op.__class__.__name__)
        elif isinstance(node, ast.Compare):
            parts.extend(op.__class__.__name__ for op in node.ops)
        elif isinstance(node, ast.alias):
            parts.append(node.name)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.bodies.append(node.body)
        for field in _child_fields(cls):
            value = getattr(node, field, None)
            if isinstance(value, list):
                inner: list[int] = []
                for item in value:
                    if isinstance(item, ast.AST):
                        item_hash, item_size = self.node(item)
                        inner.append(item_hash)
                        size += item_size
                parts.append(tuple(inner))
            elif isinstance(value, ast.AST):
                item_hash, item_size = self.node(value)
                parts.append(item_hash)
                size += item_size
        result = hash(tuple(parts)), size
        if isinstance(node, ast.stmt):
            self.hashes[id(node)] = result
        return result


def _breaks_run(statement: ast.stmt) -> bool:
    """Imports, docstrings, magics and `%timeit` bodies are not logic that anybody duplicates."""
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(statement, ast.FunctionDef) and statement.name == SCRATCH_FUNCTION:
        return True
    if isinstance(statement, ast.Expr):
        value = statement.value
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == SCRATCH_FUNCTION
        ):
            return True
        return isinstance(value, ast.Constant) or ipython_call(value) is not None
    return False


def _weight(statement: ast.stmt, size: int) -> int:
    """Statements a window counts: `x = 0.8` and a bare `df` (display) count for nothing."""
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and isinstance(statement.value, ast.Constant):
        return 0
    if isinstance(statement, ast.Expr) and isinstance(statement.value, (ast.Name, ast.Attribute)):
        return 0
    if isinstance(statement, ast.Pass):
        return 0
    return size


def _windows(
    body: list[ast.stmt], fingerprints: _Fingerprints, minimum: int, cell: int
) -> Iterator[tuple[int, _Window]]:
    """(key, window) for each start of a run of consecutive statements holding ``minimum`` statements."""
    run: list[tuple[int, int, ast.stmt]] = []
    segments: list[list[tuple[int, int, ast.stmt]]] = [run]
    for statement in body:
        if _breaks_run(statement):
            run = []
            segments.append(run)
            continue
        statement_hash, size = fingerprints.hashes[id(statement)]
        run.append((statement_hash, _weight(statement, size), statement))
    for segment in segments:
        for start in range(len(segment)):
            total = 0
            for end in range(start, len(segment)):
                total += segment[end][1]
                if total >= minimum:
                    key = hash(tuple(h for h, _s, _n in segment[start : end + 1]))
                    last = segment[end][2]
                    yield key, _Window(cell, segment[start][2].lineno, last.end_lineno or last.lineno)
                    break
