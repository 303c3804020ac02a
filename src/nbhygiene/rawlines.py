"""Where a cell's source lines sit in the raw ``.ipynb`` file (for SARIF and GitHub annotations).

A small JSON scanner: strings are skipped by one regular expression each (C speed, so a 100 MB output
costs little), and since JSON strings cannot hold raw newlines, the line number is the count of
newlines in the whitespace between tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)


@dataclass(slots=True)
class CellLines:
    start: int  # line of the cell object's opening brace
    source_lines: list[int] = field(default_factory=list)  # raw line of each source element
    source_columns: list[int] = field(default_factory=list)  # column (1-based) just inside each string
    single_string: str | None = None  # the escaped JSON token, when one string holds the whole source


def map_cells(text: str) -> dict[int, CellLines]:
    """Cell index -> where its object and source strings start in ``text`` (nbformat 4 layout)."""
    result: dict[int, CellLines] = {}
    stack: list[list] = []  # frames: ["obj", key, expecting_key] or ["arr", index]
    line = 1
    last = 0
    line_start = 0
    for match in _TOKEN.finditer(text):
        start = match.start()
        newlines = text.count("\n", last, start)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", last, start) + 1
        last = match.end()
        token = match.group()
        first = token[0]
        if first in ",:":
            if first == "," and stack:
                frame = stack[-1]
                if frame[0] == "obj":
                    frame[2] = True
                else:
                    frame[1] += 1
            continue
        if first in "}]":
            if stack:
                stack.pop()
            continue
        # A value (or an object key).
        if stack and stack[-1][0] == "obj" and stack[-1][2]:
            if first == '"':
                stack[-1][1] = token[1:-1]
                stack[-1][2] = False
            continue
        path = [frame[1] for frame in stack]
        if len(path) == 2 and path[0] == "cells" and first == "{":
            result[path[1]] = CellLines(line)
        elif len(path) in (3, 4) and path[0] == "cells" and path[2] == "source" and first == '"':
            cell = result.get(path[1])
            if cell is not None:
                cell.source_lines.append(line)
                cell.source_columns.append(start - line_start + 2)
                if len(path) == 3:
                    cell.single_string = token
        if first == "{":
            stack.append(["obj", None, True])
        elif first == "[":
            stack.append(["arr", 0])
    return result


def raw_position(
    cells: dict[int, CellLines], cell_index: int | None, line: int | None, column: int | None
) -> tuple[int, int]:
    """The (line, column) in the raw file for a position in a cell's source; (1, 1) when unknown."""
    if cell_index is None or cell_index not in cells:
        return 1, 1
    cell = cells[cell_index]
    if not cell.source_lines:
        return cell.start, 1
    if cell.single_string is not None:
        # One JSON string holds every line: the position is on that raw line, at the escaped offset.
        offset = _escaped_offset(cell.single_string, line or 1, column or 1)
        return cell.source_lines[0], cell.source_columns[0] + offset
    index = min(max((line or 1) - 1, 0), len(cell.source_lines) - 1)
    return cell.source_lines[index], cell.source_columns[index] + max((column or 1) - 1, 0)


def _escaped_offset(token: str, line: int, column: int) -> int:
    """Characters into the escaped JSON string ``token`` (quotes included) of (line, column) in its value."""
    i = 1  # after the opening quote
    current_line, current_column = 1, 1
    end = len(token) - 1
    while i < end:
        if current_line == line and current_column == column:
            break
        if token[i] == "\\":
            escape = token[i + 1 : i + 2]
            width = 6 if escape == "u" else 2
            if escape == "n":
                current_line += 1
                current_column = 1
                i += width
                continue
            i += width
        else:
            i += 1
        if current_line == line:
            current_column += 1
        if current_line > line:
            break
    return i - 1
