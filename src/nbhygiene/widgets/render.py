"""Findings as HTML and plain text: the readable renderings that travel with every widget bundle.

A front end without widget support (nbviewer, GitHub, a locked-down deployment, a saved notebook opened
later) shows these instead of the panel. They are built from the same :class:`~nbhygiene.findings.Finding`
records as the panel, grouped the same way (family, then severity, then cell), and every piece of text
that comes from a notebook or a message is HTML-escaped: messages quote code and paths. No ipywidgets here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from nbhygiene.findings import Finding, Severity

FAMILIES: tuple[tuple[str, str], ...] = (
    ("hidden-state", "Hidden state"),
    ("notebook", "Notebook"),
    ("glue-code", "Glue code"),
    ("configuration", "Configuration"),
    ("ml-pitfalls", "ML pitfalls"),
    ("external", "External"),
    ("other", "Other"),
)
SEVERITIES: tuple[Severity, ...] = (Severity.ERROR, Severity.WARNING, Severity.INFO)
SEVERITY_COLORS = {Severity.ERROR: "#c62828", Severity.WARNING: "#b26a00", Severity.INFO: "#1565c0"}


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def family_of(rule_name: str) -> str:
    from nbhygiene.rules import find_rule

    rule = find_rule(rule_name)
    known = {family for family, _label in FAMILIES}
    if rule is None or rule.family.value not in known:
        return "other"
    return rule.family.value


def location(finding: Finding) -> str:
    """``Cell 3, line 2`` as JupyterLab numbers cells (1-based over all cells), or ``Notebook``."""
    if finding.cell_position is None:
        return "Notebook"
    line = f", line {finding.line}" if finding.line is not None else ""
    return f"Cell {finding.cell_position}{line}"


def sort_in_group(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (-f.severity.rank, f.cell_position or 0, f.line or 0, f.column or 0, f.code),
    )


def group_findings(findings: Iterable[Finding]) -> list[tuple[str, str, list[Finding]]]:
    """``(family, label, findings)`` for each family that has findings, in the sidebar's order."""
    members: dict[str, list[Finding]] = {}
    for finding in findings:
        members.setdefault(family_of(finding.rule), []).append(finding)
    return [
        (family, label, sort_in_group(members[family])) for family, label in FAMILIES if family in members
    ]


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


def counts_text(findings: Sequence[Finding]) -> str:
    if not findings:
        return "no findings"
    counts = severity_counts(findings)
    parts = [f"{counts[s]} {s.value}" for s in SEVERITIES if counts[s]]
    noun = "finding" if len(findings) == 1 else "findings"
    return f"{len(findings)} {noun} ({', '.join(parts)})"


# -- HTML -----------------------------------------------------------------------------------------------
def finding_row_html(finding: Finding) -> str:
    color = SEVERITY_COLORS.get(finding.severity, "inherit")
    cell = f' data-cell-id="{escape(finding.cell_id)}"' if finding.cell_id else ""
    return (
        f'<tr class="nbhygiene-finding" data-rule="{escape(finding.rule)}"'
        f' data-severity="{escape(finding.severity.value)}"{cell}>'
        f'<td style="color:{color};font-weight:600;white-space:nowrap">{escape(finding.severity.value)}</td>'
        f'<td style="white-space:nowrap"><code>{escape(finding.rule)}</code> '
        f'<span style="opacity:0.7">{escape(finding.code)}</span></td>'
        f'<td style="white-space:nowrap">{escape(location(finding))}</td>'
        f'<td style="text-align:left">{escape(finding.message)}</td></tr>'
    )


def group_html(label: str, findings: Sequence[Finding]) -> str:
    counts = severity_counts(findings)
    badges = " ".join(
        f'<span style="color:{SEVERITY_COLORS[s]}">{counts[s]} {escape(s.value)}</span>'
        for s in SEVERITIES
        if counts[s]
    )
    rows = "".join(finding_row_html(f) for f in findings)
    return (
        f'<div class="nbhygiene-group"><h4 style="margin:0.6em 0 0.2em 0">{escape(label)} '
        f'<span style="font-weight:normal">({len(findings)}: {badges})</span></h4>'
        f'<table class="nbhygiene-findings" style="border-collapse:collapse">'
        f"<thead><tr><th>Severity</th><th>Rule</th><th>Where</th>"
        f'<th style="text-align:left">Message</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def header_html(title: str, subtitle: str | None, findings: Sequence[Finding]) -> str:
    sub = f'<div style="opacity:0.8">{escape(subtitle)}</div>' if subtitle else ""
    return (
        f'<div class="nbhygiene-header"><strong>{escape(title)}</strong>: {escape(counts_text(findings))}'
        f"{sub}</div>"
    )


def notes_html(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return f'<ul class="nbhygiene-notes" style="margin:0.3em 0">{items}</ul>'


def findings_html(
    findings: Sequence[Finding], *, title: str, subtitle: str | None = None, notes: Sequence[str] = ()
) -> str:
    """The whole panel as static HTML (what a front end without widgets shows)."""
    groups = "".join(group_html(label, members) for _family, label, members in group_findings(findings))
    return (
        f'<div class="nbhygiene-panel">{header_html(title, subtitle, findings)}{notes_html(notes)}'
        f"{groups}</div>"
    )


# -- plain text -----------------------------------------------------------------------------------------
def findings_text(
    findings: Sequence[Finding], *, title: str, subtitle: str | None = None, notes: Sequence[str] = ()
) -> str:
    lines = [f"{title}: {counts_text(findings)}"]
    if subtitle:
        lines.append(subtitle)
    lines.extend(f"note: {note}" for note in notes)
    for _family, label, members in group_findings(findings):
        lines.append("")
        lines.append(f"{label} ({len(members)})")
        for finding in members:
            lines.append(
                f"  {location(finding)}: {finding.severity.value} {finding.rule} ({finding.code}) "
                f"{finding.message}"
            )
    return "\n".join(lines)


# -- rule documentation --------------------------------------------------------------------------------
_INLINE_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    escaped = escape(text)
    return _INLINE_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped)


def markdown_html(text: str) -> str:
    """The small Markdown subset rule docs use (headings, fenced code, paragraphs, lists, `code`).

    Everything is escaped first: a doc is ours, but a plugin's doc is not.
    """
    out: list[str] = []
    paragraph: list[str] = []
    in_code = False
    code: list[str] = []

    def flush() -> None:
        if paragraph:
            if all(line.lstrip().startswith(("- ", "* ")) for line in paragraph):
                items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in paragraph)
                out.append(f"<ul>{items}</ul>")
            else:
                out.append(f"<p>{_inline(' '.join(line.strip() for line in paragraph))}</p>")
            paragraph.clear()

    for line in text.splitlines():
        if line.strip().startswith("```"):
            if in_code:
                out.append(f"<pre><code>{escape(chr(10).join(code))}</code></pre>")
                code.clear()
                in_code = False
            else:
                flush()
                in_code = True
            continue
        if in_code:
            code.append(line)
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if heading:
            flush()
            level = min(6, len(heading.group(1)) + 3)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
    if in_code:
        out.append(f"<pre><code>{escape(chr(10).join(code))}</code></pre>")
    flush()
    return "".join(out)


def rule_doc_html(rule_name: str) -> str:
    """A rule's documentation (its docstring, via ``Rule.doc()``) as HTML; a message for an unknown rule."""
    from nbhygiene.rules import find_rule

    rule = find_rule(rule_name)
    if rule is None:
        return f"<p>No documentation: unknown rule <code>{escape(rule_name)}</code>.</p>"
    return (
        f'<div class="nbhygiene-rule-doc" data-rule="{escape(rule.name)}">'
        f"<h4>{escape(rule.name)} ({escape(rule.code)}): {escape(rule.family.value)}, "
        f"{escape(rule.severity.value)}</h4>{markdown_html(rule.doc())}</div>"
    )
