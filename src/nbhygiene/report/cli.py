"""``nbhygiene report PATH... -o report.html [--history N]``: the debt report subcommand.

Exit codes: 0 the report was written (notebooks that could not be analysed are listed in it and on
stderr); 2 a usage error (a missing path, a bad configuration, ``--history`` outside a git
repository) or the report could not be written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the report's modules load when the subcommand runs, not for every `nbhygiene` call
    from nbhygiene.findings import FileResult, Finding
    from nbhygiene.report.html import NotebookReport

EXIT_OK = 0
EXIT_USAGE = 2


def add_subcommands(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="write a self-contained HTML debt report (score per notebook, findings, trend over commits)",
        description="Write a self-contained HTML page with each notebook's debt score, its breakdown by "
        "family, the findings with the cell source around them, and a chart across notebooks.",
    )
    report.add_argument("paths", nargs="*", metavar="PATH", help="notebooks or directories (default: .)")
    report.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        default="nbhygiene-report.html",
        help="default: nbhygiene-report.html",
    )
    report.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="N",
        help="also score every notebook at the last N git commits that changed one, and plot the trend",
    )
    report.add_argument("--title", default="Notebook debt report")
    report.add_argument(
        "--config", metavar="PYPROJECT", help="configuration file (default: nearest pyproject.toml)"
    )
    report.add_argument("--no-cache", action="store_true", help="do not read or write the results cache")
    report.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: every core)")
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from nbhygiene.__about__ import __version__
    from nbhygiene.config import ConfigError, load_config
    from nbhygiene.engine import check_paths, collect_paths
    from nbhygiene.report.history import HistoryError, score_history
    from nbhygiene.report.html import ReportPage, render_page

    paths = args.paths or ["."]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"nbhygiene: {missing[0]}: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    if args.history < 0:
        print("nbhygiene: --history must be a number of commits (0 or more)", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(paths[0], args.config)
    except ConfigError as exc:
        print(f"nbhygiene: {exc}", file=sys.stderr)
        return EXIT_USAGE
    files = collect_paths(paths, config)
    results = check_paths(files, config, jobs=args.jobs, use_cache=not args.no_cache)
    base = display_base([r.path for r in results])
    notebooks = [build_notebook_report(result, base) for result in results]
    for result in results:
        if result.error:
            print(f"nbhygiene: {result.path}: not analysed: {result.error.message}", file=sys.stderr)
    history = None
    if args.history:
        current = {
            os.path.realpath(r.path): nb.score.total if nb.score else None
            for r, nb in zip(results, notebooks, strict=True)
        }
        try:
            history = score_history(paths, args.history, config, lambda p: current.get(os.path.realpath(p)))
        except HistoryError as exc:
            print(f"nbhygiene: {exc}", file=sys.stderr)
            return EXIT_USAGE
    page = ReportPage(
        title=args.title,
        generated=_now(),
        version=__version__,
        notebooks=notebooks,
        history=history,
    )
    try:
        _write(args.output, render_page(page))
    except OSError as exc:
        print(f"nbhygiene: cannot write {args.output}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    total = sum(nb.score.total for nb in notebooks if nb.score)
    print(
        f"nbhygiene: wrote {args.output}: {len(notebooks)} notebook(s), total debt {total:g}",
        file=sys.stderr,
    )
    return EXIT_OK


def _write(path: str, text: str) -> None:
    from nbhygiene.io import atomic_write_text

    if os.path.exists(path) and not os.path.isfile(path):  # /dev/stdout, a pipe: never replace those
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    new = not os.path.exists(path)
    atomic_write_text(path, text)
    if new:  # a page to share: readable like any new file, not the temporary file's 0600
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def build_notebook_report(result: FileResult, base: str = ".") -> NotebookReport:
    """The page's view of one checked file: score, findings grouped by cell, redacted excerpts."""
    from nbhygiene.loading import NotebookLoadError, load_notebook
    from nbhygiene.model import build_model
    from nbhygiene.report.excerpt import cell_excerpt, redact_text
    from nbhygiene.report.html import CellFindings, NotebookReport
    from nbhygiene.report.score import score_findings

    shown = os.path.relpath(result.path, base)
    if result.error is not None:
        return NotebookReport(shown, None, error=redact_text(result.error.message))
    try:
        notebook = build_model(load_notebook(result.path))
    except NotebookLoadError as exc:  # changed on disk since it was checked
        return NotebookReport(shown, None, error=redact_text(exc.message))
    findings = [_redacted(f, redact_text) for f in result.findings]
    report = NotebookReport(shown, score_findings(findings, len(notebook.code_cells)))
    by_cell: dict[int, list[Finding]] = {}
    for finding in findings:
        if finding.cell_index is None or not 0 <= finding.cell_index < len(notebook.cells):
            report.notebook_findings.append(finding)
        else:
            by_cell.setdefault(finding.cell_index, []).append(finding)
    for index in sorted(by_cell):
        cell = notebook.cells[index]
        cell_findings = by_cell[index]
        report.cells.append(
            CellFindings(
                index=index,
                position=cell.position,
                cell_id=cell.id,
                cell_type=cell.cell_type,
                findings=cell_findings,
                excerpt=cell_excerpt(cell.source, cell_findings, code=cell.is_code),
                line_count=len(cell.source.splitlines()),
            )
        )
    return report


def _redacted(finding: Finding, redact: Callable[[str], str]) -> Finding:
    import dataclasses

    message = redact(finding.message)
    return finding if message == finding.message else dataclasses.replace(finding, message=message)


def display_base(paths: list[str]) -> str:
    """Paths are shown relative to the current directory, or to the folder holding them all when they
    lie outside it (``report ../corpus`` shows ``pkg/nb.ipynb``, not ``../corpus/pkg/nb.ipynb``)."""
    here = os.getcwd()
    absolute = [os.path.abspath(p) for p in paths]
    if not absolute or all(not os.path.relpath(p, here).startswith(os.pardir) for p in absolute):
        return here
    try:
        return os.path.commonpath([os.path.dirname(p) for p in absolute])
    except ValueError:  # different drives
        return here
