"""Text from a plan: the module (updated in place, never clobbered) and the rewritten notebook.

The module holds one marked block per extracted function::

    # --- nbhygiene extract: split_data (from poc.ipynb) [3f2a9c0b1d4e] ---
    def split_data(X, y, seed):
        ...
    # --- end nbhygiene extract: split_data ---

The digest in the begin marker is that of the block as nbhygiene wrote it: running the same extraction
again replaces the block when the digest still matches, and refuses when someone edited the block by
hand. Imports go with the module's other imports; nothing outside a block is ever removed.

The notebook's calling cell carries the provenance (``metadata.nbhygiene.extract``): the original cells'
code, ids and metadata, the cells that lost a moved definition, and the selection, so that the same
extraction can be planned again from the original cells (:func:`restore_original`).
"""

from __future__ import annotations

import ast
import copy
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from nbhygiene.extract.plan import (
    Plan,
    Refusal,
    Refused,
    alias_import,
    same_package,
    string_continuation_lines,
)

PROVENANCE_VERSION = 1
_BEGIN = re.compile(r"^# --- nbhygiene extract: (\w+) \(from (.*)\) \[([0-9a-f]{12})\] ---$")
_END = "# --- end nbhygiene extract: {name} ---"
SHOW_HELPER = '''def _show(value):
    """Show ``value`` as its notebook cell did (IPython's display hook shows nothing for None)."""
    if value is not None:
        display(value)'''


# -- function text ----------------------------------------------------------------------------------
def indent(text: str, prefix: str = "    ") -> str:
    keep = string_continuation_lines(text)
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        if number in keep or not line.strip():
            out.append(line if number in keep else "")
        else:
            out.append(prefix + line)
    return "\n".join(out)


def _ranges(positions: list[int]) -> str:
    parts: list[str] = []
    start = previous = positions[0]
    for position in positions[1:]:
        if position == previous + 1:
            previous = position
            continue
        parts.append(f"{start}-{previous}" if previous != start else str(start))
        start = previous = position
    parts.append(f"{start}-{previous}" if previous != start else str(start))
    return ",".join(parts)


def function_text(plan: Plan, notebook_name: str, positions: list[int] | None = None) -> str:
    assert plan.function is not None
    positions = positions or plan.positions
    cells = _ranges(positions)
    word = "Cell" if len(positions) == 1 else "Cells"
    lines = [
        f"def {plan.function}({', '.join(plan.params)}):",
        f'    """{word} {cells} of {notebook_name}, extracted by nbhygiene."""',
    ]
    bodies = [indent(text) for _index, text in plan.bodies]
    lines.append("\n\n".join(bodies))
    if plan.returns:
        lines.append(f"    return {', '.join(plan.returns)}")
    return "\n".join(lines)


def block_body(plan: Plan, notebook_name: str, positions: list[int] | None = None) -> str:
    """The helpers, constants and the function; ``positions`` are the moved cells' original positions."""
    parts = [definition.text for definition in plan.definitions]
    if plan.function is not None:
        parts.append(function_text(plan, notebook_name, positions))
    return "\n\n\n".join(parts)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def block_text(name: str, notebook_name: str, body: str) -> str:
    begin = f"# --- nbhygiene extract: {name} (from {notebook_name}) [{_digest(body)}] ---"
    return f"{begin}\n{body}\n{_END.format(name=name)}"


# -- the module -------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Block:
    name: str
    notebook: str
    digest: str
    begin: int  # 0-based line indexes of the markers
    end: int


def find_blocks(text: str) -> list[_Block]:
    lines = text.split("\n")
    blocks: list[_Block] = []
    for number, line in enumerate(lines):
        match = _BEGIN.match(line)
        if not match:
            continue
        end_marker = _END.format(name=match.group(1))
        for end in range(number + 1, len(lines)):
            if lines[end] == end_marker:
                blocks.append(_Block(match.group(1), match.group(2), match.group(3), number, end))
                break
    return blocks


def _refuse(message: str) -> Refused:
    return Refused(Refusal(message))


def _top_level_bindings(tree: ast.Module, skip: tuple[int, int] | None) -> dict[str, list[ast.stmt]]:
    """Names bound at module level, outside the 1-based line range ``skip`` (an nbhygiene block)."""
    result: dict[str, list[ast.stmt]] = {}
    for node in tree.body:
        if skip is not None and skip[0] <= node.lineno <= skip[1]:
            continue
        names: list[str] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
        else:
            names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        for name in names:
            result.setdefault(name, []).append(node)
    return result


def _import_texts(node: ast.stmt) -> list[tuple[str, str]]:
    if not isinstance(node, (ast.Import, ast.ImportFrom)):
        return []
    return [alias_import(node, alias) for alias in node.names if alias.name != "*"]


def update_module(
    existing: str | None,
    blocks: list[tuple[str, str, list[str]]],
    imports: list[str],
    needs_show: bool,
    notebook_name: str,
) -> str:
    """The module text with ``blocks`` ((name, body, defined names)) written and ``imports`` present.

    Raises :class:`Refused` when the module cannot be updated without clobbering something.
    """
    if existing is None or not existing.strip():
        text = f'"""Functions extracted from {notebook_name} by nbhygiene."""\n'
    else:
        text = existing
    try:
        ast.parse(text)
    except SyntaxError as exc:
        raise _refuse(f"the module does not parse (line {exc.lineno}: {exc.msg}); fix it first") from None
    for name, body, defined in blocks:
        text = _write_block(text, name, body, defined, notebook_name)
    text = _add_imports(text, imports)
    if needs_show:
        text = _add_show(text)
    if not text.endswith("\n"):
        text += "\n"
    return text


def _write_block(text: str, name: str, body: str, defined: list[str], notebook_name: str) -> str:
    lines = text.split("\n")
    existing = next((b for b in find_blocks(text) if b.name == name), None)
    tree = ast.parse(text)
    skip = (existing.begin + 1, existing.end + 1) if existing else None
    bindings = _top_level_bindings(tree, skip)
    for defined_name in defined:
        if defined_name in bindings:
            line = bindings[defined_name][0].lineno
            raise _refuse(
                f"the module already defines `{defined_name}` (line {line}); pick another name or remove it"
            )
    new_block = block_text(name, notebook_name, body).split("\n")
    if existing is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join([*lines, "", "", *new_block, ""])
    if existing.notebook != notebook_name:
        raise _refuse(
            f"the module's `{name}` was extracted from {existing.notebook}, not {notebook_name}; pick another name"
        )
    current_body = "\n".join(lines[existing.begin + 1 : existing.end])
    if _digest(current_body) != existing.digest:
        raise _refuse(
            f"`{name}` in the module was edited by hand since nbhygiene wrote it (lines {existing.begin + 1}-"
            f"{existing.end + 1}); nbhygiene will not overwrite it: rename the function or remove the block"
        )
    return "\n".join([*lines[: existing.begin], *new_block, *lines[existing.end + 1 :]])


def _add_imports(text: str, imports: list[str]) -> str:
    tree = ast.parse(text)
    present: dict[str, str] = {}
    texts: set[str] = set()
    for node in tree.body:
        for bound, statement in _import_texts(node):
            present.setdefault(bound, statement)
            texts.add(statement)
    bindings = _top_level_bindings(tree, None)
    missing: list[str] = []
    for statement in imports:
        node = ast.parse(statement).body[0]
        ((bound, normalized),) = _import_texts(node)
        if normalized in texts:
            continue
        if bound in present and same_package(present[bound], normalized):
            if normalized not in missing:
                missing.append(normalized)
            continue
        if bound in present:
            if present[bound] != normalized:
                raise _refuse(
                    f"the module imports `{bound}` differently ({present[bound]}); nbhygiene needs {normalized}"
                )
            continue
        if bound in bindings:
            raise _refuse(
                f"the module already binds `{bound}` (line {bindings[bound][0].lineno}); the function imports it"
            )
        if normalized not in missing:
            missing.append(normalized)
    if not missing:
        return text
    lines = text.split("\n")
    last_import: int | None = None
    docstring_end: int | None = None
    for position, node in enumerate(tree.body):
        if (
            position == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            docstring_end = node.end_lineno
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            last_import = node.end_lineno
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        break
    if last_import is not None:
        return "\n".join([*lines[:last_import], *missing, *lines[last_import:]])
    at = docstring_end or 0
    head = lines[:at]
    rest = lines[at:]
    block = ["", *missing] if head else missing
    if rest and rest[0].strip():
        block = [*block, "", ""]
    return "\n".join([*head, *block, *rest])


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _add_show(text: str) -> str:
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "_show":
            if ast.dump(node) != ast.dump(ast.parse(SHOW_HELPER).body[0]):
                raise _refuse(
                    f"the module defines its own `_show` (line {node.lineno}); nbhygiene needs that name"
                )
            return text
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) and "_show" in {
            n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }:
            raise _refuse(f"the module binds `_show` (line {node.lineno}); nbhygiene needs that name")
    lines = text.split("\n")
    blocks = find_blocks(text)
    at = blocks[0].begin if blocks else len(lines)
    return "\n".join([*lines[:at], *SHOW_HELPER.split("\n"), "", "", *lines[at:]])


# -- the notebook ----------------------------------------------------------------------------------
def source_lines(text: str) -> list[str]:
    """A cell source the way Jupyter stores it: lines with their newline, the last one without."""
    return text.splitlines(keepends=True)


def source_text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return str(value or "")


def call_source(plan: Plan, import_name: str) -> str:
    lines: list[str] = list(plan.prelude)
    names = [plan.function] if plan.function else []
    names.extend(plan.imported_helpers)
    if names:
        lines.append(f"from {import_name} import {', '.join(names)}")
    if plan.function:
        call = f"{plan.function}({', '.join(plan.params)})"
        lines.append(f"{', '.join(plan.returns)} = {call}" if plan.returns else call)
    if plan.deletes:
        lines.append(f"del {', '.join(plan.deletes)}")
    if plan.trailing:
        lines.append(plan.trailing)
    return "\n".join(lines)


def _stripped_cell(cell: dict[str, Any]) -> dict[str, Any]:
    kept = {k: copy.deepcopy(v) for k, v in cell.items() if k != "outputs"}
    if cell.get("cell_type") == "code":
        kept["outputs"] = []
    return kept


def rewrite_notebook(
    data: dict[str, Any],
    plan: Plan,
    import_name: str,
    provenance: dict[str, Any],
    origin: list[list[int]],
    outputs_from: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[list[int]]]:
    """The notebook with the plan applied, and for each new cell the original cells it stands for."""
    cells: list[dict[str, Any]] = data["cells"]
    selected = set(plan.selected)
    first = cells[plan.call_index]
    outputs: list[Any] = []
    count: int | None = None
    tags: list[str] = []
    for index in plan.selected:
        cell = cells[index]
        outputs.extend(copy.deepcopy(cell.get("outputs") or []))
        if cell.get("execution_count") is not None:
            count = cell["execution_count"]
        for tag in (cell.get("metadata") or {}).get("tags") or []:
            if tag not in tags:
                tags.append(tag)
    if outputs_from is not None:
        outputs = copy.deepcopy(outputs_from.get("outputs") or [])
        count = outputs_from.get("execution_count")
    metadata = copy.deepcopy(first.get("metadata") or {})
    if tags:
        metadata["tags"] = tags
    section = metadata.setdefault("nbhygiene", {})
    if not isinstance(section, dict):
        section = metadata["nbhygiene"] = {}
    record = dict(provenance)
    record["version"] = PROVENANCE_VERSION
    record["cells"] = [{"index": i, "cell": _stripped_cell(cells[i])} for i in plan.selected]
    record["edited"] = []
    record["removed"] = []
    edits = {edit.index: edit for edit in plan.edits}
    for index, edit in sorted(edits.items()):
        if edit.remove_cell:
            record["removed"].append({"index": index, "cell": copy.deepcopy(cells[index])})
        else:
            record["edited"].append(
                {
                    "index": index,
                    "source": copy.deepcopy(cells[index].get("source", "")),
                    "edited": edit.source,
                }
            )
    record["cell_count"] = len(cells)
    text = call_source(plan, import_name)
    record["call_source"] = text
    section["extract"] = record
    call: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": count,
        "metadata": metadata,
        "outputs": outputs,
        "source": source_lines(text),
    }
    if "id" in first:
        call["id"] = first["id"]
    new_cells: list[dict[str, Any]] = []
    new_origin: list[list[int]] = []
    for index, cell in enumerate(cells):
        if index == plan.call_index:
            new_cells.append(call)
            new_origin.append([o for i in plan.selected for o in origin[i]])
            continue
        if index in selected:
            continue
        change = edits.get(index)
        if change is not None:
            if change.remove_cell:
                continue
            cell = copy.deepcopy(cell)
            cell["source"] = source_lines(change.source)
        new_cells.append(cell)
        new_origin.append(list(origin[index]))
    result = {k: v for k, v in data.items() if k != "cells"}
    result["cells"] = new_cells
    return result, new_origin


def find_provenance(data: dict[str, Any], function: str) -> tuple[int, dict[str, Any]] | None:
    for index, cell in enumerate(data.get("cells") or []):
        record = ((cell.get("metadata") or {}).get("nbhygiene") or {}).get("extract")
        if isinstance(record, dict) and record.get("function", record.get("name")) == function:
            return index, record
        if (
            isinstance(record, dict)
            and function in (record.get("helpers") or [])
            and record.get("function") is None
        ):
            return index, record
    return None


def restore_original(data: dict[str, Any], index: int, record: dict[str, Any]) -> dict[str, Any]:
    """The notebook as it was before the extraction recorded in cell ``index``; raises Refused."""
    cells = [copy.deepcopy(c) for c in data["cells"]]
    call = cells.pop(index)
    if source_text(call.get("source")) != record.get("call_source"):
        raise _refuse(
            f"cell {index + 1} (the call of `{record.get('function')}`) was edited after the extraction; "
            "nbhygiene cannot tell what the edit means (undo it, or extract under another name)"
        )
    inserts = [(int(e["index"]), e["cell"]) for e in record.get("cells") or []]
    inserts += [(int(e["index"]), e["cell"]) for e in record.get("removed") or []]
    for position, cell in sorted(inserts, key=lambda item: item[0]):
        if position > len(cells):
            raise _refuse("the notebook's cells changed around an earlier extraction; it cannot be repeated")
        cells.insert(position, copy.deepcopy(cell))
    for entry in record.get("edited") or []:
        position = int(entry["index"])
        if position >= len(cells) or source_text(cells[position].get("source")) != entry.get("edited"):
            raise _refuse(
                f"cell {position + 1} was edited after an earlier extraction moved a definition out of it; "
                "the extraction cannot be repeated"
            )
        cells[position]["source"] = copy.deepcopy(entry["source"])
    if len(cells) != record.get("cell_count"):
        raise _refuse("the notebook's cells changed around an earlier extraction; it cannot be repeated")
    restored = {k: v for k, v in data.items() if k != "cells"}
    restored["cells"] = cells
    return restored


# -- generated tests ------------------------------------------------------------------------------
TEST_HEADER = '''"""Tests generated by nbhygiene extract from the values the notebook passed to its functions.

Each case holds the arguments a function received when the notebook ran, what it returned, and the
arguments after the call (a function may change its arguments in place, as the notebook's cells did).
Values that vary from one run of the notebook to the next are only checked for their type.
"""

import pickle
from pathlib import Path

CASES = Path(__file__).with_name("{cases}")


def _load(name):
    with open(CASES / f"{{name}}.pkl", "rb") as handle:
        case = pickle.load(handle)
    return pickle.loads(case["args"]), pickle.loads(case["result"]), pickle.loads(case["after"])


def _same(actual, expected):
    """Equal values: arrays and frames element by element (NaN equal to NaN), anything else by == or pickle."""
    try:
        import pandas as pd
    except ImportError:
        pd = None
    try:
        import numpy as np
    except ImportError:
        np = None
    if pd is not None and isinstance(expected, (pd.DataFrame, pd.Series, pd.Index)):
        return type(actual) is type(expected) and expected.equals(actual)
    if np is not None and isinstance(expected, np.ndarray):
        return (
            isinstance(actual, np.ndarray)
            and actual.dtype == expected.dtype
            and actual.shape == expected.shape
            and np.array_equal(actual, expected, equal_nan=expected.dtype.kind in "fc")
        )
    if isinstance(expected, (list, tuple)):
        return (
            type(actual) is type(expected)
            and len(actual) == len(expected)
            and all(_same(a, e) for a, e in zip(actual, expected))
        )
    if isinstance(expected, dict):
        return (
            type(actual) is type(expected)
            and list(actual) == list(expected)
            and all(_same(actual[k], expected[k]) for k in expected)
        )
    try:
        if bool(actual == expected):
            return True
    except Exception:
        pass
    return pickle.dumps(actual, protocol=4) == pickle.dumps(expected, protocol=4)
'''


def test_header(cases_dir: str) -> str:
    return TEST_HEADER.format(cases=cases_dir)


def test_body(
    plan: Plan, import_name: str, notebook_rel: str, nondeterministic: set[str], case_name: str
) -> str:
    assert plan.function is not None
    function = plan.function
    lines = [
        f"def test_{function}(monkeypatch):",
        f'    """{function} returns and changes what it did when the notebook ran."""',
        f"    from {import_name} import {function}",
        "",
        f"    monkeypatch.chdir(Path(__file__).parent / {notebook_rel!r})",
        f"    args, expected, after = _load({case_name!r})",
        f"    result = {function}(*args)",
    ]
    returns = plan.returns
    if not returns:
        lines.append("    assert result is None")
    elif len(returns) == 1:
        lines.append(_check("result", "expected", returns[0], nondeterministic))
    else:
        lines.append(f"    assert isinstance(result, tuple) and len(result) == {len(returns)}")
        for position, name in enumerate(returns):
            lines.append(_check(f"result[{position}]", f"expected[{position}]", name, nondeterministic))
    for position, name in enumerate(plan.params):
        if name in nondeterministic:
            continue
        lines.append(f"    assert _same(args[{position}], after[{position}]), {f'{name} after the call'!r}")
    return "\n".join(lines)


def _check(actual: str, expected: str, name: str, nondeterministic: set[str]) -> str:
    if name in nondeterministic:
        return f"    assert type({actual}) is type({expected})  # {name} varies between runs of the notebook"
    return f"    assert _same({actual}, {expected}), {name!r}"


def update_test_file(existing: str | None, header: str, name: str, body: str, notebook_name: str) -> str:
    text = existing if existing and existing.strip() else header
    text = _write_block(text, name, body, [name], notebook_name)
    return text if text.endswith("\n") else text + "\n"
