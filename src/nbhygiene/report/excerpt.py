"""Cell source around findings, with secrets masked, for the report. Plain text in, plain text out:
escaping is the renderer's job (:mod:`nbhygiene.report.html`).

Secrets are found with the ``secret-in-notebook`` rule's own detector (``find_secrets``), whether or
not that rule is enabled, so a key never reaches the page even when a team silenced the rule. Lines
that the rule flagged are masked whole as well, in case a span was missed (and as the only defence if
the detector cannot be imported).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from nbhygiene.findings import Finding

CONTEXT = 2  # lines shown before and after a line a finding points at
HEAD = 6  # lines shown of a cell whose findings name no line
MAX_LINE = 400  # characters shown of one line (minified code and data URIs are long)
SECRET_RULE = "secret-in-notebook"
MASK = "«redacted»"
_END_OF_KEY = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_ASSIGNED = re.compile(r"^(\s*[^=:]{0,80}?[=:]\s*)")


@dataclass(frozen=True, slots=True)
class ExcerptLine:
    number: int  # 1-based line of the cell
    text: str
    marked: bool  # a finding points at this line
    gap_before: bool  # lines were left out just above


def _load_detector() -> Callable[[str, bool], Sequence[tuple[int, int, str]]] | None:
    try:
        from nbhygiene.rules.secret_in_notebook import find_secrets
    except ImportError:  # pragma: no cover - the rule ships with the core
        return None

    def detect(text: str, code: bool) -> list[tuple[int, int, str]]:
        return [(s.start, s.length, s.kind) for s in find_secrets(text, code=code)]

    return detect


_detector = _load_detector()


def redact_source(source: str, code: bool = True, flagged_lines: Iterable[int] = ()) -> str:
    """``source`` with every secret replaced by ``«redacted»``; line numbers stay as they were."""
    spans: list[tuple[int, int]] = []
    if _detector is not None:
        for start, length, kind in _detector(source, code):
            end = start + length
            if "private key" in kind:  # mask from the BEGIN line through the END line, whatever part
                begin = source.rfind("-----BEGIN", max(0, start - 200), start + 1)  # the detector marks
                start = begin if begin >= 0 else start
                tail = _END_OF_KEY.search(source, start)
                end = max(end, tail.end() if tail else len(source))
            spans.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):  # overlapping spans (a key that is also assigned to `key = ...`)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    for start, end in reversed(merged):
        hidden = source[start:end]
        masked = "\n".join(MASK if part else "" for part in hidden.split("\n"))
        source = source[:start] + masked + source[end:]
    flagged = set(flagged_lines)
    if not flagged:
        return source
    lines = source.split("\n")
    for number in flagged:
        if 1 <= number <= len(lines) and MASK not in lines[number - 1]:
            match = _ASSIGNED.match(lines[number - 1])
            lines[number - 1] = (match.group(1) if match else "") + MASK
    return "\n".join(lines)


def redact_text(text: str) -> str:
    """A message (which may quote an output) with secrets masked."""
    try:
        from nbhygiene.rules.secret_in_notebook import redact
    except ImportError:  # pragma: no cover
        return text
    return redact(text)


def cell_excerpt(
    source: str, findings: Sequence[Finding], code: bool = True, context: int = CONTEXT
) -> list[ExcerptLine]:
    """The lines of one cell around its findings (merged windows), secrets masked."""
    flagged = [
        line
        for f in findings
        if f.rule == SECRET_RULE and f.line is not None
        for line in range(f.line, (f.end_line or f.line) + 1)
    ]
    lines = redact_source(source, code, flagged).splitlines()
    if not lines:
        return []
    marked = {f.line for f in findings if f.line is not None and 1 <= f.line <= len(lines)}
    shown: set[int] = set()
    for line in marked:
        shown.update(range(max(1, line - context), min(len(lines), line + context) + 1))
    if not marked:
        shown.update(range(1, min(len(lines), HEAD) + 1))
    excerpt: list[ExcerptLine] = []
    previous = 0
    for number in sorted(shown):
        text = lines[number - 1]
        if len(text) > MAX_LINE:
            text = text[:MAX_LINE] + " …"
        excerpt.append(ExcerptLine(number, text, number in marked, number != previous + 1))
        previous = number
    return excerpt


def lines_after(excerpt: Sequence[ExcerptLine], total: int) -> bool:
    """Whether the cell goes on below the excerpt."""
    return bool(excerpt) and excerpt[-1].number < total
