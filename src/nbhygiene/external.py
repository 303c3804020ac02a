"""Other linters (ruff, flake8, pylint, mypy, ...) run through nbQA, their diagnostics merged into findings.

``nbhygiene check --external ruff --external "flake8 --max-line-length 100"`` runs, per tool, one
subprocess ``python -m nbqa nbhygiene.external PATHS... --nbqa-diff`` (per 200 notebooks): the core
never imports nbQA, and ``--nbqa-diff`` guarantees that a check never rewrites a notebook, whatever the
tool would fix. nbQA runs this module as its "tool" (:func:`_proxy_main`), which prints the text nbQA
built for each notebook, line by line, and then runs the real tool (named, with its arguments, in the
environment, so nbQA's option parser never sees them) on the same files.

nbQA reports ``path:cell_N:line:col: CODE message`` where ``N`` counts *code* cells only, from 1
(markdown and raw cells are not counted; empty and magic-only code cells are counted although nbQA
skips them). That is converted to nbhygiene's coordinates: the N-th code cell of the model gives the
0-based index, the cell id and the 1-based position over all cells that JupyterLab shows. nbQA's
line numbers are those of the text after its ``autopep8 --select=E3`` pass, which adds and removes
blank lines; :func:`align_lines` maps them back to the cell's own lines.

Each diagnostic becomes a :class:`~nbhygiene.findings.Finding` with ``code`` = the tool's code
(``F821``, ``E0602``, ``name-defined``; ``EXT`` when the tool prints none), ``rule`` =
``"{tool}:{code}"`` (``ruff:F821``), family *external*, severity ``warning`` (``error`` for a syntax
error). The family is not stored on a finding: :func:`is_external` recognises the rule by its colon.

Where a tool says what nbhygiene already says, the tool's finding is dropped:

- an undefined name (``F821``, pylint ``E0602``/``E0601``, mypy ``name-defined``/``used-before-def``)
  that ``undefined-name`` or ``use-before-definition`` reports for the same name in the same cell is a
  duplicate; one that nbhygiene's model knows is defined (IPython's names such as ``display``,
  ``In``, ``_i3``; configured builtins; names bound by magics such as ``%%capture out``; a name
  defined by some cell; anything after ``%run``, ``exec`` or a star import) is noise from a tool that
  sees neither execution order nor magics. A name nbhygiene also finds unresolved but does not report
  (its rule disabled or suppressed) is kept: the user asked for the tool's opinion.
- a syntax error (``E999``, ruff ``invalid-syntax``, pylint ``E0001``, mypy ``syntax``) in a cell where
  ``syntax-error`` reports too is a duplicate; in a cell that is valid IPython (magics, shell
  escapes) it is noise.
- ``E402``/pylint ``C0413`` (import not at top) in a cell where ``import-not-at-top`` reports is a
  duplicate; when that rule is enabled but quiet, it has judged the cell (setup cells, magics, the
  papermill parameters cell) and the tool's finding is noise. Without the rule, ``E402`` is kept.
- ``F403``/pylint ``W0401`` (star import) in a cell where ``star-import`` reports is a duplicate.
- every diagnostic in a notebook whose kernel is not Python (R, Julia, ...) is noise: nbQA decides by
  ``language_info`` alone and lints such notebooks when only ``kernelspec`` names the language.

nbhygiene's suppressions apply to external findings too: the cell tags ``nbhygiene-ignore`` and
``nbhygiene-ignore:ruff`` / ``:ruff:F821`` / ``:external``, the line comment
``# nbhygiene: ignore[ruff:E501]``, the notebook metadata ``nbhygiene.ignore``, and ``ignore`` /
``per-file-ignores`` in the configuration (selectors ``external``, ``ruff``, ``ruff:F``,
``ruff:F821``). ``select`` does not apply: ``--external`` is the selection, and the tool's own
configuration (``[tool.ruff]``, ``setup.cfg``, ...) chooses its codes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nbhygiene.findings import FileResult, Finding, Severity

if TYPE_CHECKING:
    from nbhygiene.analysis import NotebookAnalysis
    from nbhygiene.config import Config
    from nbhygiene.model import Cell, Notebook

BATCH = 200  # notebooks per nbQA run: keeps the command line short on big repositories

# `path:cell_N:line[:col]: rest`. The path may contain colons; `:cell_N:` anchors the match.
_DIAGNOSTIC = re.compile(
    r"^(?P<path>.+?):cell_(?P<cell>\d+):(?P<line>\d+)(?::(?P<column>\d+))?:?[ \t]*(?P<rest>.*)$"
)
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\([A-Za-z0-9])")
_CODED = re.compile(r"^(?P<code>[A-Z]{1,6}[0-9]{1,5})\b:?[ \t]*(?:\[\*\][ \t]*)?(?P<message>.*)$")
_SYNTAX = re.compile(r"^(?P<code>invalid-syntax|SyntaxError):[ \t]*(?P<message>.*)$")
_MYPY = re.compile(
    r"^(?P<level>error|warning|note):[ \t]*(?P<message>.*?)(?:[ \t]+\[(?P<code>[a-z][a-z0-9-]*)\])?$"
)
_PYFLAKES = (  # pyflakes prints no codes; flake8's codes for the same messages
    (re.compile(r"^undefined name "), "F821"),
    (re.compile(r" imported but unused$"), "F401"),
    (re.compile(r"^'from .+ import \*' used"), "F403"),
    (re.compile(r"may be undefined, or defined from star imports"), "F405"),
    (re.compile(r"^redefinition of unused "), "F811"),
    (re.compile(r"is assigned to but never used$"), "F841"),
    (re.compile(r"^f-string is missing placeholders"), "F541"),
)
_QUOTED_NAME = re.compile(r"[`'\"]([A-Za-z_][A-Za-z0-9_]*)[`'\"]")
_LINE_SUPPRESSION = re.compile(r"#\s*nbhygiene:\s*ignore(?:\[([^\]]*)\])?", re.IGNORECASE)

UNDEFINED_CODES = frozenset({"F821", "E0602", "E0601", "name-defined", "used-before-def"})
SYNTAX_CODES = frozenset({"E999", "E0001", "invalid-syntax", "SyntaxError", "syntax"})
IMPORT_POSITION_CODES = frozenset({"E402", "C0413"})
STAR_IMPORT_CODES = frozenset({"F403", "W0401"})
ZERO_BASED_COLUMNS = frozenset({"pylint"})
NO_CODE = "EXT"  # the code of a diagnostic whose tool prints none


PROXY_ENV = "NBHYGIENE_EXTERNAL_TOOL"
ECHO_MARK = "NBHYGIENE-SOURCE "
NOT_FOUND_MARK = "nbhygiene-external: tool not found:"
EXIT_MARK = "nbhygiene-external: tool exit status "
_UNMAPPED = re.compile(r"^\S.*\.ipynb:\d+:")
_NO_NBQA = (
    "--external needs nbQA, which is not installed in this Python environment: "
    f"{sys.executable} -m pip install nbqa"
)


class ExternalToolError(Exception):
    """A run-level failure (nbQA or the tool missing, the tool crashed): ``check`` exits 2."""


@dataclass(frozen=True, slots=True)
class ExternalTool:
    """One ``--external`` value: the tool nbQA runs and the arguments passed on to it."""

    name: str
    args: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> ExternalTool:
        try:
            words = shlex.split(spec)
        except ValueError as exc:
            raise ExternalToolError(f"--external {spec!r}: {exc}") from None
        if not words or words[0].startswith("-"):
            raise ExternalToolError(f"--external {spec!r}: expected a tool name first, e.g. 'ruff'")
        return cls(words[0], tuple(words[1:]))

    def argv(self, files: Sequence[str]) -> list[str] | None:
        """The command the proxy runs on nbQA's temporary files (None: the tool is not installed)."""
        args = list(self.args)
        sub: list[str] = []
        if self.name == "ruff":
            # nbQA maps `path:line:` at the start of a line only: ruff's default "full" format puts the
            # location after an arrow. `--no-fix` last: a fix would shift the lines being reported.
            if not args or args[0] != "check":
                sub = ["check"]
            if not any(a == "--output-format" or a.startswith("--output-format=") for a in args):
                args.append("--output-format=concise")
            args.append("--no-fix")
        if importlib.util.find_spec(self.name) is not None:
            return [sys.executable, "-m", self.name, *sub, *args, *files]
        program = shutil.which(self.name)
        return [program, *sub, *args, *files] if program else None

    def nbqa_command(self, paths: Sequence[str]) -> list[str]:
        # nbQA runs this module as the "tool" (see `_proxy_main`); the real tool and its arguments travel
        # in the environment, so that nbQA's own option parser never sees them ("--max-line-length 100"
        # would make it take "100" for a notebook path).
        return [sys.executable, "-m", "nbqa", "nbhygiene.external", *paths, "--nbqa-diff"]

    def environ(self) -> dict[str, str]:
        env = {**os.environ, PROXY_ENV: json.dumps({"tool": self.name, "args": list(self.args)})}
        env.update({"NO_COLOR": "1", "MYPY_FORCE_COLOR": "0", "TERM": "dumb"})
        env.pop("FORCE_COLOR", None)
        return env


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One line of a tool's output, in nbQA's coordinates (``cell`` counts code cells from 1)."""

    tool: str
    path: str  # absolute
    cell: int
    line: int
    column: int | None
    code: str
    message: str

    @property
    def is_syntax_error(self) -> bool:
        return self.code in SYNTAX_CODES


@dataclass(slots=True)
class ExternalSummary:
    """What merging did, for the run's stderr summary."""

    merged: int = 0
    duplicates: int = 0
    noise: int = 0
    suppressed: int = 0
    unmapped: int = 0
    warnings: list[str] = field(default_factory=list)

    def describe(self, tools: Sequence[ExternalTool]) -> str:
        names = ", ".join(t.name for t in tools)
        return (
            f"nbhygiene: {names}: {self.merged} finding(s) merged; dropped {self.duplicates} duplicate(s) of "
            f"nbhygiene findings, {self.noise} that nbhygiene's model resolves (magics, IPython names, "
            f"cell order), {self.suppressed} suppressed"
            + (f"; {self.unmapped} could not be placed in a cell" if self.unmapped else "")
        )


def is_external(finding: Finding) -> bool:
    return ":" in finding.rule


# -- parsing ------------------------------------------------------------------------------------------
@dataclass(slots=True)
class ToolOutput:
    """A tool's diagnostics, and the text nbQA handed it, line by line, in nbQA's numbering."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    # (absolute notebook path, nbQA cell number) -> {nbQA line: text of that line in the file the tool read}
    sources: dict[tuple[str, int], dict[int, str]] = field(default_factory=dict)
    unmapped: int = 0  # output lines that name a notebook but that nbQA could not map to a cell


def parse_output(tool: str, text: str, cwd: str, into: ToolOutput | None = None) -> ToolOutput:
    """Diagnostics in nbQA-mapped output. Lines that are not diagnostics (summaries, notes) are skipped."""
    parsed = into if into is not None else ToolOutput()
    for raw in _ANSI.sub("", text).splitlines():
        match = _DIAGNOSTIC.match(raw.strip())
        if match is None:
            if _UNMAPPED.match(raw):
                parsed.unmapped += 1
            continue
        path = _resolve(match.group("path"), cwd)
        cell, line = int(match.group("cell")), int(match.group("line"))
        rest = match.group("rest")
        if rest.startswith(ECHO_MARK):
            parsed.sources.setdefault((path, cell), {})[line] = json.loads(rest[len(ECHO_MARK) :])
            continue
        coded = _code_and_message(tool, rest.strip())
        if coded is None:
            continue
        column = int(match.group("column")) if match.group("column") else None
        if column is not None and tool in ZERO_BASED_COLUMNS:
            column += 1
        parsed.diagnostics.append(Diagnostic(tool, path, cell, line, column, coded[0], coded[1]))
    return parsed


def _code_and_message(tool: str, rest: str) -> tuple[str, str] | None:
    for pattern in (_SYNTAX, _CODED):
        match = pattern.match(rest)
        if match:
            return match.group("code"), match.group("message").strip()
    match = _MYPY.match(rest)
    if match:
        if match.group("level") == "note":
            return None  # a note explains the diagnostic before it
        return match.group("code") or NO_CODE, match.group("message").strip()
    for pattern, code in _PYFLAKES:
        if pattern.search(rest):
            return code, rest
    return (NO_CODE, rest) if rest else None


def _resolve(path: str, cwd: str) -> str:
    return os.path.normcase(os.path.realpath(os.path.join(cwd, path)))


def align_lines(seen: dict[int, str] | None, source: str) -> dict[int, int]:
    """nbQA's line numbers within a cell -> the cell's own line numbers.

    Before running the tool, nbQA runs ``autopep8 --select=E3`` on the file it built, which inserts or
    removes *blank* lines (two before a ``def`` that follows other code, ...) and then reports lines of
    that edited text as if they were the cell's: a name on line 3 of ``x = 1\ndef f():\n    return y``
    comes back as line 5. Only blank lines change (magics are replaced line for line), so the k-th
    non-blank line the tool saw is the k-th non-blank line of the cell. When the counts differ (nbQA
    replaced a whole cell), nbQA's numbers are kept.
    """
    if not seen:
        return {}
    lines = source.splitlines()
    seen_lines = sorted((n, text) for n, text in seen.items() if n >= 1)
    seen_code = [n for n, text in seen_lines if text.strip()]
    cell_code = [i for i, text in enumerate(lines, 1) if text.strip()]
    if len(seen_code) != len(cell_code):
        return {}
    mapping = dict(zip(seen_code, cell_code, strict=True))
    previous = 0
    for n, _text in seen_lines:  # a blank line the tool saw: the line after the last mapped one
        if n in mapping:
            previous = mapping[n]
        else:
            mapping[n] = max(1, min(previous + 1, len(lines)))
    return mapping


# -- running ------------------------------------------------------------------------------------------
def nbqa_available() -> bool:
    return importlib.util.find_spec("nbqa") is not None


def run_tool(tool: ExternalTool, paths: Sequence[str], cwd: str) -> tuple[ToolOutput, list[str]]:
    """Run ``tool`` through nbQA on ``paths``: (its output, warnings about notebooks nbQA skipped)."""
    if not nbqa_available():
        raise ExternalToolError(_NO_NBQA)
    output = ToolOutput()
    warnings: list[str] = []
    env = tool.environ()
    for start in range(0, len(paths), BATCH):
        try:
            done = subprocess.run(
                tool.nbqa_command(paths[start : start + BATCH]),
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
                check=False,
            )
        except OSError as exc:
            raise ExternalToolError(f"cannot run nbQA: {exc}") from None
        out, err = _ANSI.sub("", done.stdout), _ANSI.sub("", done.stderr)
        if NOT_FOUND_MARK in err:
            raise ExternalToolError(
                f"--external {tool.name}: `{tool.name}` is not installed (neither `{sys.executable} -m "
                f"{tool.name}` nor a `{tool.name}` program on PATH): {sys.executable} -m pip install {tool.name}"
            )
        before = len(output.diagnostics)
        parse_output(tool.name, out, cwd, output)
        parse_output(tool.name, err, cwd, output)
        failed = re.findall(r'nbQA failed to process (.+?) with exception "(.*)"', err)
        warnings.extend(f"{tool.name} (through nbQA) skipped {nb}: {why}" for nb, why in failed)
        statuses = [int(n) for n in re.findall(re.escape(EXIT_MARK) + r"(-?\d+)", err)]
        returncode = max(statuses, key=abs) if statuses else done.returncode
        if len(output.diagnostics) == before and not failed and returncode not in (0, 1):
            lines = [
                line
                for line in (err + "\n" + out).splitlines()
                if line.strip() and ECHO_MARK not in line and EXIT_MARK not in line
            ]
            tail = "\n".join(lines[-6:])
            raise ExternalToolError(
                f"--external {tool.name} failed (exit {returncode}): {tail or 'no output'}"
            )
    if output.unmapped:
        warnings.append(
            f"{tool.name}: {output.unmapped} line(s) of output name a notebook but nbQA did not map them to "
            "cells; they were left out"
        )
    return output, warnings


def prepare(specs: Sequence[str]) -> list[ExternalTool]:
    """The tools named by ``--external`` values; fails early (before the check runs) without nbQA."""
    tools = [ExternalTool.parse(spec) for spec in specs]
    if tools and not nbqa_available():
        raise ExternalToolError(_NO_NBQA)
    return tools


# -- merging ------------------------------------------------------------------------------------------
def merge_external(
    tools: Sequence[ExternalTool], results: list[FileResult], config: Config, cwd: str | None = None
) -> ExternalSummary:
    """Run every tool on the notebooks that were analysed and add the tools' findings to ``results``."""
    cwd = os.path.abspath(cwd or os.getcwd())
    summary = ExternalSummary()
    targets = {_resolve(r.path, cwd): r for r in results if r.error is None}
    if not targets or not tools:
        return summary
    paths = [r.path for r in targets.values()]
    by_path: dict[str, list[tuple[Diagnostic, dict[int, str] | None]]] = {}
    for tool in tools:
        output, warnings = run_tool(tool, paths, cwd)
        summary.warnings.extend(warnings)
        for diagnostic in output.diagnostics:
            seen = output.sources.get((diagnostic.path, diagnostic.cell))
            by_path.setdefault(diagnostic.path, []).append((diagnostic, seen))
    for key, diagnostics in by_path.items():
        result = targets.get(key)
        notebook = _load_model(result.path) if result is not None else None
        if result is None or notebook is None:
            summary.unmapped += len(diagnostics)
            continue
        judge = _Judge(notebook, result.findings, config)
        added: list[Finding] = []
        for diagnostic, seen in diagnostics:
            finding = to_finding(diagnostic, notebook, result.path, seen)
            if finding is None:
                summary.unmapped += 1
                continue
            verdict = judge.verdict(diagnostic, finding)
            if verdict == "duplicate":
                summary.duplicates += 1
            elif verdict == "noise":
                summary.noise += 1
            elif verdict == "suppressed":
                summary.suppressed += 1
            else:
                added.append(finding)
        summary.merged += len(added)
        result.findings = sorted([*result.findings, *added], key=Finding.sort_key)
    return summary


def _load_model(path: str) -> Notebook | None:
    from nbhygiene.loading import NotebookLoadError, load_notebook
    from nbhygiene.model import build_model

    try:
        return build_model(load_notebook(path))
    except NotebookLoadError:
        return None


def to_finding(
    diagnostic: Diagnostic, notebook: Notebook, path: str, seen: dict[int, str] | None = None
) -> Finding | None:
    """The finding for a diagnostic, in the cell nbQA's ``cell_N`` names (the N-th code cell), at the
    cell's own line (see :func:`align_lines`; ``seen`` is what the tool read of that cell)."""
    from nbhygiene.engine import source_hash

    code_cells = notebook.code_cells
    if not 1 <= diagnostic.cell <= len(code_cells):
        return None
    cell = code_cells[diagnostic.cell - 1]
    line = align_lines(seen, cell.source).get(diagnostic.line, diagnostic.line)
    return Finding(
        code=diagnostic.code,
        rule=f"{diagnostic.tool}:{diagnostic.code}",
        severity=Severity.ERROR if diagnostic.is_syntax_error else Severity.WARNING,
        message=_redact(diagnostic.message),
        path=path,
        cell_index=cell.index,
        cell_id=cell.id,
        cell_position=cell.position,
        line=line or None,
        column=diagnostic.column,
        source_hash=source_hash(cell.source),
    )


def _redact(message: str) -> str:
    """A tool may quote source in its message: no secret may reach a report or the cache."""
    try:
        from nbhygiene.rules.secret_in_notebook import redact
    except ImportError:  # pragma: no cover - the rule ships with the core
        return message
    return redact(message)


def selector_matches(selector: str, tool: str, code: str) -> bool:
    """``external``, ``ALL``, the tool's name, or ``tool:CODE_PREFIX`` (``ruff:E``, ``ruff:E501``)."""
    selector = selector.strip()
    lowered = selector.lower()
    if lowered in ("all", "external", tool.lower()):
        return True
    prefix = tool.lower() + ":"
    if not lowered.startswith(prefix) or len(selector) == len(prefix):
        return False
    return code.upper().startswith(selector[len(prefix) :].upper())


class _Judge:
    """Decides, per external diagnostic, whether nbhygiene already says it (or knows better)."""

    def __init__(self, notebook: Notebook, findings: Iterable[Finding], config: Config) -> None:
        self.notebook = notebook
        self.config = config
        self.by_cell: dict[tuple[int, str], list[Finding]] = {}
        for finding in findings:
            if finding.cell_index is not None:
                self.by_cell.setdefault((finding.cell_index, finding.rule), []).append(finding)
        self._analysis: NotebookAnalysis | None = None
        self._ignores = [*config.ignore, *config.ignored_for_path(notebook.path)]
        meta = notebook.metadata.get("nbhygiene")
        ignore = meta.get("ignore") if isinstance(meta, dict) else None
        if ignore is True:
            self._ignores.append("ALL")
        elif isinstance(ignore, str):
            self._ignores.append(ignore)
        elif isinstance(ignore, list):
            self._ignores.extend(str(i) for i in ignore)

    @property
    def analysis(self) -> NotebookAnalysis:
        if self._analysis is None:
            from nbhygiene.engine import analyse

            self._analysis = analyse(self.notebook, self.config)
        return self._analysis

    def reported(self, cell_index: int, *rules: str) -> list[Finding]:
        return [f for rule in rules for f in self.by_cell.get((cell_index, rule), ())]

    def verdict(self, diagnostic: Diagnostic, finding: Finding) -> str:
        cell = self.notebook.cells[finding.cell_index or 0]
        if self._suppressed(diagnostic, cell, finding.line):
            return "suppressed"
        if not self.notebook.is_python:
            return "noise"  # an R or Julia notebook that nbQA took for Python (it reads language_info only)
        code = diagnostic.code
        if code in UNDEFINED_CODES:
            return self._undefined(diagnostic, cell)
        if diagnostic.is_syntax_error:
            if self.reported(cell.index, "syntax-error"):
                return "duplicate"
            parsed = self.analysis.parsed.get(cell.index)
            if parsed is not None and (
                parsed.kind == "non-python"
                or (parsed.kind == "python" and (parsed.transformed or parsed.magics or parsed.cell_magic))
            ):
                return "noise"
            return "keep"
        if code in IMPORT_POSITION_CODES:
            if self.reported(cell.index, "import-not-at-top"):
                return "duplicate"
            from nbhygiene.rules import find_rule

            rule = find_rule("import-not-at-top")
            return "noise" if rule is not None and self.config.is_enabled(rule) else "keep"
        if code in STAR_IMPORT_CODES and self.reported(cell.index, "star-import"):
            return "duplicate"
        return "keep"

    def _undefined(self, diagnostic: Diagnostic, cell: Cell) -> str:
        match = _QUOTED_NAME.search(diagnostic.message)
        if match is None:
            return "keep"
        name = match.group(1)
        quoted = f"`{name}`"
        if any(
            quoted in f.message for f in self.reported(cell.index, "undefined-name", "use-before-definition")
        ):
            return "duplicate"
        analysis = self.analysis
        if any(issue.cell.index == cell.index and issue.ref.name == name for issue in analysis.run_all):
            return "keep"  # nbhygiene agrees, but its rule is off or suppressed here
        if analysis.is_known(name) or name in analysis.definers or analysis.opaque_cells:
            return "noise"
        return "keep"

    def _suppressed(self, diagnostic: Diagnostic, cell: Cell, line: int | None) -> bool:
        tool, code = diagnostic.tool, diagnostic.code
        if any(selector_matches(s, tool, code) for s in self._ignores):
            return True
        for tag in cell.tags:
            if tag == "nbhygiene-ignore":
                return True
            if tag.startswith("nbhygiene-ignore:") and any(
                selector_matches(part, tool, code) for part in tag.split(":", 1)[1].split(",")
            ):
                return True
        lines = cell.source.splitlines()
        if "nbhygiene" not in cell.source or line is None or not 1 <= line <= len(lines):
            return False
        match = _LINE_SUPPRESSION.search(lines[line - 1])
        if match is None:
            return False
        return match.group(1) is None or any(
            selector_matches(part, tool, code) for part in match.group(1).split(",")
        )


# -- the proxy nbQA runs ------------------------------------------------------------------------------
def _proxy_main(files: Sequence[str]) -> int:
    """Run as ``python -m nbhygiene.external TMPFILE...`` by nbQA, in place of the real tool.

    Prints every line of each file nbQA built as ``TMPFILE:N:1: NBHYGIENE-SOURCE "text"`` (nbQA maps
    these to cells like any diagnostic, which tells :func:`align_lines` what the tool really read),
    then runs the tool named in the environment on the same files and passes its output and exit code on.
    """
    spec = json.loads(os.environ.get(PROXY_ENV) or "{}")
    tool = ExternalTool(str(spec.get("tool") or ""), tuple(str(a) for a in spec.get("args") or ()))
    if not tool.name:
        print(
            f"usage: set {PROXY_ENV}; this module is run by nbQA for `nbhygiene check --external`",
            file=sys.stderr,
        )
        return 2
    for name in files:
        with open(name, encoding="utf-8", errors="replace") as handle:
            for number, text in enumerate(handle.read().splitlines(), 1):
                print(f"{name}:{number}:1: {ECHO_MARK}{json.dumps(text)}")
    command = tool.argv(files)
    if command is None:
        print(f"{NOT_FOUND_MARK} {tool.name}", file=sys.stderr)
        return 3
    sys.stdout.flush()
    returncode = subprocess.run(command, check=False).returncode
    # With --nbqa-diff, nbQA exits 0 whatever the tool did: say it where run_tool can read it.
    print(f"{EXIT_MARK}{returncode}", file=sys.stderr)
    return returncode


if __name__ == "__main__":  # pragma: no cover - exercised through nbQA by tests/test_external.py
    sys.exit(_proxy_main([a for a in sys.argv[1:] if os.path.isfile(a)]))
