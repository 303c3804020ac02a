"""Render the debt report as one self-contained HTML page: inline CSS and SVG, no script, no request.

Everything that comes from a notebook or a repository (paths, cell ids, source lines, messages, commit
subjects) goes through :func:`esc` (``html.escape`` with quotes) before it reaches the page, inside
SVG text too; a Content-Security-Policy that allows no script and no network is the second line of
defence. Nothing here reads files or runs git: :mod:`nbhygiene.report.cli` gathers the data.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from nbhygiene.findings import Family, Finding, Severity
from nbhygiene.report.excerpt import ExcerptLine
from nbhygiene.report.history import History
from nbhygiene.report.score import (
    FAMILIES,
    FAMILY_LABELS,
    SEVERITY_WEIGHTS,
    DebtScore,
    combine,
    format_score,
)

FAMILY_COLORS = {
    Family.HIDDEN_STATE: "#c0392b",
    Family.GLUE_CODE: "#e67e22",
    Family.CONFIGURATION: "#16a085",
    Family.ML_PITFALLS: "#2c5aa0",
    Family.NOTEBOOK: "#7f8c8d",
    Family.EXTERNAL: "#8e44ad",
}
LINE_COLORS = ("#2c5aa0", "#c0392b", "#16a085", "#e67e22", "#8e44ad", "#7f8c8d", "#b7950b", "#d35400")
MAX_BARS = 40  # notebooks drawn in the bar chart (all are in the table)
MAX_LINES = 8  # notebooks drawn individually in the history chart (the total covers all)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


_BACKTICKS = re.compile(r"`([^`]+)`")


def message_html(message: str) -> str:
    """A finding's message, escaped, with its `quoted code` set in <code> (after escaping)."""
    return _BACKTICKS.sub(r"<code>\1</code>", esc(message))


@dataclass(frozen=True, slots=True)
class CellFindings:
    index: int
    position: int
    cell_id: str | None
    cell_type: str
    findings: list[Finding]
    excerpt: list[ExcerptLine]
    line_count: int


@dataclass(slots=True)
class NotebookReport:
    path: str  # as shown on the page
    score: DebtScore | None  # None: could not be analysed
    notebook_findings: list[Finding] = field(default_factory=list)
    cells: list[CellFindings] = field(default_factory=list)
    error: str | None = None


@dataclass(slots=True)
class ReportPage:
    title: str
    generated: str
    version: str
    notebooks: list[NotebookReport]
    history: History | None = None


# -- page -----------------------------------------------------------------------------------------
CSS = """
:root { --fg: #1d2329; --muted: #5d6873; --line: #dde2e7; --bg: #ffffff; --soft: #f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0; }
a { color: #2c5aa0; }
.muted { color: var(--muted); }
.meta { color: var(--muted); margin: 0 0 18px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 8px; }
.card { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  min-width: 130px; }
.card .value { font-size: 22px; font-weight: 600; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px;
  vertical-align: baseline; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: var(--soft); font-weight: 600; white-space: normal; vertical-align: bottom; }
.table-wrap { overflow-x: auto; }
td.name, th.name { text-align: left; white-space: normal; overflow-wrap: anywhere; min-width: 220px; }
tr.total td { font-weight: 600; background: var(--soft); }
.zero { color: #b5bcc3; }
figure { margin: 12px 0 4px; overflow-x: auto; }
figcaption { color: var(--muted); font-size: 12px; }
svg text { font-family: inherit; }
details.notebook { border: 1px solid var(--line); border-radius: 8px; margin: 14px 0; background: var(--bg); }
details.notebook > summary { cursor: pointer; padding: 10px 14px; background: var(--soft);
  border-radius: 8px; list-style-position: inside; }
details.notebook > summary h3 { display: inline; word-break: break-all; }
details.notebook[open] > summary { border-bottom: 1px solid var(--line); border-radius: 8px 8px 0 0; }
.nb-body { padding: 8px 14px 14px; }
.stack { display: flex; height: 10px; border-radius: 5px; overflow: hidden; background: var(--line);
  margin: 8px 0 4px; max-width: 520px; }
.stack span { display: block; height: 100%; }
.breakdown { font-size: 12px; color: var(--muted); }
.breakdown span { margin-right: 12px; white-space: nowrap; }
.cell { margin: 14px 0 0; }
.cell-head { font-size: 13px; font-weight: 600; margin-bottom: 4px; }
.cell-head code { font-weight: normal; }
ul.findings { list-style: none; margin: 0 0 6px; padding: 0; }
ul.findings li { padding: 2px 0; }
ul.findings li code { background: #eef1f4; border-radius: 3px; padding: 0 3px; font-size: 12px; }
.sev { display: inline-block; min-width: 58px; text-align: center; font-size: 11px; font-weight: 600;
  border-radius: 10px; padding: 0 7px; margin-right: 6px; color: #fff; text-transform: uppercase; }
.sev-error { background: #c0392b; }
.sev-warning { background: #d68910; }
.sev-info { background: #5d8aa8; }
.rule { color: var(--muted); }
.where { color: var(--muted); font-size: 12px; }
pre.src { margin: 4px 0 0; padding: 6px 0; background: #f8f9fb; border: 1px solid var(--line);
  border-radius: 6px; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  overflow-x: auto; }
pre.src span.l { display: block; padding: 0 10px 0 0; white-space: pre; }
pre.src span.l.hit { background: #fff3cd; }
pre.src span.n { display: inline-block; width: 44px; padding-right: 10px; text-align: right;
  color: #9aa4ad; user-select: none; }
pre.src span.gap { display: block; color: #9aa4ad; padding-left: 20px; }
.error { color: #c0392b; }
.clean { color: #1e8449; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

# No script may run and nothing may be fetched, whatever a notebook smuggled into the page.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_page(page: ReportPage) -> str:
    scored = [nb for nb in page.notebooks if nb.score is not None]
    total = combine(nb.score for nb in scored if nb.score is not None)
    ranked = sorted(page.notebooks, key=lambda nb: (-(nb.score.total if nb.score else -1), nb.path))
    anchors = {id(nb): f"nb-{i}" for i, nb in enumerate(ranked, 1)}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(page.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{esc(page.title)}</h1>",
        f'<p class="meta">Generated {esc(page.generated)} by nbhygiene {esc(page.version)} · '
        f"{len(page.notebooks)} notebook(s)</p>",
        _cards(total, page.notebooks),
        _score_explanation(),
        "<h2>Debt by notebook</h2>",
        _bar_chart(ranked),
        _table(ranked, anchors, total),
    ]
    if page.history is not None:
        parts += ["<h2>Debt over time</h2>", _history_chart(page.history)]
    parts.append("<h2>Findings</h2>")
    if not ranked:
        parts.append('<p class="muted">No notebooks found.</p>')
    for nb in ranked:
        parts.append(_notebook_section(nb, anchors[id(nb)], open_=len(ranked) <= 20))
    parts += [
        "<footer>Self-contained report: no scripts, no external requests. Notebook text is shown escaped "
        "and secrets are masked.</footer>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _cards(total: DebtScore, notebooks: Sequence[NotebookReport]) -> str:
    failed = sum(1 for nb in notebooks if nb.score is None)
    cards = [
        (format_score(total.total), "total debt"),
        (str(total.findings), "findings"),
        (str(total.counts.get(Severity.ERROR, 0)), "errors"),
        (str(sum(1 for nb in notebooks if nb.score is not None and nb.score.total == 0)), "clean notebooks"),
    ]
    if failed:
        cards.append((str(failed), "not analysed"))
    body = "".join(
        f'<div class="card"><div class="value">{esc(v)}</div><div class="label">{esc(label)}</div></div>'
        for v, label in cards
    )
    return f'<div class="cards">{body}</div>'


def _score_explanation() -> str:
    weights = ", ".join(f"{s.value} = {format_score(w)}" for s, w in SEVERITY_WEIGHTS.items())
    return (
        '<p class="muted">Debt score: the sum of the findings\' weights by severity '
        f"({esc(weights)}), split by the family of the rule that found them. Not normalised by size: "
        "fixing a finding always lowers it. “Per 10 cells” divides by the number of code cells, to "
        "compare notebooks of different sizes.</p>"
    )


def _legend(families: Sequence[Family]) -> str:
    return " ".join(
        f'<span><i class="swatch" style="background:{FAMILY_COLORS[f]}"></i>{esc(FAMILY_LABELS[f])}</span>'
        for f in families
    )


def _used_families(notebooks: Sequence[NotebookReport]) -> list[Family]:
    used = [
        f
        for f in FAMILIES
        if any(nb.score is not None and nb.score.by_family.get(f, 0) > 0 for nb in notebooks)
    ]
    return used or [f for f in FAMILIES if f is not Family.EXTERNAL]


def _short(path: str, width: int) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


# -- charts ---------------------------------------------------------------------------------------
def _bar_chart(ranked: Sequence[NotebookReport]) -> str:
    rows = [nb for nb in ranked if nb.score is not None][:MAX_BARS]
    if not rows:
        return '<p class="muted">Nothing to chart.</p>'
    families = _used_families(rows)
    label_w, bar_w, value_w, row_h, top = 280, 560, 60, 24, 8
    width = label_w + bar_w + value_w
    height = top + row_h * len(rows) + 8
    peak = max((nb.score.total for nb in rows if nb.score), default=0.0) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Debt score by notebook">'
    ]
    for i, nb in enumerate(rows):
        assert nb.score is not None
        y = top + i * row_h
        out.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12" fill="#1d2329">'
            f"<title>{esc(nb.path)}</title>{esc(_short(nb.path, 40))}</text>"
        )
        x = float(label_w)
        for family in families:
            value = nb.score.by_family.get(family, 0.0)
            if value <= 0:
                continue
            w = value / peak * bar_w
            out.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{max(w, 0.5):.1f}" height="{row_h - 8}" '
                f'fill="{FAMILY_COLORS[family]}"><title>{esc(nb.path)}: {esc(FAMILY_LABELS[family])} '
                f"{esc(format_score(value))}</title></rect>"
            )
            x += w
        out.append(
            f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="12" fill="#5d6873">'
            f"{esc(format_score(nb.score.total))}</text>"
        )
    out.append("</svg>")
    more = len([nb for nb in ranked if nb.score is not None]) - len(rows)
    caption = _legend(families) + (f" · {more} more notebook(s) in the table" if more > 0 else "")
    return f"<figure>{''.join(out)}<figcaption>{caption}</figcaption></figure>"


def axis_ticks(value: float, target: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``value``: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return [0.0, 1.0]
    raw = value / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    count = math.ceil(value / step - 1e-9)
    return [step * k for k in range(count + 1)]


def _history_chart(history: History) -> str:
    commits = history.commits
    if not commits:
        return '<p class="muted">No commit changed these notebooks.</p>'
    totals = history.totals()
    ranked = sorted(history.scores.items(), key=lambda kv: (-max((v or 0) for v in kv[1]), kv[0]))
    drawn = ranked[:MAX_LINES]
    left, right, top, bottom, plot_w, plot_h = 56, 220, 14, 64, 620, 240
    width, height = left + plot_w + right, top + plot_h + bottom
    ticks = axis_ticks(max(totals, default=0.0))
    ceiling = ticks[-1]

    def x_of(i: int) -> float:
        return left + (plot_w / 2 if len(commits) == 1 else i * plot_w / (len(commits) - 1))

    def y_of(value: float) -> float:
        return top + plot_h - value / ceiling * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Debt score over commits">'
    ]
    for tick in ticks:
        y = y_of(tick)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7eb"/>')
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#5d6873">'
            f"{esc(format_score(tick))}</text>"
        )
    step = max(1, math.ceil(len(commits) / 10))
    for i, commit in enumerate(commits):
        if i % step and i != len(commits) - 1:
            continue
        x = x_of(i)
        date = "now" if commit.sha == "working tree" else _date(commit.timestamp)
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11" fill="#5d6873">'
            f"<title>{esc(commit.short)} {esc(commit.subject)}</title>{esc(commit.short)}</text>"
            f'<text x="{x:.1f}" y="{top + plot_h + 30}" text-anchor="middle" font-size="10" fill="#8a949e">'
            f"{esc(date)}</text>"
        )
    series: list[tuple[str, str, list[float | None], float]] = [
        ("all notebooks (total)", "#1d2329", list[float | None](totals), 3.0)
    ]
    for n, (path, values) in enumerate(drawn):
        series.append((path, LINE_COLORS[n % len(LINE_COLORS)], values, 1.6))
    for name, color, values, stroke in series:
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, point in enumerate(values):
            if point is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x_of(i):.1f},{y_of(point):.1f}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) > 1:
                out.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" '
                    f'stroke-width="{stroke}" stroke-linejoin="round"/>'
                )
        for i, point in enumerate(values):
            if point is not None:
                out.append(
                    f'<circle cx="{x_of(i):.1f}" cy="{y_of(point):.1f}" r="{stroke + 1:.1f}" fill="{color}">'
                    f"<title>{esc(name)} at {esc(commits[i].short)}: {esc(format_score(point))}</title></circle>"
                )
    legend_x = left + plot_w + 18
    for n, (name, color, _values, stroke) in enumerate(series):
        y = top + 8 + n * 18
        out.append(
            f'<line x1="{legend_x}" x2="{legend_x + 18}" y1="{y}" y2="{y}" stroke="{color}" '
            f'stroke-width="{stroke}"/><text x="{legend_x + 24}" y="{y + 4}" font-size="11" fill="#1d2329">'
            f"<title>{esc(name)}</title>{esc(_short(name, 28))}</text>"
        )
    out.append("</svg>")
    hidden = len(ranked) - len(drawn)
    caption = (
        f"Debt score at the last {len([c for c in commits if c.sha != 'working tree'])} commit(s) that "
        "changed a notebook, oldest first; a gap means the notebook did not exist (or could not be read)."
    )
    if hidden > 0:
        caption += f" {hidden} smaller notebook(s) are only in the total."
    return f"<figure>{''.join(out)}<figcaption>{esc(caption)}</figcaption></figure>"


def _date(timestamp: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime("%Y-%m-%d")


# -- table ----------------------------------------------------------------------------------------
def _num(value: float) -> str:
    return '<span class="zero">0</span>' if value == 0 else esc(format_score(value))


def _table(ranked: Sequence[NotebookReport], anchors: dict[int, str], total: DebtScore) -> str:
    families = _used_families(ranked)
    head = "".join(
        f'<th><i class="swatch" style="background:{FAMILY_COLORS[f]}"></i>{esc(FAMILY_LABELS[f])}</th>'
        for f in families
    )
    rows = [
        '<div class="table-wrap"><table>',
        f'<thead><tr><th class="name">Notebook</th><th>Debt</th><th>Per 10 cells</th>{head}'
        "<th>Errors</th><th>Warnings</th><th>Info</th></tr></thead>",
        "<tbody>",
    ]
    for nb in ranked:
        link = f'<a href="#{anchors[id(nb)]}">{esc(nb.path)}</a>'
        score = nb.score
        if score is None:
            rows.append(
                f'<tr><td class="name">{link}</td><td colspan="{len(families) + 5}" class="error" '
                f'style="text-align:left">not analysed</td></tr>'
            )
            continue
        per = score.per_10_cells
        cells = "".join(f"<td>{_num(score.by_family.get(f, 0.0))}</td>" for f in families)
        counts = "".join(f"<td>{_num(score.counts.get(s, 0))}</td>" for s in Severity)
        rows.append(
            f'<tr><td class="name">{link}</td><td><b>{esc(format_score(score.total))}</b></td>'
            f"<td>{esc(format_score(per)) if per is not None else '&ndash;'}</td>{cells}{counts}</tr>"
        )
    per = total.per_10_cells
    cells = "".join(f"<td>{_num(total.by_family.get(f, 0.0))}</td>" for f in families)
    counts = "".join(f"<td>{_num(total.counts.get(s, 0))}</td>" for s in Severity)
    rows += [
        "</tbody>",
        f'<tfoot><tr class="total"><td class="name">All notebooks</td><td>{esc(format_score(total.total))}</td>'
        f"<td>{esc(format_score(per)) if per is not None else '&ndash;'}</td>{cells}{counts}</tr></tfoot>",
        "</table></div>",
    ]
    return "\n".join(rows)


# -- notebooks ------------------------------------------------------------------------------------
def _notebook_section(nb: NotebookReport, anchor: str, open_: bool) -> str:
    score = nb.score
    if score is None:
        status = '<span class="error">not analysed</span>'
    elif score.total == 0:
        status = '<span class="clean">no findings</span>'
    else:
        status = f"debt <b>{esc(format_score(score.total))}</b>"
    parts = [
        f'<details class="notebook" id="{anchor}"{" open" if open_ else ""}>',
        f"<summary><h3>{esc(nb.path)}</h3> — {status}</summary>",
        '<div class="nb-body">',
    ]
    if nb.error:
        parts.append(f'<p class="error">{esc(nb.error)}</p>')
    if score is not None and score.total > 0:
        parts.append(_stack(score))
    if nb.notebook_findings:
        parts.append('<div class="cell"><div class="cell-head">Whole notebook</div>')
        parts.append(_finding_list(nb.notebook_findings))
        parts.append("</div>")
    for cell in nb.cells:
        parts.append(_cell_block(cell))
    parts += ["</div>", "</details>"]
    return "\n".join(parts)


def _stack(score: DebtScore) -> str:
    spans = []
    labels = []
    for family in FAMILIES:
        value = score.by_family.get(family, 0.0)
        if value <= 0:
            continue
        share = value / score.total * 100
        spans.append(
            f'<span style="width:{share:.2f}%;background:{FAMILY_COLORS[family]}" '
            f'title="{esc(FAMILY_LABELS[family])} {esc(format_score(value))}"></span>'
        )
        labels.append(
            f'<span><i class="swatch" style="background:{FAMILY_COLORS[family]}"></i>'
            f"{esc(FAMILY_LABELS[family])} {esc(format_score(value))}</span>"
        )
    counts = ", ".join(f"{score.counts.get(s, 0)} {s.value}" for s in Severity)
    per = score.per_10_cells
    per_text = (
        f" · {format_score(per)} per 10 code cells ({score.code_cells} code cells)" if per is not None else ""
    )
    return (
        f'<div class="stack">{"".join(spans)}</div>'
        f'<div class="breakdown">{"".join(labels)}</div>'
        f'<div class="breakdown">{esc(counts)}{esc(per_text)}</div>'
    )


def _finding_list(findings: Sequence[Finding]) -> str:
    items = []
    for f in findings:
        where = ""
        if f.line is not None:
            where = f' <span class="where">line {f.line}{":" + str(f.column) if f.column else ""}</span>'
        items.append(
            f'<li><span class="sev sev-{esc(f.severity.value)}">{esc(f.severity.value)}</span>'
            f'<code>{esc(f.code)}</code> <span class="rule">{esc(f.rule)}</span>{where} — {message_html(f.message)}</li>'
        )
    return f'<ul class="findings">{"".join(items)}</ul>'


def _cell_block(cell: CellFindings) -> str:
    ident = f" <code>{esc(cell.cell_id)}</code>" if cell.cell_id else ""
    kind = f' <span class="muted">({esc(cell.cell_type)})</span>' if cell.cell_type != "code" else ""
    parts = [
        '<div class="cell">',
        f'<div class="cell-head">Cell {cell.position}{ident}{kind}</div>',
        _finding_list(cell.findings),
    ]
    if cell.excerpt:
        lines = []
        for line in cell.excerpt:
            if line.gap_before:
                lines.append('<span class="gap">⋯</span>')
            hit = " hit" if line.marked else ""
            lines.append(f'<span class="l{hit}"><span class="n">{line.number}</span>{esc(line.text)}</span>')
        if cell.excerpt[-1].number < cell.line_count:
            lines.append('<span class="gap">⋯</span>')
        parts.append(f'<pre class="src">{"".join(lines)}</pre>')
    parts.append("</div>")
    return "\n".join(parts)
