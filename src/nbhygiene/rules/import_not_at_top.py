from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.model import Cell
from nbhygiene.rule import Context, Report, Rule
from nbhygiene.source import ParsedCell, ipython_call


class ImportNotAtTop(Rule):
    """A module is imported in a cell below cells that already run code.

    ## What it does
    Finds the first code cell that does real work, and reports every later cell that imports
    something (one finding per cell, at its first import; a re-import of a module imported above is
    reported too, since it is still an import in the middle of the notebook). Imports inside
    functions are fine.

    These cells do not count as work, so imports below them are still "at the top":
    markdown and raw cells; cells holding only magics, `!pip`/`%pip` or other shell lines, and
    comments; non-Python cell magics (`%%bash`, `%%html`, ...); the papermill `parameters` cell; and
    setup cells whose statements only configure the session: imports, constants
    (`SEED = 42`, `DATA_DIR = os.path.join("..", "data")`), settings of imported modules
    (`pd.set_option(...)`, `plt.rcParams[...] = ...`, `warnings.filterwarnings(...)`,
    `sys.path.append(...)`, `np.random.seed(0)`, `os.environ[...] = ...`), version prints, and
    `if`/`try` blocks made of these (`try: import google.colab ... except ImportError: ...`).

    ## Why it matters
    The first cells are where a reader (and `pip`) looks for what the notebook depends on. Imports
    scattered down the notebook hide dependencies, break when someone runs a later cell first, and
    make it harder to move code into modules.

    ## Example
    ```python
    # cell 3
    df = pd.read_csv("data.csv")
    # cell 9
    from sklearn.ensemble import RandomForestClassifier
    ```

    ## What to do instead
    Move the import to the imports cell at the top of the notebook.
    """

    code = "NBH102"
    name = "import-not-at-top"
    summary = "A module is imported in a cell below cells that already run code."
    severity = Severity.INFO
    family = Family.NOTEBOOK

    def check(self, ctx: Context) -> Iterator[Report]:
        analysis = ctx.analysis
        imported: set[str] = set()  # names bound by imports so far (for recognising setup calls)
        first_import: dict[tuple[str, str], Cell] = {}
        worker: Cell | None = None
        for cell in ctx.notebook.cells:
            flow = analysis.flows.get(cell.index)
            if flow is None:
                continue
            if flow.imports or flow.star_imports:
                imports = [(line, (bound, module)) for bound, module, line in flow.imports]
                imports += [(line, ("*", module)) for module, line in flow.star_imports]
                if worker is not None:
                    imports.sort()
                    line = imports[0][0]
                    yield _report(cell, line, worker, [first_import.get(k) for _, k in imports])
                for _, key in imports:
                    imported.add(key[0])
                    first_import.setdefault(key, cell)
            if (
                worker is None
                and "parameters" not in cell.tags
                and _does_work(analysis.parsed[cell.index], imported)
            ):
                worker = cell


def _report(cell: Cell, line: int, worker: Cell, earlier: list[Cell | None]) -> Report:
    """``earlier``: for each name this cell imports, the cell that first imported it (None if none did)."""
    lines = cell.source.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    shown = text.strip() if len(text.strip()) <= 70 else text.strip()[:67] + "..."
    column = len(text) - len(text.lstrip()) + 1 if text.strip() else None
    first = earlier[0]
    if first is not None and all(c is not None for c in earlier):
        message = (
            f"`{shown}` re-imports what cell {first.position} already imported, below cell {worker.position}"
            " which runs code; keep imports in the cells at the top"
        )
    else:
        message = (
            f"`{shown}` comes after cell {worker.position} ran code; move imports to the top of the notebook"
        )
    if len(earlier) > 1:
        message += f" ({len(earlier)} names imported in this cell)"
    return Report(message, cell, line, column)


# Calls that configure the session rather than compute something: `pd.set_option`, `np.random.seed`,
# `warnings.filterwarnings`, `sys.path.append`, `nltk.download`, `hv.extension`, `torch.device`, ...
_CONFIG_CALL = re.compile(
    r"^(?:set|seed\w*|manual_seed\w*|use|use_\w+|filterwarnings|simplefilter|resetwarnings|basicConfig|init\w*"
    r"|enable\w*|disable\w*|autolog|get_logger"
    r"|download|makedirs|mkdir|chdir|append|insert|extend|register\w*|update|reset\w*|output_notebook"
    r"|load_ext|extension|activate|login|setLevel|getLogger|config\w*|setup\w*|style|rc|pandas|load_dotenv"
    r"|find_dotenv|set_\w+|set[A-Z]\w*|is_available|device|device_count|get_device_name|gpu_device_name"
    r"|list_physical_devices|cpu_count|getcwd|abspath|join|dirname|expanduser|exists|getenv|get|Path|print"
    r"|display|HTML|Markdown|str|int|float|bool|len|version|python_version|platform)$"
)


# Builtins a setup cell calls: printing, conversions, and exceptions for version guards.
_SAFE_BUILTINS = frozenset(
    {"print", "display", "str", "int", "float", "bool", "len", "repr", "type"}
    | {
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
)


def _does_work(parsed: ParsedCell, imported: set[str]) -> bool:
    """Whether a cell computes something (as opposed to imports, magics and session setup)."""
    if parsed.kind != "python" or parsed.tree is None:
        return False  # empty, comments only, non-Python cell magics, unparsable
    return not all(_is_setup(stmt, imported) for stmt in parsed.tree.body)


def _is_setup(stmt: ast.stmt, imported: set[str]) -> bool:
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass, ast.Global)):
        return True
    if isinstance(stmt, ast.Expr):  # a docstring, a magic, a setup call, or showing a version
        value = stmt.value
        return isinstance(
            value, (ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Call)
        ) and _is_simple(value, imported)
    if isinstance(stmt, (ast.Raise, ast.Assert)):  # `if sys.version_info < (3, 9): raise SystemExit(...)`
        parts = [stmt.exc, stmt.cause] if isinstance(stmt, ast.Raise) else [stmt.test, stmt.msg]
        return all(part is None or _is_simple(part, imported) for part in parts)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if not all(_is_setup_target(t, imported) for t in targets):
            return False
        return stmt.value is None or _is_simple(stmt.value, imported)
    if isinstance(stmt, ast.If):
        return all(_is_setup(s, imported) for s in (*stmt.body, *stmt.orelse))
    if isinstance(stmt, (ast.Try, ast.TryStar)):
        bodies = [*stmt.body, *stmt.orelse, *stmt.finalbody]
        for handler in stmt.handlers:
            bodies.extend(handler.body)
        return all(_is_setup(s, imported) for s in bodies)
    if isinstance(stmt, ast.With):
        return all(_is_simple(item.context_expr, imported) for item in stmt.items) and all(
            _is_setup(s, imported) for s in stmt.body
        )
    return False


def _is_setup_target(target: ast.expr, imported: set[str]) -> bool:
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(isinstance(e, ast.Name) for e in target.elts)
    # `plt.rcParams["figure.dpi"] = 60`, `os.environ["X"] = "1"`, `pd.options.display.max_rows = 50`
    root = _root(target)
    return root is not None and root in imported


def _root(node: ast.expr) -> str | None:
    while True:
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _is_simple(node: ast.expr, imported: set[str]) -> bool:
    """Literals, names and setup calls, combined with operators; nothing that computes on data."""
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return _is_simple(node.value, imported)
    if isinstance(node, ast.Subscript):
        return _is_simple(node.value, imported) and _is_simple(node.slice, imported)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_simple(e, imported) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_simple(k, imported) for k in node.keys) and all(
            _is_simple(v, imported) for v in node.values
        )
    if isinstance(node, ast.JoinedStr):
        return all(_is_simple(v, imported) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return _is_simple(node.value, imported)
    if isinstance(node, ast.BinOp):
        return _is_simple(node.left, imported) and _is_simple(node.right, imported)
    if isinstance(node, ast.UnaryOp):
        return _is_simple(node.operand, imported)
    if isinstance(node, ast.BoolOp):
        return all(_is_simple(v, imported) for v in node.values)
    if isinstance(node, ast.Compare):
        return _is_simple(node.left, imported) and all(_is_simple(c, imported) for c in node.comparators)
    if isinstance(node, ast.IfExp):
        return all(_is_simple(n, imported) for n in (node.test, node.body, node.orelse))
    if isinstance(node, ast.Starred):
        return _is_simple(node.value, imported)
    if isinstance(node, ast.Slice):
        return all(part is None or _is_simple(part, imported) for part in (node.lower, node.upper, node.step))
    if isinstance(node, ast.Call):
        return _is_setup_call(node, imported)
    return False


def _is_setup_call(call: ast.Call, imported: set[str]) -> bool:
    if ipython_call(call) is not None:
        return True  # a magic or shell line
    func = call.func
    if isinstance(func, ast.Name):
        verb = func.id
        ok = verb in _SAFE_BUILTINS or (verb in imported and _CONFIG_CALL.match(verb) is not None)
    elif isinstance(func, ast.Attribute):
        root = _root(func)
        ok = root is not None and root in imported and _CONFIG_CALL.match(func.attr) is not None
        ok = ok and _is_simple(func.value, imported)
    else:
        ok = False
    return (
        ok
        and all(_is_simple(a, imported) for a in call.args)
        and all(_is_simple(k.value, imported) for k in call.keywords)
    )
