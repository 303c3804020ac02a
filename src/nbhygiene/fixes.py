"""``nbhygiene check --fix``: apply every safe fix to a copy of the notebook JSON, until none is left.

A rule describes a safe fix as data (:class:`~nbhygiene.findings.Fix` with ``safe=True``); this module
applies it generically, by its ``action``:

* ``add-tag`` (``cell_index``, ``tag``): add a tag to a cell's ``metadata.tags``;
* ``insert-cell`` (``after_index``, ``source``, ``tags``; optional ``cell_type``): insert a new cell
  after the cell at ``after_index`` (-1: before every cell);
* ``add-keyword`` (``cell_index``, ``line``, ``column``, ``keyword``, ``value``): add ``keyword=value``
  to the call that starts at ``line``/``column`` (1-based, characters) of the cell's source.

Each round checks the notebook, applies the safe fixes it reports (text edits from the bottom of a
cell up, so earlier positions stay valid; cell insertions last, from the bottom up, so earlier indexes
stay valid) and checks again, until no safe fix is reported or a round changes nothing. The result is
validated with nbformat and written atomically. The JSON is edited in place on a deep copy, so keys
keep their order and everything the fixes do not touch (outputs, metadata, ids) stays as it was; the
file is serialised the way the original was (indent, key order, escaping) when that can be
reproduced, and the way Jupyter writes notebooks otherwise.

Like nbformat's ``normalize``, nothing here mutates its input: a fix returns a new notebook.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import hashlib
import io
import json
import os
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbhygiene.config import Config
    from nbhygiene.findings import FileResult, Finding

MAX_ROUNDS = 5
FIXED_SUFFIX = ".fixed.ipynb"


class FixError(Exception):
    """The notebook could not be fixed (it is not nbformat 4, or the fixed notebook does not validate)."""


@dataclass(slots=True)
class FixOutcome:
    path: str  # the notebook that was checked
    output: str | None  # where the fixed notebook was written (None: nothing to fix)
    applied: int  # fixes applied, over all rounds
    rounds: int
    result: FileResult | None = None  # the findings of the fixed notebook
    data: dict[str, Any] | None = field(default=None, repr=False)


# -- locating a call in a cell's source -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CallSpan:
    start: int  # offset of the callee in the source
    end: int  # offset just past the closing parenthesis
    insert_at: int  # where a new keyword goes
    trailing_comma: bool  # the last argument is followed by a comma
    empty: bool  # no arguments at all
    callee: str
    keywords: frozenset[str]
    has_double_star: bool


def _offset(source: str, line: int, column: int) -> int | None:
    lines = source.splitlines(keepends=True)
    if not 1 <= line <= len(lines) or column < 1:
        return None
    text = lines[line - 1]
    if column - 1 > len(text.rstrip("\r\n")):
        return None
    return sum(len(part) for part in lines[: line - 1]) + column - 1


def locate_call(source: str, line: int, column: int) -> CallSpan | None:
    """The call whose callee starts at ``line``/``column`` of ``source``, if it is a plain
    ``dotted.name(...)`` call that Python parses on its own."""
    start = _offset(source, line, column)
    if start is None:
        return None
    rest = source[start:]
    depth = 0
    callee_parts: list[str] = []
    opened = False
    last: tokenize.TokenInfo | None = None  # last significant token inside the outer parentheses
    close: tokenize.TokenInfo | None = None
    skip = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    try:
        for token in tokenize.generate_tokens(io.StringIO(rest).readline):
            if token.type in skip:
                continue
            if not opened:
                if token.type == tokenize.NAME or (token.type == tokenize.OP and token.string == "."):
                    callee_parts.append(token.string)
                    continue
                if token.type == tokenize.OP and token.string == "(" and callee_parts:
                    opened = True
                    depth = 1
                    last = token
                    continue
                return None
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
                if depth == 0:
                    close = token
                    break
            last = token
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    if close is None or last is None:
        return None
    rest_lines = rest.splitlines(keepends=True)

    def to_offset(position: tuple[int, int]) -> int:
        row, col = position
        return sum(len(part) for part in rest_lines[: row - 1]) + col

    end = to_offset(close.end)
    segment = rest[:end]
    try:
        tree = ast.parse(segment.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    call = tree.body
    if not isinstance(call, ast.Call):
        return None
    callee = "".join(callee_parts)
    if ast.unparse(call.func) != callee:
        return None
    empty = last.type == tokenize.OP and last.string == "(" and not call.args and not call.keywords
    trailing_comma = last.type == tokenize.OP and last.string == ","
    return CallSpan(
        start=start,
        end=start + end,
        insert_at=start + to_offset(last.end),
        trailing_comma=trailing_comma,
        empty=empty,
        callee=callee,
        keywords=frozenset(kw.arg for kw in call.keywords if kw.arg is not None),
        has_double_star=any(kw.arg is None for kw in call.keywords),
    )


def add_keyword(source: str, line: int, column: int, keyword: str, value: str) -> str | None:
    """``source`` with ``keyword=value`` added to the call at ``line``/``column``; None when the call
    cannot be found, already has the keyword (or ``**kwargs``), or the edit would not parse."""
    span = locate_call(source, line, column)
    if span is None or keyword in span.keywords or span.has_double_star:
        return None
    argument = f"{keyword}={value}"
    if span.empty:
        insertion = argument
    elif span.trailing_comma:
        insertion = f" {argument},"
    else:
        insertion = f", {argument}"
    edited = source[: span.insert_at] + insertion + source[span.insert_at :]
    new_end = span.end + len(insertion)
    try:
        tree = ast.parse(edited[span.start : new_end].strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None  # e.g. a lone generator argument: `f(x for x in y)`
    if not isinstance(tree.body, ast.Call) or keyword not in {kw.arg for kw in tree.body.keywords}:
        return None
    return edited


# -- editing notebook JSON ------------------------------------------------------------------------
def _get_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _set_source(cell: dict[str, Any], text: str) -> None:
    if isinstance(cell.get("source"), list):
        cell["source"] = text.splitlines(keepends=True)
    else:
        cell["source"] = text


def _cells(notebook: dict[str, Any]) -> list[Any]:
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise FixError("the notebook has no list of cells")
    return cells


def _add_tag(notebook: dict[str, Any], data: dict[str, Any]) -> bool:
    cells = _cells(notebook)
    index, tag = data.get("cell_index"), data.get("tag")
    if not isinstance(index, int) or not 0 <= index < len(cells) or not isinstance(tag, str) or not tag:
        return False
    cell = cells[index]
    metadata = cell.setdefault("metadata", {})
    tags = metadata.setdefault("tags", [])
    if not isinstance(tags, list):
        return False
    if tag in tags:
        return False
    tags.append(tag)
    return True


def _new_cell_id(cells: list[Any], seed: str) -> str:
    """A fresh cell id, derived from the new cell and its place (so that fixing twice gives the same file)."""
    taken = {c.get("id") for c in cells if isinstance(c, dict)}
    counter = 0
    while True:
        candidate = hashlib.blake2b(f"{seed}:{counter}".encode(), digest_size=4).hexdigest()
        if candidate not in taken:
            return candidate
        counter += 1


def _insert_cell(notebook: dict[str, Any], data: dict[str, Any]) -> bool:
    cells = _cells(notebook)
    after = data.get("after_index")
    source = data.get("source", "")
    tags = data.get("tags") or []
    cell_type = data.get("cell_type", "code")
    if not isinstance(after, int) or not -1 <= after < len(cells) or not isinstance(source, str):
        return False
    if cell_type not in ("code", "markdown", "raw") or not all(isinstance(t, str) for t in tags):
        return False
    if source.endswith("\n"):
        source = source[:-1]  # Jupyter front ends save sources without a final newline
    uses_lists = any(isinstance(c, dict) and isinstance(c.get("source"), list) for c in cells)
    cell: dict[str, Any] = {"cell_type": cell_type}
    if cell_type == "code":
        cell["execution_count"] = None
    if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) >= (4, 5):
        cell["id"] = _new_cell_id(cells, f"{after}:{cell_type}:{source}:{len(cells)}")
    cell["metadata"] = {"tags": list(tags)} if tags else {}
    if cell_type == "code":
        cell["outputs"] = []
    cell["source"] = source.splitlines(keepends=True) if uses_lists else source
    cells.insert(after + 1, cell)
    return True


def _add_keyword(notebook: dict[str, Any], data: dict[str, Any]) -> bool:
    cells = _cells(notebook)
    index = data.get("cell_index")
    line, column = data.get("line"), data.get("column")
    keyword, value = data.get("keyword"), data.get("value")
    if not isinstance(index, int) or not 0 <= index < len(cells):
        return False
    if not (
        isinstance(line, int)
        and isinstance(column, int)
        and isinstance(keyword, str)
        and isinstance(value, str)
    ):
        return False
    if not keyword.isidentifier():
        return False
    cell = cells[index]
    edited = add_keyword(_get_source(cell), line, column, keyword, value)
    if edited is None:
        return False
    _set_source(cell, edited)
    return True


ACTIONS = {"add-tag": _add_tag, "insert-cell": _insert_cell, "add-keyword": _add_keyword}


def _fix_key(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def apply_fixes(notebook: dict[str, Any], fixes: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """A copy of ``notebook`` with the given fix data applied; and how many changed something."""
    result = copy.deepcopy(notebook)
    unique: dict[str, dict[str, Any]] = {}
    for data in fixes:
        if data.get("action") in ACTIONS:
            unique.setdefault(_fix_key(data), data)
    edits = [d for d in unique.values() if d["action"] != "insert-cell"]
    inserts = [d for d in unique.values() if d["action"] == "insert-cell"]
    # Bottom-up: an edit never moves a position that a later edit (in this order) still needs.
    edits.sort(key=lambda d: (d.get("cell_index", -1), d.get("line", 0), d.get("column", 0)), reverse=True)
    inserts.sort(key=lambda d: d.get("after_index", -1), reverse=True)
    applied = 0
    for data in [*edits, *inserts]:
        if ACTIONS[data["action"]](result, data):
            applied += 1
    return result, applied


def safe_fixes(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [dict(f.fix.data) for f in findings if f.fix is not None and f.fix.safe and f.fix.data]


def fix_notebook(
    notebook: dict[str, Any], path: str, config: Config, max_rounds: int = MAX_ROUNDS
) -> tuple[dict[str, Any], int, int, FileResult]:
    """Check, apply the safe fixes, check again, until nothing is left to fix.

    Returns the fixed copy, the number of fixes applied, the number of rounds that changed something,
    and the findings of the fixed notebook.
    """
    from nbhygiene.engine import check_data

    current = notebook
    total = 0
    rounds = 0
    seen: set[str] = set()
    result = check_data(current, path, config)
    while rounds < max_rounds and result.error is None:
        # A fix that was applied before and is offered again did not resolve its finding: never loop.
        todo = [d for d in safe_fixes(result.findings) if _fix_key(d) not in seen]
        if not todo:
            break
        fixed, applied = apply_fixes(current, todo)
        seen.update(_fix_key(d) for d in todo)
        if not applied:
            break
        current, total, rounds = fixed, total + applied, rounds + 1
        result = check_data(current, path, config)
    return current, total, rounds, result


def validation_error(notebook: dict[str, Any]) -> str | None:
    """nbformat's complaint about ``notebook``, or None when it validates."""
    import nbformat

    try:
        nbformat.validate(nbformat.from_dict(notebook))
    except nbformat.ValidationError as exc:
        return str(exc.message)
    return None


# -- writing ----------------------------------------------------------------------------------------
_STYLES = [  # (indent, sort_keys, ensure_ascii): Jupyter's own first
    (1, True, False),
    (1, False, False),
    (2, False, False),
    (2, True, False),
    (4, False, False),
    (4, True, False),
    (1, True, True),
    (1, False, True),
    (2, False, True),
    (4, False, True),
]
JUPYTER_STYLE = _STYLES[0]


def detect_style(text: str, notebook: dict[str, Any]) -> tuple[int, bool, bool] | None:
    """The ``json.dumps`` settings that reproduce ``text`` exactly from ``notebook``, if any."""
    body = text[:-1] if text.endswith("\n") else text
    second = body.split("\n", 2)[1] if body.count("\n") >= 1 else ""
    indent = len(second) - len(second.lstrip(" "))
    for style in sorted(_STYLES, key=lambda s: s[0] != indent):
        if json.dumps(notebook, indent=style[0], sort_keys=style[1], ensure_ascii=style[2]) == body:
            return style
    return None


def output_path(path: str, in_place: bool) -> str:
    if in_place:
        return path
    stem = path[: -len(".ipynb")] if path.endswith(".ipynb") else path
    return stem + FIXED_SUFFIX


def fix_file(path: str, config: Config, in_place: bool = False) -> FixOutcome:
    """Fix the notebook at ``path``; write ``<stem>.fixed.ipynb`` (or ``path`` itself when
    ``in_place``) only when some fix was applied."""
    from nbhygiene.io import atomic_write_notebook, atomic_write_text
    from nbhygiene.loading import NotebookLoadError, loaded_from_data, parse_json, read_bytes

    try:
        raw = read_bytes(path)
        data = parse_json(raw, path)
        loaded = loaded_from_data(data, path)
    except NotebookLoadError as exc:
        raise FixError(exc.message) from None
    if loaded.upgraded:
        raise FixError(
            f"nbformat {loaded.original_version[0]} notebook: open and save it in Jupyter (nbformat 4) first"
        )
    original = loaded.data
    fixed, applied, rounds, result = fix_notebook(original, path, config)
    if not applied:
        return FixOutcome(path, None, 0, 0, result)
    problem = validation_error(fixed)
    if problem is not None:
        before = (
            "it does not validate against the nbformat schema even before fixing"
            if validation_error(original)
            else "the fixed notebook would not validate against the nbformat schema"
        )
        raise FixError(f"{before}: {problem}")
    text = raw.decode("utf-8")
    style = detect_style(text, original)
    target = output_path(path, in_place)
    if style is None or style == JUPYTER_STYLE:
        atomic_write_notebook(target, fixed)
    else:
        indent, sort_keys, ensure_ascii = style
        newline = "\n" if text.endswith("\n") else ""
        atomic_write_text(
            target, json.dumps(fixed, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii) + newline
        )
    if target != path and os.path.exists(path):
        with contextlib.suppress(OSError):  # a new file gets the original's permissions, not mkstemp's 0600
            os.chmod(target, os.stat(path).st_mode & 0o7777)
    return FixOutcome(path, target, applied, rounds, result, fixed)


def fix_results(results: list[FileResult], config: Config, in_place: bool = False) -> int:
    """``check --fix``: fix every checked notebook that has safe fixes, report on stderr, and (in place)
    replace its result by the fixed notebook's findings. Returns the number of notebooks that could not
    be fixed."""
    import sys

    failures = 0
    for i, result in enumerate(results):
        if result.error is not None or not safe_fixes(result.findings):
            continue
        try:
            outcome = fix_file(result.path, config, in_place=in_place)
        except (FixError, OSError) as exc:
            failures += 1
            print(f"nbhygiene: {result.path}: not fixed: {exc}", file=sys.stderr)
            continue
        if outcome.output is None:
            continue
        plural = "es" if outcome.applied != 1 else ""
        where = "in place" if in_place else f"-> {outcome.output}"
        print(f"nbhygiene: {result.path}: applied {outcome.applied} fix{plural} {where}", file=sys.stderr)
        if in_place and outcome.result is not None:
            results[i] = outcome.result
    return failures
