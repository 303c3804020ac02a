"""What a code cell means to IPython, as a Python AST.

Every cell that may hold IPython syntax goes through IPython's own ``TransformerManager`` (the code
IPython runs before it compiles a cell), so ``%time x = f()``, ``x = !ls``, ``obj?`` and escapes are read
as IPython would run them. A cheap regular expression decides whether a cell can hold such syntax at all;
most cells skip the transformer. ``inputtransformer2`` only imports the standard library, so it is loaded
from IPython's installation without importing the IPython package (which costs ~0.3 s).

Code-carrying magics keep their statements: ``%time``/``%prun``/``%debug``/``%%time``/``%%capture`` run in
the user namespace, ``%timeit``/``%%timeit`` in a throw-away one (their statements are analysed as the
body of a function that is called at once, so they read names but define none). Non-Python cell magics
(``%%bash``, ``%%sql``, ``%%html``, ``%%writefile``, ...) are never parsed as Python.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
import sys
import threading
import warnings
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from nbhygiene.model import Cell

_IPYTHON_HINT = re.compile(
    r"^[ \t]*(?:[%!?]|[/,;][A-Za-z_]|>>>|\.\.\.[ \t]|In \[)|\?[ \t]*$|=[ \t]*[!%]", re.MULTILINE
)
_PY2_MESSAGES = ("Missing parentheses in call to 'print'", "Missing parentheses in call to 'exec'")

# Cell magics whose body is Python run in the user namespace.
PYTHON_CELL_MAGICS = frozenset({"time", "capture", "prun", "debug"})
# Cell/line magics whose statement is Python run in a throw-away namespace.
SCRATCH_MAGICS = frozenset({"timeit"})
# Line magics whose argument is a Python statement run in the user namespace.
PYTHON_LINE_MAGICS = frozenset({"time", "prun", "debug"})
# Cell magics that may define any name in the user namespace.
OPAQUE_BINDING_CELL_MAGICS = frozenset({"cython", "pyx"})

_MAGIC_OPTIONS_WITH_VALUE = {
    "timeit": {"-n", "-r", "-p"},
    "prun": {"-D", "-T", "-s", "-l"},
    "debug": {"-b", "--breakpoint"},
    "time": set(),
}

_FLAGS = ast.PyCF_ONLY_AST | getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)


@dataclass(slots=True)
class MagicUse:
    """A magic or shell escape in a cell, as IPython will run it."""

    kind: str  # "line", "cell" or "shell"
    name: str  # magic name without %; for shell escapes the command's first word
    args: str
    line: int
    column: int = 0
    assigned: bool = False  # `x = !ls`, `x = %sx ls`


@dataclass(slots=True)
class ParsedCell:
    cell: Cell
    kind: str  # "python", "empty", "non-python", "syntax-error", "python2"
    tree: ast.Module | None = None
    code: str = ""
    cell_magic: str | None = None
    cell_magic_args: str = ""
    line_offset: int = 0  # original-source lines before the first line of ``code``
    magic_bindings: list[tuple[str, int]] = field(default_factory=list)
    opaque_bindings: list[tuple[str, int]] = field(default_factory=list)  # (reason, line)
    magics: list[MagicUse] = field(default_factory=list)
    syntax_error: tuple[str, int, int] | None = None
    transformed: bool = False


_transformer_lock = threading.Lock()
_transformer: Any = None


def _load_inputtransformer2() -> ModuleType:
    name = "nbhygiene._ipython_inputtransformer2"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("IPython")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("IPython is not installed")
    location = next(iter(spec.submodule_search_locations))
    file_spec = importlib.util.spec_from_file_location(name, f"{location}/core/inputtransformer2.py")
    if file_spec is None or file_spec.loader is None:
        raise ImportError("IPython's inputtransformer2 module was not found")
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[name] = module
    file_spec.loader.exec_module(module)
    return module


def transformer() -> Any:
    global _transformer
    if _transformer is None:
        with _transformer_lock:
            if _transformer is None:
                try:
                    module = _load_inputtransformer2()
                except Exception:  # a stripped-down IPython: fall back to the public import
                    from IPython.core import inputtransformer2 as module
                _transformer = module.TransformerManager()
    return _transformer


def transform_ipython(source: str) -> str:
    """IPython's transformation of ``source``; the source itself if IPython cannot make sense of it."""
    try:
        with warnings.catch_warnings():
            # IPython warns (UserWarning) about sources with odd line endings; we only read the result.
            warnings.simplefilter("ignore")
            return str(transformer().transform_cell(source))
    except Exception:
        return source


def _leading_blank_lines(source: str) -> int:
    count = 0
    for line in source.splitlines():
        if line.strip():
            break
        count += 1
    return count


def parse_cell(cell: Cell, python_major: int | None = None) -> ParsedCell:
    source = cell.source
    if not source.strip():
        return ParsedCell(cell, "empty")
    skipped = _leading_blank_lines(source)
    lines = source.splitlines()
    first = lines[skipped].lstrip() if skipped < len(lines) else ""
    if first.startswith("%%"):
        return _parse_cell_magic(cell, lines, skipped)
    return _parse_python(cell, source, 0)


def _parse_cell_magic(cell: Cell, lines: list[str], skipped: int) -> ParsedCell:
    header = lines[skipped].lstrip()[2:]
    name, _, args = header.partition(" ")
    name = name.strip()
    args = args.strip()
    body = "\n".join(lines[skipped + 1 :]) + "\n"
    line_no = skipped + 1
    magic = MagicUse("cell", name, args, line_no)
    if name in PYTHON_CELL_MAGICS or name in SCRATCH_MAGICS:
        inner = skipped + 1 + _leading_blank_lines(body)
        if name not in SCRATCH_MAGICS and inner < len(lines) and lines[inner].lstrip().startswith("%%"):
            # `%%time` over `%%capture out`: IPython runs the body as a cell, nested magic included.
            parsed = _parse_cell_magic(cell, lines, inner)  # keeps the innermost cell_magic
        else:
            parsed = _parse_python(cell, body, skipped + 1, scratch=name in SCRATCH_MAGICS)
            parsed.cell_magic = name
            parsed.cell_magic_args = args
        parsed.magics.insert(0, magic)
        if name == "capture":
            target = _last_positional(args)
            if target:
                parsed.magic_bindings.append((target, line_no))
        return parsed
    parsed = ParsedCell(cell, "non-python", cell_magic=name, cell_magic_args=args, line_offset=skipped + 1)
    parsed.magics.append(magic)
    parsed.magic_bindings.extend((n, line_no) for n in magic_output_names(name, args))
    if name in OPAQUE_BINDING_CELL_MAGICS:
        parsed.opaque_bindings.append((f"%%{name}", line_no))
    return parsed


def _last_positional(args: str) -> str | None:
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    positional = [w for w in words if not w.startswith("-")]
    return positional[-1] if positional and positional[-1].isidentifier() else None


def magic_output_names(name: str, args: str) -> list[str]:
    """Names a magic binds in the user namespace from its arguments (``-o x``, ``x <<``, ``--out x``)."""
    names: list[str] = []
    # Commas separate names inside one option value (`%%R -o a,b`, as rpy2 documents it); they are not
    # word separators, or `b` would be lost.
    words = args.split()
    for i, word in enumerate(words):
        if word in ("-o", "--out", "--err", "--output") and i + 1 < len(words):
            names.extend(n for n in words[i + 1].split(",") if n.isidentifier())
        elif word == "<<" and i > 0 and words[i - 1].isidentifier():
            names.append(words[i - 1])
    if name in ("sql",) and words and words[0].endswith("<<") and words[0][:-2].isidentifier():
        names.append(words[0][:-2])
    return names


def _parse_python(cell: Cell, source: str, line_offset: int, scratch: bool = False) -> ParsedCell:
    code = source
    transformed = False
    if _IPYTHON_HINT.search(source):
        code = transform_ipython(source)
        transformed = True
    try:
        tree = _compile(code)
    except SyntaxError as exc:
        if not transformed:
            # Prompts or other rare IPython input the cheap check missed: give IPython the last word.
            retry = transform_ipython(source)
            if retry != source:
                try:
                    tree = _compile(retry)
                    code, transformed = retry, True
                except SyntaxError:
                    pass
                else:
                    return _finish(cell, tree, code, line_offset, transformed, scratch)
        message = exc.msg or "invalid syntax"
        line = (exc.lineno or 1) + line_offset
        column = exc.offset or 1
        kind = "python2" if message.startswith(_PY2_MESSAGES) else "syntax-error"
        return ParsedCell(
            cell,
            kind,
            code=code,
            line_offset=line_offset,
            syntax_error=(message, line, column),
            transformed=transformed,
        )
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return ParsedCell(
            cell,
            "syntax-error",
            code=code,
            line_offset=line_offset,
            syntax_error=(f"cannot be parsed: {exc}", 1 + line_offset, 1),
            transformed=transformed,
        )
    return _finish(cell, tree, code, line_offset, transformed, scratch)


def _compile(code: str) -> ast.Module:
    tree = compile(code, "<cell>", "exec", flags=_FLAGS, dont_inherit=True)
    assert isinstance(tree, ast.Module)
    return tree


def _columns_as_characters(tree: ast.AST, code: str) -> None:
    """CPython reports column offsets in UTF-8 bytes; findings count characters, as editors do."""
    lines = code.splitlines()
    for node in ast.walk(tree):
        for attribute, line_attribute in (("col_offset", "lineno"), ("end_col_offset", "end_lineno")):
            offset = getattr(node, attribute, None)
            line = getattr(node, line_attribute, None)
            if offset and line and 0 < line <= len(lines) and not lines[line - 1].isascii():
                text = lines[line - 1].encode("utf-8")[:offset].decode("utf-8", "replace")
                setattr(node, attribute, len(text))


def _finish(
    cell: Cell, tree: ast.Module, code: str, line_offset: int, transformed: bool, scratch: bool
) -> ParsedCell:
    if not code.isascii():
        _columns_as_characters(tree, code)
    if transformed:
        tree = _CodeMagicExpander().visit(tree)
    if scratch:
        tree = _as_scratch(tree)
    if line_offset:
        ast.increment_lineno(tree, line_offset)
    return ParsedCell(cell, "python", tree=tree, code=code, line_offset=line_offset, transformed=transformed)


SCRATCH_FUNCTION = "_nbhygiene_scratch_"


def _as_scratch(tree: ast.Module) -> ast.Module:
    """Statements run in a throw-away namespace: a function defined and called at once."""
    if not tree.body:
        return tree
    first = tree.body[0]
    func = ast.FunctionDef(
        name=SCRATCH_FUNCTION,
        args=ast.arguments(
            posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
        ),
        body=tree.body,
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    call = ast.Expr(ast.Call(ast.Name(SCRATCH_FUNCTION, ast.Load()), [], []))
    for node in (func, call, call.value, call.value.func):  # type: ignore[attr-defined]
        ast.copy_location(node, first)
    return ast.Module(body=[func, call], type_ignores=[])


def ipython_call(node: ast.AST) -> tuple[str, list[ast.expr]] | None:
    """``get_ipython().method(args...)`` -> (method, args); else None."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    owner = node.func.value
    if (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
        and not owner.args
    ):
        return node.func.attr, list(node.args)
    return None


def _strip_options(magic: str, args: str) -> str:
    with_value = _MAGIC_OPTIONS_WITH_VALUE.get(magic, set())
    words = args.split(" ")
    i = 0
    while i < len(words) and words[i].startswith("-") and words[i] not in ("-", "--"):
        i += 2 if words[i] in with_value else 1
        while i < len(words) and words[i] == "":
            i += 1
    return " ".join(words[i:])


class _CodeMagicExpander(ast.NodeTransformer):
    """Replace ``get_ipython().run_line_magic('time', 'stmt')`` by ``stmt``, as IPython would run it."""

    def visit_Expr(self, node: ast.Expr) -> Any:
        call = ipython_call(node.value)
        if call is None or call[0] != "run_line_magic" or len(call[1]) < 2:
            return self.generic_visit(node)
        name_node, args_node = call[1][0], call[1][1]
        if not (isinstance(name_node, ast.Constant) and isinstance(args_node, ast.Constant)):
            return node
        magic, args = name_node.value, args_node.value
        if not isinstance(magic, str) or not isinstance(args, str):
            return node
        if magic not in PYTHON_LINE_MAGICS and magic not in SCRATCH_MAGICS:
            return node
        statement = _strip_options(magic, args.strip())
        if statement[:1] in ("%", "!"):  # `%time %run x.py`, `%time !ls`: the statement is IPython syntax too
            statement = transform_ipython(statement)
        try:
            inner = _compile(statement)
        except (SyntaxError, ValueError):
            return node
        if not inner.body:
            return node
        for sub in ast.walk(inner):
            if hasattr(sub, "lineno"):
                sub.lineno = node.lineno
                sub.end_lineno = node.lineno  # type: ignore[attr-defined]
        if magic in SCRATCH_MAGICS:
            inner = _as_scratch(inner)
        # Keep the magic itself visible to rules (they look for run_line_magic calls).
        marker = ast.Expr(ast.Call(node.value.func, [name_node, ast.Constant("")], []))  # type: ignore[attr-defined]
        ast.copy_location(marker, node)
        ast.copy_location(marker.value, node)
        marker.value._nbhygiene_args = args  # type: ignore[attr-defined]
        return [marker, *inner.body]

    def visit_Assign(self, node: ast.Assign) -> Any:
        call = ipython_call(node.value)
        if call is None or call[0] != "run_line_magic" or len(call[1]) < 2:
            return node
        name_node, args_node = call[1][0], call[1][1]
        if not (isinstance(name_node, ast.Constant) and isinstance(args_node, ast.Constant)):
            return node
        if name_node.value != "time" or not isinstance(args_node.value, str):
            return node
        try:
            expr = compile(
                args_node.value.strip(), "<magic>", "eval", flags=ast.PyCF_ONLY_AST, dont_inherit=True
            )
        except (SyntaxError, ValueError):
            return node
        for sub in ast.walk(expr):
            if hasattr(sub, "lineno"):
                sub.lineno = node.lineno
                sub.end_lineno = node.lineno  # type: ignore[attr-defined]
                sub.col_offset = node.value.col_offset  # type: ignore[attr-defined]
        node.value = expr.body  # type: ignore[attr-defined]
        return node
