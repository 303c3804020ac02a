"""What moves, what goes in and what comes out: a pure planner over the core's data-flow model.

Given the selected cells, the planner decides, from the :class:`~nbhygiene.dataflow.CellFlow` facts
(``reads``/``defines``/``mutations``/``functions``/``invoked``) and from what the *later* cells read:

* the function's **parameters**: every name the cells may read while they run that an earlier cell
  defines (read before the cells bind it, bound only conditionally, or read by a function the cells
  define and keep);
* its **return values**: names the cells bind that later cells read, plus names they rebind that an
  earlier cell defined (so that the notebook's variable does not silently keep its old value);
* which imports are copied into the module and which stay in the notebook, which helpers and constants
  become module-level definitions, which notebook-only magics stay in the calling cell, and what the
  calling cell still shows.

In-place mutation needs no special code: a parameter is the very object the notebook holds, so
``df.dropna(inplace=True)``, ``lst.append(x)`` and ``model.fit(X, y)`` inside the function change the
notebook's object, as the cells did. ``X += 1`` both mutates (arrays) and rebinds (numbers), so ``X`` is
a parameter *and* a return value: the notebook rebinds ``X`` to the very object the function returns.

Where the model cannot follow the cells, the planner refuses with the cell, the line and the reason
(:class:`Refused`); it never guesses.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.dataflow import CellFlow, FunctionFacts
from nbhygiene.model import Notebook
from nbhygiene.source import ipython_call

PLAIN_BUILTINS = frozenset(dir(builtins)) - {"exit", "quit", "copyright", "credits", "license", "help"}
# IPython's own names: `display` has a module-level equivalent, the others only exist in a kernel.
IPYTHON_ONLY = frozenset(
    {"get_ipython", "In", "Out", "exit", "quit", "_ih", "_oh", "_dh", "_i", "_ii", "_iii"}
)
_HISTORY_NAME = re.compile(r"^_+$|^_i*\d+$|^_i+$")
_MODULE_DUNDERS = frozenset(
    {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__"}
)

# Line magics that only make sense in a notebook: they stay in the calling cell, before the call.
KEPT_LINE_MAGICS = frozenset(
    {
        "matplotlib",
        "config",
        "load_ext",
        "reload_ext",
        "unload_ext",
        "autoreload",
        "aimport",
        "pip",
        "conda",
        "mamba",
        "env",
        "cd",
        "pwd",
        "ls",
        "who",
        "whos",
        "who_ls",
        "precision",
        "xmode",
        "colors",
        "lsmagic",
        # help and introspection (`obj?`, `obj??`): they only show text
        "pinfo",
        "pinfo2",
        "pdoc",
        "pdef",
        "psource",
        "pfile",
        "psearch",
    }
)
# Code-carrying magics whose statement moves into the module (the timing they print is dropped).
TIMING_MAGICS = frozenset({"time"})
# Trailing calls that return None, so IPython shows nothing for them.
_QUIET_CALLS = frozenset(
    {
        "print",
        "display",
        "show",
        "savefig",
        "close",
        "tight_layout",
        "seed",
        "append",
        "extend",
        "insert",
        "remove",
        "sort",
        "reverse",
        "clear",
        "update",
        "set_option",
        "set_style",
        "set_theme",
        "filterwarnings",
        "simplefilter",
    }
)
# A trailing expression built only from these stays in the notebook after the call (a "peek").
_PEEK_METHODS = frozenset(
    {
        "head",
        "tail",
        "describe",
        "info",
        "round",
        "value_counts",
        "nunique",
        "unique",
        "isna",
        "isnull",
        "notna",
        "sum",
        "mean",
        "median",
        "std",
        "var",
        "min",
        "max",
        "count",
        "corr",
        "cov",
        "to_frame",
        "sort_values",
        "sort_index",
        "transpose",
        "memory_usage",
        "get_params",
        "tolist",
        "to_numpy",
        "astype",
        "keys",
        "items",
        "values",
    }
)
_PEEK_FUNCTIONS = frozenset(
    {
        "len",
        "type",
        "repr",
        "sorted",
        "list",
        "tuple",
        "set",
        "dict",
        "round",
        "sum",
        "min",
        "max",
        "abs",
        "str",
    }
)
_PARAMETERS_TAG = "parameters"
_AST_FLAGS = ast.PyCF_ONLY_AST | getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)


class SelectionError(ValueError):
    """The selection cannot be read (unknown id, position out of range, nothing selected): a usage error."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an extraction is refused, with the cell (1-based position) and line (within the cell)."""

    message: str
    position: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        where = f"cell {self.position}" + (f", line {self.line}" if self.line else "")
        return f"{where}: {self.message}"


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


# -- selection ------------------------------------------------------------------------------------
_RANGE = re.compile(r"^(\d+)\s*(?:-\s*(\d+))?$")


def select_cells(notebook: Notebook, spec: str) -> list[int]:
    """Cell indexes named by ``3-5,8`` (1-based positions over all cells), cell ids, or ``id:ID``."""
    indexes: set[int] = set()
    count = len(notebook.cells)
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        match = _RANGE.match(token)
        if match and not token.startswith("id:"):
            first = int(match.group(1))
            last = int(match.group(2) or first)
            if first < 1 or last > count or first > last:
                raise SelectionError(f"cell range {token!r} is outside 1-{count}")
            indexes.update(range(first - 1, last))
            continue
        ident = token[3:] if token.startswith("id:") else token
        cell = notebook.cell_by_id(ident)
        if cell is None:
            raise SelectionError(f"no cell with id {ident!r} (positions are 1-{count})")
        indexes.add(cell.index)
    if not indexes:
        raise SelectionError(f"the cell selection {spec!r} names no cell")
    return sorted(indexes)


def cells_with_tag(notebook: Notebook, tag: str) -> list[int]:
    return [cell.index for cell in notebook.cells if tag in cell.tags]


def function_name_for(notebook: Notebook, indexes: list[int], tag: str | None = None) -> str:
    """A default function name: the tag, a single cell's readable id, or the cell positions."""
    code = [i for i in indexes if notebook.cells[i].is_code and notebook.cells[i].has_source] or indexes
    candidate = ""
    if tag:
        candidate = tag
    elif len(code) == 1 and notebook.cells[code[0]].id and _readable_id(notebook.cells[code[0]].id or ""):
        candidate = notebook.cells[code[0]].id or ""
    name = re.sub(r"\W+", "_", candidate).strip("_").lower()
    if not name or not name.isidentifier():
        first, last = code[0] + 1, code[-1] + 1
        return f"cells_{first}_{last}" if first != last else f"cell_{first}"
    if name[0].isdigit() or keyword.iskeyword(name) or name in PLAIN_BUILTINS:
        name = f"run_{name}"
    return name


def _readable_id(ident: str) -> bool:
    # nbformat's generated ids are random (uuid4 fragments); people's ids are words.
    return bool(re.fullmatch(r"[a-zA-Z][a-zA-Z0-9]*(?:[-_][a-zA-Z0-9]+)*", ident)) and not re.search(
        r"\d{3}", ident
    )


# -- the plan ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class ModuleDefinition:
    """A helper (function, class, named lambda) or constant that becomes a module-level definition."""

    name: str
    text: str
    origin: int  # cell index
    start: int  # 1-based source lines in the origin cell
    end: int
    kind: str  # "helper" | "constant"
    from_selection: bool


@dataclass(slots=True)
class CellEdit:
    """An unselected cell that loses a moved definition (statement lines removed)."""

    index: int
    source: str  # its source after the removal ("" when the cell goes away)
    remove_cell: bool


@dataclass(slots=True)
class Plan:
    notebook: Notebook
    selected: list[int]  # code cells that move, in order
    function: str | None  # None when only helpers move (no wrapper function)
    params: list[str]
    returns: list[str]
    bodies: list[tuple[int, str]]  # (cell index, code for the function body, unindented)
    module_imports: list[str]
    prelude: list[str]  # lines kept in the calling cell before the call (magics, imports)
    definitions: list[ModuleDefinition]
    imported_helpers: list[str]  # module-level definitions the notebook imports
    trailing: str | None  # expression the calling cell still shows after the call
    deletes: list[str]  # `del` in the notebook after the call
    needs_show: bool
    dropped: list[str]  # names only the original run leaves in the notebook namespace
    timing_cells: list[int]  # cells whose %time/%%time timing lines are dropped on purpose
    edits: list[CellEdit]
    call_index: int
    notes: list[str] = field(default_factory=list)

    @property
    def positions(self) -> list[int]:
        return [i + 1 for i in self.selected]


# -- per-cell statement facts ----------------------------------------------------------------------
@dataclass(slots=True)
class _Stmt:
    node: ast.stmt
    start: int  # 1-based lines in the cell's code (decorators included)
    end: int
    action: str = "body"  # body | import | kept | define | show | notebook | drop


@dataclass(slots=True)
class _CellInfo:
    index: int
    position: int
    code: str
    lines: list[str]
    offset: int
    tree: ast.Module
    flow: CellFlow
    stmts: list[_Stmt]
    source_lines: list[str]
    trailing: _Stmt | None = None
    timed: bool = False

    def source_line(self, code_line: int) -> int:
        return code_line + self.offset


def _statement_start(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(d.lineno for d in decorators)])


def _names_loaded(nodes: Iterable[ast.AST | None]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        if node is None:
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                names.add(sub.id)
    return names


def _bound_names(node: ast.AST) -> list[str]:
    """Module-level names a statement binds, in source order (not inside nested scopes)."""
    names: dict[str, None] = {}

    def visit(current: ast.AST) -> None:
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[current.name] = None
            return
        if isinstance(current, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for sub in ast.walk(current):
                if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                    names[sub.target.id] = None
            return
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Store):
            names[current.id] = None
        elif isinstance(current, (ast.Import, ast.ImportFrom)):
            for alias in current.names:
                if alias.name != "*":
                    names[(alias.asname or alias.name).split(".")[0]] = None
        elif isinstance(current, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and current.name:
            names[current.name] = None
        if isinstance(current, ast.Assign):  # the value runs first, then the targets bind
            visit(current.value)
            for target in current.targets:
                visit(target)
            return
        for child in ast.iter_child_nodes(current):
            visit(child)

    visit(node)
    return list(names)


def _definite_bindings(stmts: list[_Stmt]) -> list[tuple[str, int, bool]]:
    """(name, line, definite) for every binding of the cell's top-level statements, in order."""
    result: list[tuple[str, int, bool]] = []

    def visit(node: ast.stmt, definite: bool) -> None:
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    for name in _bound_names(item.optional_vars):
                        result.append((name, node.lineno, definite))
            for child in node.body:
                visit(child, definite)
            return
        simple = isinstance(
            node,
            (
                ast.Assign,
                ast.AnnAssign,
                ast.AugAssign,
                ast.Import,
                ast.ImportFrom,
                ast.FunctionDef,
                ast.AsyncFunctionDef,
                ast.ClassDef,
                ast.Expr,
            ),
        )
        for name in _bound_names(node):
            # A walrus inside an expression statement may be short-circuited away: not definite.
            is_walrus_only = isinstance(node, ast.Expr)
            result.append((name, node.lineno, definite and simple and not is_walrus_only))

    for stmt in stmts:
        visit(stmt.node, True)
    return result


def _quiet(source: str) -> bool:
    """IPython shows nothing for a cell whose last token is ``;``."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        stripped = source.rstrip()
        return stripped.endswith(";")
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.ENDMARKER,
        tokenize.INDENT,
        tokenize.DEDENT,
    }
    for token in reversed(tokens):
        if token.type in skip:
            continue
        return token.type == tokenize.OP and token.string == ";"
    return False


def _is_quiet_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    if any(
        kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True
        for kw in node.keywords
    ):
        return True
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name in _QUIET_CALLS


def _is_peek(node: ast.expr) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            return False
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Name) and func.id in _PEEK_FUNCTIONS:
                continue
            if isinstance(func, ast.Attribute) and func.attr in _PEEK_METHODS:
                if any(kw.arg == "inplace" for kw in sub.keywords):
                    return False
                continue
            return False
    return True


# -- the notebook before the selection --------------------------------------------------------------
@dataclass(slots=True)
class _Before:
    """What a fresh top-to-bottom run has bound when the selection starts."""

    available: dict[str, int] = field(default_factory=dict)  # name -> latest defining cell
    star_imports: list[tuple[int, str, int]] = field(default_factory=list)  # (cell, module, line)
    opaque: list[tuple[int, str, int]] = field(default_factory=list)  # (cell, reason, line)
    deleted: dict[str, int] = field(default_factory=dict)  # name -> cell whose top-level `del` removed it


def _state_before(analysis: NotebookAnalysis, stop: int, skip: set[int]) -> _Before:
    """What a fresh run has bound when it reaches cell ``stop`` (the ``skip`` cells not run)."""
    state = _Before()
    visible: dict[str, FunctionFacts] = {}
    for index in range(stop):
        if index in skip:
            continue
        flow = analysis.flows.get(index)
        parsed = analysis.parsed.get(index)
        if flow is None or parsed is None or parsed.kind in ("syntax-error", "python2"):
            continue
        for module, line in flow.star_imports:
            state.star_imports.append((index, module, line))
        for reason, line in flow.opaque:
            state.opaque.append((index, reason, line))
        for name in flow.defines:
            state.available[name] = index
        visible.update(flow.functions)
        for ref in flow.invoked:
            facts = visible.get(ref.name)
            if facts is not None:
                for name in facts.global_writes:
                    state.available[name] = index
        top_level = {
            target.id
            for node in (parsed.tree.body if parsed.tree is not None else [])
            if isinstance(node, ast.Delete)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for name, ref in flow.deletes.items():
            defined = flow.defines.get(name)
            # a `del` inside a branch may not run: the name stays available (as a parameter)
            if name in top_level and (defined is None or ref.line >= defined.line):
                state.available.pop(name, None)
                state.deleted[name] = index
        for name in flow.defines:
            state.deleted.pop(name, None)
    return state


# -- the planner ----------------------------------------------------------------------------------
class _Planner:
    def __init__(self, analysis: NotebookAnalysis, selected: list[int], function: str | None) -> None:
        self.analysis = analysis
        self.notebook = analysis.notebook
        self.requested = function
        cells = self.notebook.cells
        code = [i for i in selected if cells[i].is_code and cells[i].has_source]
        # The papermill `parameters` cell never moves: papermill injects values right after it.
        self.left_in_place = [i for i in code if _PARAMETERS_TAG in cells[i].tags]
        self.code = [i for i in code if i not in self.left_in_place] or code
        self.selected_set = set(self.code)
        self.infos: list[_CellInfo] = []

    # -- helpers ------------------------------------------------------------------------------------
    def refuse(self, index: int | None, line: int | None, message: str) -> Refused:
        return Refused(Refusal(message, None if index is None else index + 1, line))

    def _info(self, index: int) -> _CellInfo:
        for info in self.infos:
            if info.index == index:
                return info
        raise KeyError(index)

    # -- 1. the cells themselves ------------------------------------------------------------------
    def read_cells(self) -> None:
        notebook = self.notebook
        if not notebook.is_python or notebook.python_major == 2:
            raise self.refuse(None, None, "only Python 3 notebooks can be extracted")
        if not self.code:
            raise Refused(Refusal("the selection holds no code cell with code"))
        for index in self.code:
            cell = notebook.cells[index]
            parsed = self.analysis.parsed[index]
            flow = self.analysis.flows[index]
            if _PARAMETERS_TAG in cell.tags:
                raise self.refuse(
                    index,
                    None,
                    "this is the notebook's `parameters` cell (papermill injects values after it); "
                    "leave it in the notebook and select the cells that use the parameters",
                )
            if parsed.kind in ("syntax-error", "python2"):
                message, line, _column = parsed.syntax_error or ("syntax error", 1, 1)
                raise self.refuse(index, line, f"the cell does not parse ({message}); fix it first")
            if parsed.kind == "non-python":
                raise self.refuse(
                    index,
                    1,
                    f"`%%{parsed.cell_magic}` runs the cell outside Python; a module cannot hold it "
                    "(leave this cell in the notebook)",
                )
            if parsed.kind != "python":
                continue
            if parsed.cell_magic and parsed.cell_magic not in TIMING_MAGICS:
                raise self.refuse(
                    index,
                    1,
                    f"`%%{parsed.cell_magic}` changes how the whole cell runs (output capture, profiling, "
                    "repetition); nbhygiene cannot reproduce that inside a function",
                )
            code = parsed.code.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
            try:
                tree = compile(code, "<cell>", "exec", flags=_AST_FLAGS, dont_inherit=True)
            except (SyntaxError, ValueError) as exc:  # pragma: no cover - parse_cell already accepted it
                raise self.refuse(index, None, f"the cell does not parse ({exc})") from None
            assert isinstance(tree, ast.Module)
            lines = code.split("\n")
            source_lines = cell.source.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
            stmts = [
                _Stmt(node, _statement_start(node), node.end_lineno or node.lineno) for node in tree.body
            ]
            info = _CellInfo(
                index, cell.position, code, lines, parsed.line_offset, tree, flow, stmts, source_lines
            )
            info.timed = parsed.cell_magic in TIMING_MAGICS
            if (
                parsed.transformed
                and parsed.line_offset == 0
                and len(lines) != len(source_lines)
                and any(ipython_call(n) for n in ast.walk(tree))
            ):
                raise self.refuse(
                    index,
                    None,
                    "IPython joins continued lines of a magic in this cell, so its lines cannot be "
                    "mapped back to the source; put each magic on one line",
                )
            self.infos.append(info)
        if not self.infos:
            raise Refused(Refusal("the selected cells hold no Python code"))

    # -- 2. constructs a function cannot hold ---------------------------------------------------------
    def check_constructs(self) -> None:
        for info in self.infos:
            flow = info.flow
            for reason, line in flow.opaque:
                raise self.refuse(
                    info.index,
                    line,
                    f"{reason} can define or change any name; nbhygiene cannot tell what the cells "
                    "need or produce",
                )
            for stmt in info.stmts:
                node = stmt.node
                line = info.source_line(node.lineno)
                if isinstance(node, (ast.Global, ast.Nonlocal)):
                    kind = "global" if isinstance(node, ast.Global) else "nonlocal"
                    raise self.refuse(
                        info.index,
                        line,
                        f"`{kind} {', '.join(node.names)}` at cell level means something else inside a "
                        "function (it would bind the module's variable, not the notebook's)",
                    )
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    raise self.refuse(
                        info.index, line, "`from __future__ import` must stay at the top of a file"
                    )
                if isinstance(node, ast.ImportFrom) and node.level:
                    raise self.refuse(
                        info.index,
                        line,
                        "a relative import means something else inside the module; use an absolute one",
                    )
            for sub in self._walk_outside_functions(info.tree):
                line = info.source_line(getattr(sub, "lineno", 1))
                if isinstance(sub, (ast.Await, ast.AsyncFor, ast.AsyncWith)):
                    raise self.refuse(
                        info.index,
                        line,
                        "top-level `await` (IPython's autoawait) needs an async function; nbhygiene "
                        "extracts plain functions only",
                    )
                if isinstance(sub, (ast.Yield, ast.YieldFrom, ast.Return)):
                    raise self.refuse(info.index, line, "`return`/`yield` outside a function")
            for call in ast.walk(info.tree):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                    name = call.func.id
                    line = info.source_line(call.lineno)
                    if name in ("exec", "eval", "execfile"):
                        raise self.refuse(
                            info.index,
                            line,
                            f"`{name}()` runs code nbhygiene cannot see; the names it reads or binds are unknown",
                        )
                    if name in ("globals", "locals") or (name == "vars" and not call.args):
                        raise self.refuse(
                            info.index,
                            line,
                            f"`{name}()` is the notebook's namespace here but the function's inside a module",
                        )
            for facts in (*info.flow.functions.values(), *info.flow.anonymous_functions):
                if facts.global_writes:
                    name = sorted(facts.global_writes)[0]
                    ref = facts.global_writes[name]
                    raise self.refuse(
                        info.index,
                        ref.line,
                        f"`{facts.name}` assigns the global `{name}`; moved into a module it would change the "
                        "module's variable, not the notebook's",
                    )
                if facts.uses_dynamic:
                    raise self.refuse(info.index, facts.line, f"`{facts.name}` runs dynamic code (exec)")

    @staticmethod
    def _walk_outside_functions(tree: ast.AST) -> Iterator[ast.AST]:
        stack: list[ast.AST] = list(ast.iter_child_nodes(tree))
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            yield node
            stack.extend(ast.iter_child_nodes(node))

    # -- 3. magics ----------------------------------------------------------------------------------
    def classify_magics(self) -> None:
        self.kept_magic_lines: dict[tuple[int, int], str] = {}
        self.timing_cells: set[int] = {info.index for info in self.infos if info.timed}
        seen_code = False
        for info in self.infos:
            for stmt in info.stmts:
                node = stmt.node
                call = ipython_call(node.value) if isinstance(node, (ast.Expr, ast.Assign)) else None
                if call is not None and isinstance(node, (ast.Expr, ast.Assign)):
                    self._magic(info, node, call, stmt, seen_code)
                else:
                    for sub in ast.walk(node):
                        if sub is not node and isinstance(sub, (ast.Expr, ast.Assign)):
                            nested = ipython_call(sub.value)
                            if nested is not None:
                                self._magic(info, sub, nested, None, seen_code)
                if stmt.action != "kept" and not isinstance(node, (ast.Import, ast.ImportFrom)):
                    seen_code = True
            if any(isinstance(n, ast.Expr | ast.Assign) and _is_timing(n) for n in ast.walk(info.tree)):
                self._reparse(info)

    def _reparse(self, info: _CellInfo) -> None:
        """Timing magics became their statements: parse the cell again (lines did not move)."""
        info.code = "\n".join(info.lines)
        tree = compile(info.code, "<cell>", "exec", flags=_AST_FLAGS, dont_inherit=True)
        assert isinstance(tree, ast.Module)
        actions = {stmt.start: stmt.action for stmt in info.stmts}
        info.tree = tree
        info.stmts = [
            _Stmt(
                node,
                _statement_start(node),
                node.end_lineno or node.lineno,
                actions.get(_statement_start(node), "body"),
            )
            for node in tree.body
        ]

    def _magic(
        self,
        info: _CellInfo,
        node: ast.Expr | ast.Assign,
        call: tuple[str, list[ast.expr]],
        stmt: _Stmt | None,
        seen_code: bool,
    ) -> None:
        method, args = call
        line = info.source_line(node.lineno)
        name = _constant(args[0]) if args else ""
        argument = _constant(args[1]) if len(args) > 1 else ""
        argument = getattr(node.value, "_nbhygiene_args", None) or argument
        if method == "run_line_magic" and name in TIMING_MAGICS:
            statement = argument.strip()
            if isinstance(node, ast.Assign):
                targets = " = ".join(ast.unparse(t) for t in node.targets)
                statement = f"{targets} = {statement}"
            try:
                ast.parse(statement)
            except SyntaxError:
                raise self.refuse(info.index, line, f"`%{name}` holds code that does not parse") from None
            self._replace_line(info, node, statement)
            self.timing_cells.add(info.index)
            return
        if method == "system":
            label = f"`!{name.split(' ')[0]}`"
        elif method == "run_line_magic":
            label = f"`%{name}`"
        else:
            label = f"`get_ipython().{method}(...)`"
        if isinstance(node, ast.Assign):
            raise self.refuse(
                info.index,
                line,
                f"the cell assigns the output of {label}; that only exists in a notebook "
                "(leave this cell in the notebook)",
            )
        kept = (method == "run_line_magic" and name in KEPT_LINE_MAGICS) or method == "system"
        if not kept:
            if method == "run_line_magic" and name in ("timeit", "prun", "debug"):
                raise self.refuse(
                    info.index,
                    line,
                    f"`%{name}` runs its statement in its own way (repeated, profiled or debugged); "
                    "remove it or leave this cell in the notebook",
                )
            raise self.refuse(
                info.index,
                line,
                f"unknown magic {label}: nbhygiene cannot tell which names it reads or binds",
            )
        if stmt is None:
            raise self.refuse(
                info.index,
                line,
                f"{label} runs inside a block; only a notebook can run it, and it cannot stay in the "
                "notebook without changing when it runs",
            )
        if seen_code:
            raise self.refuse(
                info.index,
                line,
                f"{label} runs in the middle of the extracted code; it must stay in the notebook, and "
                "moving it before the call would change the order of effects (move it to the top of the "
                "first selected cell, or leave this cell out)",
            )
        stmt.action = "kept"
        first = info.source_line(stmt.start)
        last = info.source_line(stmt.end)
        self.kept_magic_lines[(info.index, stmt.start)] = "\n".join(info.source_lines[first - 1 : last])

    def _replace_line(self, info: _CellInfo, node: ast.stmt, statement: str) -> None:
        line = info.lines[node.lineno - 1]
        indent = line[: len(line) - len(line.lstrip())]
        if node.end_lineno != node.lineno or line.count("get_ipython()") != 1 or "\n" in statement:
            raise self.refuse(
                info.index, info.source_line(node.lineno), "a timing magic shares its line with other code"
            )
        info.lines[node.lineno - 1] = indent + statement
        info.code = "\n".join(info.lines)

    # -- 4. names -------------------------------------------------------------------------------------
    def analyse_names(self) -> None:
        analysis = self.analysis
        self.before = _state_before(analysis, self.call_index, self.selected_set)
        # Hoisted imports of the selection: bound name -> (statement text, cell, line)
        self.selection_imports: dict[str, tuple[str, int, int]] = {}
        self.star_in_selection: list[tuple[int, str, int]] = []
        self.extra_imports: dict[str, list[str]] = {}
        for info in self.infos:
            for stmt in info.stmts:
                node = stmt.node
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    stmt.action = "import"
                    for alias in node.names:
                        line = info.source_line(node.lineno)
                        if alias.name == "*":
                            assert isinstance(node, ast.ImportFrom)
                            self.star_in_selection.append((info.index, node.module or "", line))
                            continue
                        bound, text = alias_import(node, alias)
                        previous = self.selection_imports.get(bound)
                        if previous is not None and previous[0] != text and same_package(previous[0], text):
                            # `import a.b` and `import a` bind the same package `a`: keep both statements
                            if text not in self.extra_imports.setdefault(bound, []):
                                self.extra_imports[bound].append(text)
                            continue
                        if previous is not None and previous[0] != text:
                            raise self.refuse(
                                info.index,
                                line,
                                f"`{bound}` is imported twice from different places (also cell "
                                f"{previous[1] + 1}, line {previous[2]})",
                            )
                        self.selection_imports.setdefault(bound, (text, info.index, line))
        # Bindings in order, with definiteness.
        self.bound_first: dict[str, tuple[int, int, bool]] = {}  # name -> (cell, line, definite)
        self.bound_any: set[str] = set()
        self.deleted: dict[str, tuple[int, int, bool]] = {}
        for info in self.infos:
            for name, line, definite in _definite_bindings([s for s in info.stmts if s.action != "import"]):
                self.bound_any.add(name)
                self.bound_first.setdefault(name, (info.index, info.source_line(line), definite))
            for name, ref in info.flow.deletes.items():
                top = any(
                    isinstance(s.node, ast.Delete) and name in _deleted_names(s.node) for s in info.stmts
                )
                self.deleted[name] = (info.index, ref.line, top)
        for name, (_text, cell, line) in self.selection_imports.items():
            if name in self.bound_any:
                where = self.bound_first[name]
                raise self.refuse(
                    where[0],
                    where[1],
                    f"`{name}` is both imported (cell {cell + 1}, line {line}) and assigned here; "
                    "nbhygiene cannot tell which one the code means",
                )
        # Reads from outside, in order: name -> (cell, line)
        reads: dict[str, tuple[int, int, int]] = {}
        bound_so_far: set[str] = set()
        definite_so_far: set[str] = set()
        for info in self.infos:
            flow = info.flow
            for ref in flow.reads:
                if ref.name in self.selection_imports:
                    continue
                conditional = ref.name not in definite_so_far and ref.name in self.before.available
                if ref.name not in bound_so_far or conditional:
                    reads.setdefault(ref.name, (info.index, ref.line, ref.column))
            for ref in flow.soft_reads:
                if ref.name not in bound_so_far:
                    reads.setdefault(ref.name, (info.index, ref.line, ref.column))
            for name, _line, definite in _definite_bindings([s for s in info.stmts if s.action != "import"]):
                bound_so_far.add(name)
                if definite:
                    definite_so_far.add(name)
        # A name first bound conditionally that an earlier cell defines: the function starts from the
        # notebook's value, as the cells did.
        for name, (cell, line, definite) in self.bound_first.items():
            if not definite and name in self.before.available:
                reads.setdefault(name, (cell, line, 0))
        # parameters in the order a reader meets them: cell, line, column
        self.outside_reads: dict[str, tuple[int, int]] = {
            name: (cell, line)
            for name, (cell, line, _column) in sorted(reads.items(), key=lambda item: item[1])
        }
        # IPython history and module dunders
        later_loads = self._later_loads()
        for info in self.infos:
            loads = set(info.flow.loads)
            for facts in (*info.flow.functions.values(), *info.flow.anonymous_functions):
                loads.update(facts.global_reads)
            for name in sorted(loads):
                if name in _MODULE_DUNDERS:
                    raise self.refuse(
                        info.index,
                        self._line_of(info, name),
                        f"reads `{name}`, which is different in a module (`__main__` in the notebook)",
                    )
                if (name in IPYTHON_ONLY or _HISTORY_NAME.match(name)) and not self._handled_ipython(
                    info, name
                ):
                    raise self.refuse(
                        info.index,
                        self._line_of(info, name),
                        f"reads `{name}`, which only exists in an IPython kernel",
                    )
        self.later_loads = later_loads

    def _handled_ipython(self, info: _CellInfo, name: str) -> bool:
        if name != "get_ipython":
            return False
        # get_ipython only appears through magics we rewrote or keep in the notebook
        for node in ast.walk(info.tree):
            if isinstance(node, ast.Name) and node.id == "get_ipython":
                parent_ok = False
                for stmt in ast.walk(info.tree):
                    if (
                        isinstance(stmt, (ast.Expr, ast.Assign))
                        and ipython_call(stmt.value) is not None
                        and any(sub is node for sub in ast.walk(stmt.value))
                    ):
                        parent_ok = True
                        break
                if not parent_ok:
                    return False
        return True

    @staticmethod
    def _line_of(info: _CellInfo, name: str) -> int:
        for node in ast.walk(info.tree):
            if isinstance(node, ast.Name) and node.id == name:
                return info.source_line(node.lineno)
        return info.source_line(1)

    # -- later cells ----------------------------------------------------------------------------------
    def _later_loads(self) -> set[str]:
        names: set[str] = set()
        for index, flow in self.analysis.flows.items():
            if index > self.call_index and index not in self.selected_set:
                names.update(flow.loads)
        return names

    def later_facts(self) -> None:
        """Names read (before being bound) and names bound by the cells after the selection."""
        analysis = self.analysis
        self.later_reads: dict[str, tuple[int, int]] = {}
        self.later_defines: dict[str, int] = {}
        visible: dict[str, FunctionFacts] = {}
        for cell in self.notebook.cells:
            index = cell.index
            flow = analysis.flows.get(index)
            if flow is None:
                continue
            later = index > self.call_index and index not in self.selected_set
            if later:
                cell_functions = dict(visible)
                cell_functions.update(flow.functions)
                for ref in (*flow.reads, *flow.soft_reads):
                    self.later_reads.setdefault(ref.name, (index, ref.line))
                for invoked in flow.invoked:
                    facts = cell_functions.get(invoked.name)
                    if facts is None:
                        continue
                    for name in analysis.closure_reads(facts, cell_functions):
                        defined = flow.defines.get(name)
                        if defined is not None and defined.line <= invoked.line:
                            continue
                        self.later_reads.setdefault(name, (index, invoked.line))
                for name in flow.defines:
                    self.later_defines.setdefault(name, index)
                for name in flow.deletes:
                    self.later_defines.setdefault(name, index)
            visible.update(flow.functions)

    # -- 5. in-between cells --------------------------------------------------------------------------
    def check_contiguous(self) -> None:
        """Unselected code cells between selected ones must not interact with the cells that move past them.

        The call goes where the first selected cell was (the later selected cells move up, past the
        cells in between) or, when that is not safe, where the last one was (the earlier ones move down).
        """
        first, last = self.code[0], self.code[-1]
        between = [
            i
            for i in range(first + 1, last)
            if i not in self.selected_set
            and self.notebook.cells[i].is_code
            and self.notebook.cells[i].has_source
        ]
        self.call_index = first
        if not between:
            return
        for index in between:
            if self.analysis.flows[index].magics or self.analysis.parsed[index].kind != "python":
                raise self.refuse(
                    index,
                    None,
                    "this unselected cell between selected cells runs a magic or shell command; nbhygiene "
                    "cannot tell whether moving the selected cells past it changes anything",
                )
        up = self._clash(between, lambda b: [i for i in self.code if i > b])
        if up is None:
            return
        down = self._clash(between, lambda b: [i for i in self.code if i < b])
        if down is None:
            self.call_index = last
            return
        index, other, name = up
        raise self.refuse(
            index,
            None,
            f"this unselected cell sits between selected cells {first + 1} and {last + 1} and shares `{name}` "
            f"with cell {other + 1}; the selection is not contiguous in effect (select it too, or extract "
            "the parts separately)",
        )

    def _clash(self, between: list[int], moving: Callable[[int], list[int]]) -> tuple[int, int, str] | None:
        """The first (unselected cell, selected cell, name) that would change order, or None."""
        for index in between:
            flow = self.analysis.flows[index]
            own_writes = _writes(flow)
            own_reads = set(flow.loads) | {r.name for r in flow.soft_reads}
            for other_index in moving(index):
                other = self.analysis.flows[other_index]
                other_reads = set(other.loads) | {r.name for r in other.soft_reads}
                other_writes = _writes(other)
                clash = sorted((own_writes & (other_reads | other_writes)) | (own_reads & other_writes))
                clash = [n for n in clash if n not in PLAIN_BUILTINS]
                if clash:
                    return index, other_index, clash[0]
        return None

    # -- 6. resolve what the cells read ------------------------------------------------------------
    def resolve_reads(self) -> None:
        analysis = self.analysis
        before = self.before
        self.params: list[str] = []
        self.copied_imports: dict[str, str] = {}  # name -> import text (from an earlier cell)
        self.moved_outside: dict[str, ModuleDefinition] = {}
        self.need_display = False
        for name, (cell, line) in self.outside_reads.items():
            if name in self.selection_imports or name in IPYTHON_ONLY:
                continue
            if name in before.available:
                definer = before.available[name]
                if name not in self.bound_any and self._import_text(definer, name) is not None:
                    self.copied_imports[name] = self._import_text(definer, name) or ""
                    continue
                self.params.append(name)
                continue
            if name == "display":
                self.need_display = True
                continue
            if name in PLAIN_BUILTINS:
                continue
            if name in self.bound_any:
                where = self.bound_first[name]
                raise self.refuse(
                    cell,
                    line,
                    f"reads `{name}` before these cells bind it (cell {where[0] + 1}, line {where[1]}) and no "
                    "earlier cell defines it",
                )
            later = [
                i
                for i in analysis.definers.get(name, [])
                if i > self.call_index and i not in self.selected_set
            ]
            if later:
                raise self.refuse(
                    cell,
                    line,
                    f"reads `{name}`, which is defined only further down (cell {later[0] + 1}); a fresh run "
                    "fails here, so the extraction would change where it fails",
                )
            if name in before.deleted:
                raise self.refuse(
                    cell,
                    line,
                    f"reads `{name}`, which cell {before.deleted[name] + 1} deletes; a fresh run fails here",
                )
            star = self._star_before(cell, line)
            if star is not None:
                star_cell, module, star_line = star
                raise self.refuse(
                    cell,
                    line,
                    f"reads `{name}`, which can only come from `from {module} import *` (cell {star_cell + 1}, "
                    f"line {star_line}); nbhygiene cannot know which names a star import binds, so write "
                    "the import out",
                )
            if before.opaque:
                op_cell, reason, op_line = before.opaque[-1]
                raise self.refuse(
                    cell,
                    line,
                    f"reads `{name}`, which may come from {reason} (cell {op_cell + 1}, line {op_line})",
                )
            raise self.refuse(
                cell, line, f"reads `{name}`, which no earlier cell defines (a fresh run raises NameError)"
            )

    def _star_before(self, cell: int, line: int) -> tuple[int, str, int] | None:
        stars = [s for s in self.star_in_selection if (s[0], s[2]) <= (cell, line)]
        if stars:
            return stars[-1]
        return self.before.star_imports[-1] if self.before.star_imports else None

    def _import_text(self, definer: int, name: str) -> str | None:
        """The top-level import statement of ``definer`` that binds ``name``, if that is its only binding."""
        flow = self.analysis.flows[definer]
        if not flow.import_only(name):
            return None
        parsed = self.analysis.parsed[definer]
        if parsed.tree is None:
            return None
        found: str | None = None
        for node in parsed.tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.ImportFrom) and (node.level or node.module == "__future__"):
                    continue
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    bound, text = alias_import(node, alias)
                    if bound == name:
                        if found is not None and found != text:
                            return None
                        found = text
        return found

    # -- 7. helpers and constants -------------------------------------------------------------------
    def plan_definitions(self) -> None:
        """Which definitions of the selection become module-level, and which outside ones move."""
        self.promoted: dict[str, tuple[_CellInfo, _Stmt, FunctionFacts | None]] = {}
        candidates: dict[str, tuple[_CellInfo, _Stmt, FunctionFacts | None]] = {}
        bind_count: dict[str, int] = {}
        for info in self.infos:
            for name, _line, _definite in _definite_bindings([s for s in info.stmts if s.action != "import"]):
                bind_count[name] = bind_count.get(name, 0) + 1
        for info in self.infos:
            for stmt in info.stmts:
                node = stmt.node
                defined: str | None = None
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    defined = node.name
                elif (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Lambda)
                ):
                    defined = node.targets[0].id
                if defined is None or bind_count.get(defined, 0) != 1 or defined in self.deleted:
                    continue
                if any(defined in self.analysis.flows[i].mutations for i in self.code):
                    continue
                if any(ipython_call(sub) for sub in ast.walk(node)):
                    continue
                candidates[defined] = (info, stmt, info.flow.functions.get(defined))
        module_names = set(self.selection_imports) | set(self.copied_imports)
        # names that resolve at module level: imports, builtins, other promoted definitions
        changed = True
        promoted = dict(candidates)
        while changed:
            changed = False
            for name, (_info, stmt, facts) in list(promoted.items()):
                free = self._free_names(stmt.node, facts)
                ok = True
                for free_name in free:
                    if free_name in promoted or free_name in module_names:
                        continue
                    if (
                        free_name in PLAIN_BUILTINS
                        and free_name not in self.before.available
                        and free_name not in self.bound_any
                    ):
                        continue
                    if free_name == "display":
                        continue
                    if free_name in self.before.available and self._import_text(
                        self.before.available[free_name], free_name
                    ):
                        continue
                    ok = False
                    break
                if not ok:
                    del promoted[name]
                    changed = True
        for _info, stmt, facts in promoted.values():
            for free_name in self._free_names(stmt.node, facts):
                if free_name in self.before.available and free_name not in module_names:
                    text = self._import_text(self.before.available[free_name], free_name)
                    if text:
                        self.copied_imports.setdefault(free_name, text)
                if free_name == "display":
                    self.need_display = True
            stmt.action = "define"
        self.promoted = promoted

    def _free_names(self, node: ast.stmt, facts: FunctionFacts | None) -> set[str]:
        """Module-level names a definition needs when it is defined and when it runs."""
        names: set[str] = set()
        if facts is not None:
            names.update(facts.global_reads)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            names |= _names_loaded([*node.decorator_list, *args.defaults, *args.kw_defaults, node.returns])
            names |= _names_loaded(
                [
                    a.annotation
                    for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
                    if a
                ]
            )
        elif isinstance(node, ast.ClassDef):
            names |= _names_loaded([*node.decorator_list, *node.bases, *(k.value for k in node.keywords)])
            for statement in node.body:
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    args = statement.args
                    names |= _names_loaded([*statement.decorator_list, *args.defaults, *args.kw_defaults])
                else:
                    names |= _names_loaded([statement])
            names -= {s.name for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            names |= _names_loaded([*node.value.args.defaults, *node.value.args.kw_defaults])
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.discard(node.name)
        return names

    def plan_outside_moves(self) -> None:
        """Constants and helpers of earlier cells that only the selection uses move into the module."""
        analysis = self.analysis
        self.edits: dict[int, list[tuple[int, int, ModuleDefinition]]] = {}
        for name in list(self.params):
            definer = self.before.available.get(name)
            if definer is None or name in self.bound_any or name in self.deleted:
                continue
            cell = self.notebook.cells[definer]
            if _PARAMETERS_TAG in cell.tags:
                continue
            definers = analysis.definers.get(name, [])
            if definers != [definer]:
                continue
            flow = analysis.flows[definer]
            parsed = analysis.parsed[definer]
            if parsed.tree is None or parsed.transformed or parsed.kind != "python":
                continue
            if name in flow.mutations or name in flow.may_mutate or name in flow.deletes:
                continue
            users = [
                i
                for i, f in analysis.flows.items()
                if i != definer
                and i not in self.selected_set
                and (name in f.loads or _read_by_functions(f, name))
            ]
            if users or name in {n for i in self.code for n in analysis.flows[i].mutations}:
                continue
            if any(name in analysis.flows[i].may_mutate for i in self.code):
                continue
            statement = _single_binding_statement(parsed.tree, name)
            if statement is None:
                continue
            # the defining cell must not use the name itself after defining it
            if name in {n for n in _names_loaded([s for s in parsed.tree.body if s is not statement])}:
                continue
            kind = "constant" if isinstance(statement, ast.Assign) else "helper"
            if kind == "constant" and not _is_literal(statement.value):  # type: ignore[attr-defined]
                continue
            if kind == "helper":
                facts = flow.functions.get(name)
                if facts is None or facts.global_writes or facts.uses_dynamic:
                    continue
                free = self._free_names(statement, facts)
                if any(
                    not (
                        (n in PLAIN_BUILTINS and n not in self.before.available)
                        or (n in self.before.available and self._import_text(self.before.available[n], n))
                    )
                    for n in free
                ):
                    continue
                for n in free:
                    if n in self.before.available:
                        text = self._import_text(self.before.available[n], n)
                        if text:
                            self.copied_imports.setdefault(n, text)
            start = _statement_start(statement)
            end = statement.end_lineno or statement.lineno
            lines = cell.source.replace("\r\n", "\n").split("\n")
            text = "\n".join(lines[start - 1 : end])
            definition = ModuleDefinition(name, text, definer, start, end, kind, False)
            self.moved_outside[name] = definition
            self.edits.setdefault(definer, []).append((start, end, definition))
            self.params.remove(name)

    # -- 8. calls of functions defined elsewhere ---------------------------------------------------
    def check_outside_calls(self) -> None:
        """A notebook function called by the cells reads the notebook's globals, not the function's locals."""
        analysis = self.analysis
        visible: dict[str, FunctionFacts] = {}
        for index in range(self.call_index):
            flow = analysis.flows.get(index)
            if flow is not None and index not in self.selected_set:
                visible.update(flow.functions)
        bound_at: dict[str, tuple[int, int]] = {}
        for info in self.infos:
            for name, line, _definite in _definite_bindings([s for s in info.stmts if s.action != "import"]):
                bound_at.setdefault(name, (info.index, info.source_line(line)))
        own = {name for info in self.infos for name in info.flow.functions}
        for info in self.infos:
            for ref in info.flow.invoked:
                if ref.name in own or ref.name not in visible:
                    continue
                if ref.name in self.moved_outside:
                    continue
                facts = visible[ref.name]
                for name in sorted(analysis.closure_reads(facts, visible)):
                    where = bound_at.get(name)
                    if where is not None and where < (info.index, ref.line):
                        raise self.refuse(
                            info.index,
                            ref.line,
                            f"calls `{ref.name}`, which reads the notebook variable `{name}`; these cells rebind "
                            f"`{name}` first (cell {where[0] + 1}, line {where[1]}), and inside a function the "
                            "call would still see the old value",
                        )
                    if name in self.bound_any and name not in self.before.available:
                        raise self.refuse(
                            info.index,
                            ref.line,
                            f"calls `{ref.name}`, which reads `{name}`, a name only these cells define; inside a "
                            "function it would not see it",
                        )
                if facts.global_writes:
                    raise self.refuse(
                        info.index,
                        ref.line,
                        f"calls `{ref.name}`, which assigns the notebook variable "
                        f"`{sorted(facts.global_writes)[0]}` through `global`",
                    )
        # classes of the notebook whose methods read globals these cells rebind
        for name, facts in visible.items():
            if not facts.is_class or name in self.moved_outside:
                continue
            clash = sorted(set(facts.global_reads) & self.bound_any & set(self.before.available))
            if clash:
                first = self._info(self.code[0])
                raise self.refuse(
                    first.index,
                    None,
                    f"the class `{name}` reads the notebook variable `{clash[0]}`, which these cells rebind; "
                    "its methods would see the old value while the function runs",
                )

    # -- 9. free names of functions that stay inside the wrapper ----------------------------------
    def nested_reads(self) -> None:
        for info in self.infos:
            for facts in (*info.flow.functions.values(), *info.flow.anonymous_functions):
                if facts.name in self.promoted:
                    continue
                for name, ref in facts.global_reads.items():
                    if name in self.selection_imports or name in self.copied_imports or name in self.promoted:
                        continue
                    if name in self.moved_outside:
                        continue
                    if name in self.bound_any and name not in self.before.available:
                        continue  # a local of the function: the closure reads it, as the notebook did
                    if name in self.before.available:
                        if name not in self.params:
                            definer = self.before.available[name]
                            text = self._import_text(definer, name) if name not in self.bound_any else None
                            if text:
                                self.copied_imports.setdefault(name, text)
                            else:
                                self.params.append(name)
                        continue
                    if name == "display":
                        self.need_display = True
                        continue
                    if name in PLAIN_BUILTINS or name in IPYTHON_ONLY:
                        continue
                    if any(
                        name in f.defines
                        for i, f in self.analysis.flows.items()
                        if i not in self.selected_set
                    ):
                        raise self.refuse(
                            info.index,
                            ref.line,
                            f"`{facts.name}` reads `{name}`, which the notebook defines only after these cells; "
                            "inside the module it would not see it",
                        )

    # -- 10. what comes out -----------------------------------------------------------------------
    def plan_outputs(self) -> None:
        later_reads = self.later_reads
        bound_order: list[str] = []
        for info in self.infos:
            for name, _line, _definite in _definite_bindings([s for s in info.stmts if s.action != "import"]):
                if name not in bound_order:
                    bound_order.append(name)
        # `del` of outside names
        self.notebook_deletes: list[str] = []
        for name, (cell, line, top) in self.deleted.items():
            rebound_after = self._bound_after(name, cell, line)
            if not top:
                if name in self.before.available or name in later_reads:
                    raise self.refuse(
                        cell, line, f"`del {name}` runs only in some cases; the notebook cannot follow that"
                    )
                continue
            if name in later_reads and not rebound_after:
                where = later_reads[name]
                raise self.refuse(
                    cell,
                    line,
                    f"`del {name}` removes a name that cell {where[0] + 1} still reads; a fresh run fails "
                    "there, so fix the notebook first",
                )
            if name in self.before.available and not rebound_after:
                self.notebook_deletes.append(name)
        # trailing expressions
        self.trailing_text: str | None = None
        self.needs_show = False
        last_info = self.infos[-1]
        for info in self.infos:
            body_stmts = [s for s in info.stmts if s.action in ("body",)]
            if not info.stmts or not body_stmts:
                continue
            last = info.stmts[-1]
            if last.action != "body" or not isinstance(last.node, ast.Expr):
                continue
            if _quiet(self.notebook.cells[info.index].source):
                continue
            value = last.node.value
            if _is_quiet_call(value):
                continue
            info.trailing = last
            others = [
                s for i in self.infos for s in i.stmts if s.action in ("body", "show") and s is not last
            ]
            if info is last_info and others and self._keep_in_notebook(info, value):
                last.action = "notebook"
                self.trailing_text = ast.get_source_segment(info.code, value) or ast.unparse(value)
                continue
            last.action = "show"
            self.needs_show = True
        # history variables after a displayed value
        if any(info.trailing is not None for info in self.infos):
            history = sorted(n for n in self.later_loads if _HISTORY_NAME.match(n) or n in ("Out", "_oh"))
            if history:
                raise self.refuse(
                    self.infos[-1].index,
                    None,
                    f"a later cell reads IPython's output history `{history[0]}`, which would change once "
                    "these cells' values are shown by a function",
                )
        trailing_names: set[str] = set()
        if self.trailing_text is not None:
            trailing_names = _names_loaded([ast.parse(self.trailing_text, mode="eval")])
        returns: list[str] = []
        for name in bound_order:
            if name in self.promoted or name in self.selection_imports:
                continue
            if (
                name in self.deleted
                and self.deleted[name][2]
                and not self._bound_after(name, *self.deleted[name][:2])
            ):
                continue
            needed = name in later_reads or name in trailing_names
            stale = name in self.before.available and name not in self.later_defines
            if needed or stale:
                returns.append(name)
        self.returns = returns
        # functions and classes handed back to the notebook keep reading the function's variables
        for name in returns:
            facts = next((i.flow.functions[name] for i in self.infos if name in i.flow.functions), None)
            if facts is None:
                continue
            for free in sorted(facts.global_reads):
                if (
                    free in self.later_defines
                    and free not in self.selection_imports
                    and free not in self.copied_imports
                ):
                    raise self.refuse(
                        self.bound_first[name][0],
                        self.bound_first[name][1],
                        f"`{name}` is used by later cells and reads `{free}`, which cell "
                        f"{self.later_defines[free] + 1} rebinds; returned from a function it would keep "
                        "reading the old value",
                    )
        # notebook imports: hoisted imports that later cells, the kept trailing expression or nobody uses
        module_reads = self._module_reads()
        self.notebook_import_names: list[str] = []
        self.module_import_names: list[str] = []
        for name in self.selection_imports:
            used_later = name in later_reads or name in self.later_loads or name in trailing_names
            used_by_module = name in module_reads
            if used_by_module:
                self.module_import_names.append(name)
            if used_later or not used_by_module:
                self.notebook_import_names.append(name)
        # helpers the notebook needs
        self.imported_helpers = [
            n for n in self.promoted if n in later_reads or n in self.later_loads or n in trailing_names
        ]
        self.dropped = sorted(
            (set(bound_order) | set(self.selection_imports) | set(self.promoted) | set(self.moved_outside))
            - set(returns)
            - set(self.notebook_import_names)
            - set(self.imported_helpers)
        )

    def _bound_after(self, name: str, cell: int, line: int) -> bool:
        for info in self.infos:
            for bound, bline, _definite in _definite_bindings(info.stmts):
                if bound == name and (info.index, info.source_line(bline)) > (cell, line):
                    return True
        return False

    def _keep_in_notebook(self, info: _CellInfo, value: ast.expr) -> bool:
        if not _is_peek(value):
            return False
        names = _names_loaded([value])
        own_functions = {n for i in self.infos for n in i.flow.functions}
        if names & own_functions:
            return False
        return all(name not in self.deleted for name in names)

    def _module_reads(self) -> set[str]:
        names: set[str] = set()
        for info in self.infos:
            names.update(info.flow.loads)
            names.update(r.name for r in info.flow.soft_reads)
            for facts in (*info.flow.functions.values(), *info.flow.anonymous_functions):
                names.update(facts.global_reads)
            for stmt in info.stmts:
                if stmt.action in ("define",):
                    names |= self._free_names(
                        stmt.node, info.flow.functions.get(getattr(stmt.node, "name", ""))
                    )
        if self.trailing_text is not None:
            only_trailing = _names_loaded([ast.parse(self.trailing_text, mode="eval")])
            other: set[str] = set()
            for info in self.infos:
                for stmt in info.stmts:
                    if stmt.action != "notebook":
                        other |= _names_loaded([stmt.node])
                for facts in (*info.flow.functions.values(), *info.flow.anonymous_functions):
                    other.update(facts.global_reads)
            names = (names - only_trailing) | (names & other)
        for definition in self.moved_outside.values():
            names |= _names_loaded([ast.parse(definition.text)])
        return names

    # -- 11. assemble ------------------------------------------------------------------------------
    def function_name(self, default: str) -> str | None:
        has_body = any(s.action in ("body", "show") for info in self.infos for s in info.stmts)
        if not has_body:
            return None
        taken = set(self.analysis.definers) | {n for f in self.analysis.flows.values() for n in f.loads}
        taken |= PLAIN_BUILTINS | set(self.promoted) | set(self.moved_outside)
        if self.requested is not None:
            name = self.requested
            if not name.isidentifier() or keyword.iskeyword(name):
                raise Refused(Refusal(f"`{name}` is not a valid function name"))
            if name in taken:
                raise Refused(
                    Refusal(
                        f"`{name}` is already a name in the notebook (or a builtin); pick another with --function"
                    )
                )
            return name
        # a default name must not clash either: try the readable one, then the cell positions
        first, last = self.code[0] + 1, self.code[-1] + 1
        positional = f"cells_{first}_{last}" if first != last else f"cell_{first}"
        candidates = [default, f"run_{default}", positional]
        candidates += [f"{positional}_{number}" for number in range(2, 100)]
        for name in candidates:
            if name.isidentifier() and not keyword.iskeyword(name) and name not in taken:
                return name
        raise Refused(Refusal("no free function name; pick one with --function"))  # pragma: no cover

    def assemble(self, default_name: str) -> Plan:
        name = self.function_name(default_name)
        if name is None and not self.promoted and not self.moved_outside:
            raise self.refuse(
                self.code[0],
                None,
                "there is nothing to move: the cells only import names that other cells still use"
                + (" (and show a value)" if self.trailing_text else ""),
            )
        bodies: list[tuple[int, str]] = []
        for info in self.infos:
            text = _cell_body(info)
            if text.strip():
                bodies.append((info.index, text))
        definitions: list[ModuleDefinition] = []
        for helper_name, (info, stmt, _facts) in self.promoted.items():
            text = "\n".join(info.lines[stmt.start - 1 : stmt.end])
            definitions.append(
                ModuleDefinition(
                    helper_name,
                    text,
                    info.index,
                    info.source_line(stmt.start),
                    info.source_line(stmt.end),
                    "helper",
                    True,
                )
            )
        outside = sorted(self.moved_outside.values(), key=lambda d: (d.origin, d.start))
        definitions = outside + definitions
        # imports for the module: copied from earlier cells, then the selection's own
        module_imports: list[str] = []
        module_reads = self._module_reads()
        for import_name, text in self.copied_imports.items():
            if import_name in module_reads and text not in module_imports:
                module_imports.append(text)
        for import_name in self.module_import_names:
            for text in (self.selection_imports[import_name][0], *self.extra_imports.get(import_name, [])):
                if text not in module_imports:
                    module_imports.append(text)
        if self.need_display or self.needs_show:
            module_imports.append("from IPython.display import display")
        # the calling cell's prelude: kept magics and imports, in their original order
        prelude: list[str] = []
        kept_imports = set(self.notebook_import_names)
        for info in self.infos:
            for stmt in info.stmts:
                if stmt.action == "kept":
                    prelude.append(self.kept_magic_lines[(info.index, stmt.start)])
                elif stmt.action == "import":
                    node = stmt.node
                    assert isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in node.names:
                        if alias.name == "*":
                            prelude.append(ast.unparse(node))
                            continue
                        bound, text = alias_import(node, alias)
                        if bound in kept_imports and text not in prelude:
                            prelude.append(text)
        edits: list[CellEdit] = []
        for index, removals in sorted(self.edits.items()):
            cell = self.notebook.cells[index]
            lines = cell.source.replace("\r\n", "\n").split("\n")
            drop: set[int] = set()
            for start, end, _definition in removals:
                drop.update(range(start, end + 1))
            remaining = [line for number, line in enumerate(lines, 1) if number not in drop]
            text = _strip_blank_edges("\n".join(remaining))
            remove_cell = not text.strip() and not cell.outputs
            if not text.strip() and cell.outputs:
                text = "# " + ", ".join(d.name for _s, _e, d in removals) + " moved to the extracted module"
            edits.append(CellEdit(index, text, remove_cell))
        notes: list[str] = []
        if self.left_in_place and self.code != self.left_in_place:
            cells = ", ".join(str(i + 1) for i in self.left_in_place)
            notes.append(
                f"the `parameters` cell {cells} stays in the notebook (papermill injects values after it)"
            )
        if self.timing_cells:
            cells = ", ".join(str(i + 1) for i in sorted(self.timing_cells))
            notes.append(f"the timing printed by %time/%%time in cell(s) {cells} is dropped")
        if self.moved_outside:
            moved = ", ".join(f"`{n}` (cell {d.origin + 1})" for n, d in self.moved_outside.items())
            notes.append(f"moved into the module: {moved}")
        return Plan(
            notebook=self.notebook,
            selected=list(self.code),
            function=name,
            params=list(self.params),
            returns=list(self.returns),
            bodies=bodies,
            module_imports=module_imports,
            prelude=prelude,
            definitions=definitions,
            imported_helpers=list(self.imported_helpers) if name else list(self.promoted),
            trailing=self.trailing_text,
            deletes=list(self.notebook_deletes),
            needs_show=self.needs_show,
            dropped=[n for n in self.dropped if not (name is None and n in self.promoted)],
            timing_cells=sorted(self.timing_cells),
            edits=edits,
            call_index=self.call_index,
            notes=notes,
        )


def _is_timing(node: ast.Expr | ast.Assign) -> bool:
    call = ipython_call(node.value)
    return (
        call is not None
        and call[0] == "run_line_magic"
        and bool(call[1])
        and _constant(call[1][0]) in TIMING_MAGICS
    )


def same_package(first: str, second: str) -> bool:
    """Both are ``import a[.b]`` statements (no ``as``) of the same top-level package."""
    pattern = re.compile(r"^import ([A-Za-z_][\w.]*)$")
    one, two = pattern.match(first), pattern.match(second)
    if one is None or two is None:
        return False
    return one.group(1).split(".")[0] == two.group(1).split(".")[0]


def _constant(node: ast.expr) -> str:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def alias_import(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> tuple[str, str]:
    """(bound name, single-alias import statement)."""
    if isinstance(node, ast.Import):
        bound = alias.asname or alias.name.split(".")[0]
        text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
        return bound, text
    bound = alias.asname or alias.name
    module = "." * node.level + (node.module or "")
    text = f"from {module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
    return bound, text


def _deleted_names(node: ast.Delete) -> set[str]:
    return {t.id for t in node.targets if isinstance(t, ast.Name)}


def _writes(flow: CellFlow) -> set[str]:
    names = set(flow.defines) | set(flow.deletes) | set(flow.mutations) | set(flow.may_mutate)
    for facts in (*flow.functions.values(), *flow.anonymous_functions):
        names.update(facts.global_writes)
        names.update(facts.global_mutations)
    return names


def _read_by_functions(flow: CellFlow, name: str) -> bool:
    return any(name in f.global_reads for f in (*flow.functions.values(), *flow.anonymous_functions))


def _single_binding_statement(tree: ast.Module, name: str) -> ast.stmt | None:
    found: ast.stmt | None = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            candidate: ast.stmt | None = node
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == name
        ):
            candidate = node
        else:
            if name in _bound_names(node):
                return None
            continue
        if found is not None:
            return None
        found = candidate
    if found is not None:
        # the statement must own its lines
        for node in tree.body:
            if (
                node is not found
                and node.lineno <= (found.end_lineno or found.lineno)
                and (node.end_lineno or node.lineno) >= _statement_start(found)
            ):
                return None
    return found


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _strip_blank_edges(text: str) -> str:
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _cell_body(info: _CellInfo) -> str:
    """The cell's code for the function body: imports, kept magics and module definitions removed,
    timing magics replaced by their statements, a shown trailing value wrapped in ``_show``."""
    lines = info.lines
    owner: dict[int, list[_Stmt]] = {}
    for stmt in info.stmts:
        for number in range(stmt.start, stmt.end + 1):
            owner.setdefault(number, []).append(stmt)
    out: list[str] = []
    done: set[int] = set()
    number = 1
    while number <= len(lines):
        stmts = owner.get(number)
        if not stmts:
            out.append(lines[number - 1])
            number += 1
            continue
        shared = any(
            other is not stmt and number2 in range(other.start, other.end + 1)
            for stmt in stmts
            for number2 in range(stmt.start, stmt.end + 1)
            for other in owner.get(number2, [])
        )
        if shared:
            group = _line_group(owner, number)
            last_line = max(s.end for s in group)
            for stmt in sorted(group, key=lambda s: (s.node.lineno, s.node.col_offset)):
                if id(stmt) in done:
                    continue
                done.add(id(stmt))
                text = _statement_text(info, stmt, unparse=True)
                if text is not None:
                    out.extend(text.split("\n"))
            number = last_line + 1
            continue
        stmt = stmts[0]
        done.add(id(stmt))
        text = _statement_text(info, stmt, unparse=False)
        if text is not None:
            out.extend(text.split("\n"))
        number = stmt.end + 1
    return _strip_blank_edges(_collapse_blank_lines("\n".join(out)))


def string_continuation_lines(text: str) -> set[int]:
    """1-based lines that continue a multi-line string literal (indenting them would change the string)."""
    lines: set[int] = set()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return lines
    fstring_start: int | None = None
    for token in tokens:
        name = tokenize.tok_name.get(token.type, "")
        if name == "FSTRING_START":
            fstring_start = token.start[0]
        elif name == "FSTRING_END" and fstring_start is not None:
            lines.update(range(fstring_start + 1, token.end[0] + 1))
            fstring_start = None
        elif token.type == tokenize.STRING and token.end[0] > token.start[0]:
            lines.update(range(token.start[0] + 1, token.end[0] + 1))
    return lines


def _collapse_blank_lines(text: str) -> str:
    """At most one blank line in a row (moved imports and magics leave gaps), never inside a string."""
    inside = string_continuation_lines(text)
    out: list[str] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip() and number not in inside and out and not out[-1].strip():
            continue
        out.append(line)
    return "\n".join(out)


def _line_group(owner: dict[int, list[_Stmt]], number: int) -> list[_Stmt]:
    group: list[_Stmt] = []
    pending = list(owner.get(number, []))
    seen: set[int] = set()
    while pending:
        stmt = pending.pop()
        if id(stmt) in seen:
            continue
        seen.add(id(stmt))
        group.append(stmt)
        for line in range(stmt.start, stmt.end + 1):
            pending.extend(owner.get(line, []))
    return group


def _statement_text(info: _CellInfo, stmt: _Stmt, unparse: bool) -> str | None:
    if stmt.action in ("import", "kept", "define", "notebook", "drop"):
        return None
    if stmt.action == "show":
        assert isinstance(stmt.node, ast.Expr)
        value = stmt.node.value
        segment = None if unparse else ast.get_source_segment(info.code, value)
        return f"_show({segment or ast.unparse(value)})"
    if unparse:
        return ast.unparse(stmt.node)
    return "\n".join(info.lines[stmt.start - 1 : stmt.end])


def plan_extraction(
    analysis: NotebookAnalysis,
    selected: list[int],
    function: str | None = None,
    default_name: str | None = None,
) -> Plan:
    """Plan moving ``selected`` (cell indexes) into a function; raises :class:`Refused`."""
    planner = _Planner(analysis, selected, function)
    planner.read_cells()
    planner.check_constructs()
    planner.classify_magics()
    planner.check_contiguous()
    planner.analyse_names()
    planner.later_facts()
    planner.resolve_reads()
    planner.plan_definitions()
    planner.nested_reads()
    planner.plan_outside_moves()
    planner.check_outside_calls()
    planner.plan_outputs()
    return planner.assemble(default_name or function_name_for(analysis.notebook, selected))


__all__ = [
    "CellEdit",
    "ModuleDefinition",
    "Plan",
    "Refusal",
    "Refused",
    "SelectionError",
    "cells_with_tag",
    "function_name_for",
    "plan_extraction",
    "select_cells",
]
