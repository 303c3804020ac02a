"""``nbhygiene check --execute``: restart and run all, then compare every cell with what the file saved.

Each notebook runs top to bottom in a fresh kernel through the run executor (:mod:`nbhygiene.jobs`,
imported lazily: the core never imports nbclient or papermill). The kernel is the one the notebook names
(``metadata.kernelspec.name``) and its working directory is the notebook's own, as in Jupyter, so
relative data paths resolve; the executed notebook is written only to a temporary file, or to
``--save-executed DIR``. Like "Run All", the run stops at the first error.

Every code cell that ran is compared with its saved outputs, channel by channel: stdout, stderr,
displayed values (``text/plain``, else ``text/html``, else the MIME types), images, errors (type and
message) and success. Known-volatile content is normalised first (see :func:`normalize_text`):

* ``%time``/``%%time`` lines (``CPU times: ...``, ``Wall time: ...``) and ``%timeit`` results;
* terminal colours (ANSI escapes);
* memory addresses (``0x7f3a...``) and default reprs (``<X at 0x...>`` and ``<X object>`` are one), temporary paths (``/tmp/...``, ``/var/folders/...``) and
  IPython's cell file names (``/tmp/ipykernel_123/456.py``, ``<ipython-input-...>``);
* progress bars: text before a ``\\r`` is overwritten (as a terminal shows it), and tqdm-style bar
  lines are dropped;
* warnings: ``/path/file.py:12: FooWarning: text`` becomes ``FooWarning: text`` and the echoed source
  line under it is dropped;
* dates and times (``2024-05-01``, ``12:03:44``, ISO timestamps).
* ``pip install`` reports (``Requirement already satisfied: ...``, ``Successfully installed ...``):
  they describe the environment, not the notebook.

Images (PNG/JPEG) are compared structurally, never by bytes: the same size (within 2 pixels) and, when
Pillow is installed, a mean absolute difference of the 32x32 grayscale thumbnails under
:data:`IMAGE_THRESHOLD` (fonts and anti-aliasing differ between machines). Without Pillow, only the
PNG size is compared. Widget views are not compared (their model ids are fresh each run).

Output comparison is our own, not :mod:`nbhygiene.extract.verify`'s: that module compares two fresh runs
(and images by hash, which cannot match a notebook saved on another machine); here one side is the
saved file, written by another kernel on another day.

A notebook that stops for an external reason (a missing package or data file, no network, no kernel,
the timeout) is reported by ``cannot-execute``, not as a reproducibility failure; a cell that now
fails with such an error while its saved output had the same error reproduces.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbhygiene.findings import FileError, FileResult, Finding
from nbhygiene.rules.not_reproducible import CellReplay, ExecutionResult, attach_execution_result

if TYPE_CHECKING:
    from nbhygiene.analysis import NotebookAnalysis
    from nbhygiene.config import Config
    from nbhygiene.model import Notebook

DEFAULT_TIMEOUT = 600.0
IMAGE_THRESHOLD = 0.06  # mean |difference| of 32x32 grayscale thumbnails, on a 0-1 scale
EXECUTION_RULES = frozenset({"not-reproducible", "cannot-execute"})
# Errors that say the environment lacks something the notebook needs, not that the notebook is wrong.
EXTERNAL_ERRORS = frozenset(
    {
        "ModuleNotFoundError",
        "ImportError",
        "FileNotFoundError",
        "ConnectionError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "ConnectTimeout",
        "ConnectTimeoutError",
        "NewConnectionError",
        "MaxRetryError",
        "URLError",
        "gaierror",
        "HTTPError",
        "SSLError",
    }
)
# Static rules whose findings can explain a difference at the cell they name.
EXPLAINING_RULES = (
    "use-before-definition",
    "undefined-name",
    "execution-order",
    "stale-output",
    "non-idempotent-cell",
    "unseeded-randomness",
    "unexecuted-cell",
    "kernel-not-fresh",
    "saved-error-output",
    "syntax-error",
    "python2-notebook",
)
# ... and those that also explain differences in the cells that read what they define.
UPSTREAM_RULES = frozenset({"unseeded-randomness", "non-idempotent-cell"})
NAME_ERRORS = frozenset({"NameError", "UnboundLocalError"})

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
# IPython's default repr of a display object changed from `<X at 0x...>` to `<X object>`.
_DEFAULT_REPR = re.compile(r"<([\w.]+)(?: object at 0x\?| at 0x\?| object)>")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CELL_FILE = re.compile(r"/tmp/ipykernel_\d+/\d+\.py|<ipython-input-[^>]*>|Cell In\[\d+\]")
_TEMP_PATH = re.compile(
    r"(?:/tmp|/var/tmp|/private/var/folders|/var/folders|[A-Za-z]:\\Users\\[^\\]+\\AppData\\Local\\Temp)"
    r"[/\\][^\s'\"(),:]*"
)
_TIMING = re.compile(r"^\s*(?:CPU times: .*|Wall time: .*)$")
_TIMEIT = re.compile(
    r"^\s*[\d.]+ [nµu]?m?s ± [\d.]+ [nµu]?m?s per loop \(mean ± std\. dev\. of \d+ runs?, [\d,]+ loops? each\)$"
    r"|^\s*\d+ loops?, best of \d+: [\d.]+ [nµu]?m?s per loop$"
)
_PROGRESS = re.compile(r"\d+%\|.*\|")
# pip's report of what it found or installed depends on the environment's state, not on the notebook.
_PIP = re.compile(
    r"^\s*(?:Looking in (?:indexes|links): |Requirement already satisfied: |Collecting |Downloading |"
    r"Using cached |Obtaining |Installing collected packages: |Successfully (?:installed|uninstalled) |"
    r"Attempting uninstall: |Found existing installation: |Uninstalling |Preparing metadata |"
    r"Installing build dependencies|Getting requirements to build |Building wheels? |Created wheel |"
    r"Stored in directory: |\[notice\] |Note: you may need to restart the kernel|"
    r"WARNING: Running pip as |DEPRECATION: |ERROR: pip's dependency resolver)"
)
_WARNING = re.compile(r"^\S.*?:\d+: (\w*(?:Warning|Error)\w*: .*)$")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_TIME = re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b")


# -- normalisation --------------------------------------------------------------------------------
def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _overwrite_carriage_returns(text: str) -> str:
    """What a terminal shows: text before a ``\\r`` on the same line is overwritten."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(line.rsplit("\r", 1)[-1] if "\r" in line else line for line in lines)


def normalize_text(text: str) -> list[str]:
    """The lines of an output text, volatile content replaced (documented in the module docstring)."""
    out: list[str] = []
    skip_echo = False
    for line in _overwrite_carriage_returns(_ANSI.sub("", text)).split("\n"):
        if skip_echo and line.startswith((" ", "\t")):
            skip_echo = False
            continue
        skip_echo = False
        if _TIMING.match(line) or _TIMEIT.match(line) or _PROGRESS.search(line) or _PIP.match(line):
            continue
        warning = _WARNING.match(line)
        if warning:
            line = warning.group(1)
            skip_echo = True
        line = _CELL_FILE.sub("<cell>", line)
        line = _TEMP_PATH.sub("<tmp>", line)
        line = _DEFAULT_REPR.sub(r"<\1 object>", _ADDRESS.sub("0x?", line))
        line = _DATETIME.sub("<datetime>", line)
        line = _DATE.sub("<date>", line)
        line = _TIME.sub("<time>", line)
        out.append(line.rstrip())
    while out and not out[-1]:
        out.pop()
    return out


def _image_size(raw: bytes) -> tuple[int, int] | None:
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24:
        return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    return None


def images_match(saved: str, fresh: str) -> bool:
    """Two base64 images show the same picture: same size (within 2 px), similar grayscale thumbnail."""
    try:
        first, second = base64.b64decode(saved), base64.b64decode(fresh)
    except (ValueError, TypeError):
        return saved == fresh
    try:
        from PIL import Image
    except ImportError:  # structural only: the PNG header's size
        a, b = _image_size(first), _image_size(second)
        return a is not None and b is not None and all(abs(x - y) <= 2 for x, y in zip(a, b, strict=True))
    try:
        with Image.open(io.BytesIO(first)) as one, Image.open(io.BytesIO(second)) as two:
            if any(abs(x - y) > 2 for x, y in zip(one.size, two.size, strict=True)):
                return False
            small_one = one.convert("L").resize((32, 32)).tobytes()
            small_two = two.convert("L").resize((32, 32)).tobytes()
    except Exception:  # an image Pillow cannot read: fall back to its bytes
        return first == second
    difference = sum(abs(x - y) for x, y in zip(small_one, small_two, strict=True))
    return difference / (255 * len(small_one)) <= IMAGE_THRESHOLD


@dataclass(slots=True)
class Outputs:
    """One cell's outputs, normalised, by channel."""

    stdout: list[str]
    stderr: list[str]
    displays: list[tuple[str, str]]  # (kind, value): kind "text" (normalised) or an image MIME type
    error: tuple[str, str] | None  # (ename, normalised evalue)


def cell_outputs(outputs: Sequence[dict[str, Any]]) -> Outputs:
    stdout, stderr = "", ""
    displays: list[tuple[str, str]] = []
    error: tuple[str, str] | None = None
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            if output.get("name") == "stderr":
                stderr += _text(output.get("text"))
            else:
                stdout += _text(output.get("text"))
        elif kind in ("display_data", "execute_result"):
            data = output.get("data") or {}
            if any(mime.startswith("application/vnd.jupyter.widget") for mime in data):
                continue
            image = next((m for m in ("image/png", "image/jpeg", "image/gif") if m in data), None)
            if image is not None:
                displays.append((image, _text(data[image]).replace("\n", "")))
            elif "text/plain" in data:
                displays.append(("text", "\n".join(normalize_text(_text(data["text/plain"])))))
            elif "text/html" in data:
                displays.append(("text", "\n".join(normalize_text(_text(data["text/html"])))))
            else:
                displays.append(("text", ", ".join(sorted(data))))
        elif kind == "error" and error is None:
            evalue = "\n".join(normalize_text(str(output.get("evalue") or "")))
            error = (str(output.get("ename") or "Error"), evalue)
    return Outputs(normalize_text(stdout), normalize_text(stderr), displays, error)


def _short(text: str, limit: int = 100) -> str:
    text = text.replace("\n", "\\n")
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _first_line_difference(name: str, saved: list[str], fresh: list[str]) -> str | None:
    for number, (a, b) in enumerate(zip(saved, fresh, strict=False), 1):
        if a != b:
            return f"{name} line {number}: saved {_short(a)}, now {_short(b)}"
    if len(saved) > len(fresh):
        return f"{name} line {len(fresh) + 1}: saved {_short(saved[len(fresh)])}, now nothing"
    if len(fresh) > len(saved):
        return f"{name} line {len(saved) + 1}: saved nothing, now {_short(fresh[len(saved)])}"
    return None


def differences(saved: Outputs, fresh: Outputs) -> list[str]:
    """The first difference of each channel, in reading order; empty when the cell reproduces."""
    found: list[str] = []
    if saved.error != fresh.error:
        if fresh.error is None:
            assert saved.error is not None
            found.append(f"saved error {saved.error[0]}: {_short(saved.error[1])} no longer raised")
        else:
            before = f"{saved.error[0]}: {_short(saved.error[1])}" if saved.error else "no error"
            found.append(f"now raises {fresh.error[0]}: {_short(fresh.error[1])} (saved: {before})")
    for name, one, two in (("stdout", saved.stdout, fresh.stdout), ("stderr", saved.stderr, fresh.stderr)):
        diff = _first_line_difference(name, one, two)
        if diff:
            found.append(diff)
    for number, (a, b) in enumerate(zip(saved.displays, fresh.displays, strict=False), 1):
        if a[0] != b[0]:
            found.append(f"output {number}: saved {a[0]}, now {b[0]}")
            break
        if a[0] == "text":
            diff = _first_line_difference(f"output {number}", a[1].split("\n"), b[1].split("\n"))
            if diff:
                found.append(diff)
                break
        elif not images_match(a[1], b[1]):
            found.append(f"output {number}: the {a[0]} image differs (size or content)")
            break
    else:
        if len(saved.displays) != len(fresh.displays):
            found.append(f"{len(saved.displays)} displayed output(s) saved, {len(fresh.displays)} now")
    return found


# -- explanations ---------------------------------------------------------------------------------
def _link(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "code": finding.code,
        "cell_index": finding.cell_index,
        "cell_position": finding.cell_position,
        "line": finding.line,
    }


def explain(
    analysis: NotebookAnalysis, static: Sequence[Finding], cell_index: int, fresh: Outputs
) -> list[Finding]:
    """The static findings that explain why ``cell_index`` did not reproduce, most specific first."""
    at_cell = [f for f in static if f.cell_index == cell_index and f.rule in EXPLAINING_RULES]
    if fresh.error is not None and fresh.error[0] == "SyntaxError":  # Python 2 code in a Python 3 kernel
        at_cell += [f for f in static if f.cell_index is None and f.rule == "python2-notebook"]
    at_cell.sort(key=lambda f: EXPLAINING_RULES.index(f.rule))
    if fresh.error is not None and fresh.error[0] in NAME_ERRORS:
        match = re.search(r"'([^']+)'", fresh.error[1])
        name = match.group(1) if match else None
        named = [
            f
            for f in at_cell
            if f.rule in ("use-before-definition", "undefined-name") and name and f"`{name}`" in f.message
        ]
        if named:
            return named
    flow = analysis.flows.get(cell_index)
    upstream: set[int] = set()
    if flow is not None:
        for ref in flow.reads:
            upstream.update(i for i in analysis.definers.get(ref.name, ()) if i != cell_index)
    inherited = [f for f in static if f.cell_index in upstream and f.rule in UPSTREAM_RULES]
    inherited.sort(key=Finding.sort_key)
    return [*at_cell, *inherited]


def _describe(finding: Finding) -> str:
    line = f" line {finding.line}" if finding.line else ""
    return f"{finding.rule} ({finding.code}) at cell {finding.cell_position}{line}"


# -- execution ------------------------------------------------------------------------------------
def _kernel_name(data: dict[str, Any]) -> str:
    """The kernel the notebook names; a Python notebook whose named kernel (often a per-project venv
    name such as ``conda-env-ml-py``) is not installed here runs in ``python3``, the current environment."""
    metadata = data.get("metadata") or {}
    wanted = str((metadata.get("kernelspec") or {}).get("name") or "python3")
    language = str((metadata.get("kernelspec") or {}).get("language") or "")
    language = language or str((metadata.get("language_info") or {}).get("name") or "python")
    if wanted == "python3" or language.lower() != "python":
        return wanted
    try:
        from jupyter_client.kernelspec import find_kernel_specs

        installed = find_kernel_specs()
    except Exception:  # a broken jupyter installation: let start_kernel say so
        return wanted
    return wanted if wanted in installed else "python3"


@dataclass(slots=True)
class FreshRun:
    """The executed notebook (None when nothing ran) and why the run stopped early for external reasons."""

    notebook: dict[str, Any] | None
    blocker: str | None = None
    blocked_cell: int | None = None


async def execute_copy(
    data: dict[str, Any], path: str, timeout: float, output_path: str, log_dir: str
) -> FreshRun:
    """Execute ``data`` (the notebook at ``path``) in a fresh kernel in the notebook's directory."""
    from nbhygiene.jobs.errors import ExecutionSetupError
    from nbhygiene.jobs.execution import RunSpec, execute_run
    from nbhygiene.jobs.kernels import shutdown_kernel, start_kernel

    kernel_name = _kernel_name(data)
    cwd = os.path.dirname(os.path.abspath(path)) or "."
    cells = data.get("cells") or []
    spec = RunSpec(
        run_id=os.path.basename(path),
        label=path,
        notebook=data,
        cell_map=list(range(len(cells))),
        source_cell_ids=[c.get("id") for c in cells],
        kernel_name=kernel_name,
        cwd=cwd,
        timeout=timeout,
        output_path=output_path,
        error_markers=False,
    )
    try:
        kernel = await start_kernel(kernel_name, cwd, log_dir=log_dir)
    except ExecutionSetupError as exc:
        return FreshRun(None, str(exc))
    try:
        outcome = await execute_run(spec, kernel)
    finally:
        await shutdown_kernel(kernel, now=True)
    executed = dict(outcome.notebook) if outcome.notebook is not None else None
    error = outcome.error or {}
    if outcome.status == "timeout":
        return FreshRun(executed, f"{error.get('message')} (--timeout)", error.get("cell_index"))
    if outcome.status != "succeeded" and error.get("kind") != "cell-error":
        return FreshRun(executed, str(error.get("message") or outcome.status), error.get("cell_index"))
    return FreshRun(executed)


def compare_run(
    notebook: Notebook, analysis: NotebookAnalysis, static: Sequence[Finding], run: FreshRun
) -> ExecutionResult:
    """Compare the saved cells with the fresh run; what ``not-reproducible``/``cannot-execute`` report."""
    if run.notebook is None:
        return ExecutionResult(blocker=run.blocker or "the notebook could not be executed")
    fresh_cells = run.notebook.get("cells") or []
    code_indexes = [c.index for c in notebook.cells if c.is_code]
    replays: list[CellReplay] = []
    blocker, blocked_cell = run.blocker, run.blocked_cell
    for cell in notebook.cells:
        if not cell.is_code or cell.index >= len(fresh_cells):
            continue
        fresh_cell = fresh_cells[cell.index]
        status = ((fresh_cell.get("metadata") or {}).get("papermill") or {}).get("status")
        if status not in ("completed", "failed") or cell.index == run.blocked_cell:
            continue  # never reached (Run All stopped before it), or stopped by the timeout
        saved = cell_outputs(cell.outputs)
        fresh = cell_outputs(fresh_cell.get("outputs") or [])
        if cell.execution_count is None and not cell.outputs and fresh.error is None:
            continue  # never run when saved: nothing to reproduce, and it runs cleanly now
        found = differences(saved, fresh)
        later = sum(1 for i in code_indexes if i > cell.index)
        if fresh.error is not None and fresh.error[0] in EXTERNAL_ERRORS and blocker is None:
            # Also when the saved output shows the same error: the cells after it were not checked.
            blocker = f"{fresh.error[0]}: {fresh.error[1]}" + (
                f"; Run All stops here, so {later} later code cell(s) were not checked" if later else ""
            )
            blocked_cell = cell.index
            continue
        if not found:
            continue
        links = explain(analysis, static, cell.index, fresh)
        message = "Not reproducible on a fresh run: " + "; ".join(found[:2])
        if fresh.error is not None and later:
            message += f"; Run All stops here, so {later} later code cell(s) did not run"
        if links:
            message += "; explained by " + ", ".join(_describe(f) for f in links[:3])
        line = next((f.line for f in links if f.cell_index == cell.index and f.line), None)
        replays.append(CellReplay(cell.index, message, line, tuple(_link(f) for f in links)))
    return ExecutionResult(tuple(replays), blocker, blocked_cell)


def _saved_name(path: str, save_dir: str, taken: set[str]) -> str:
    base = os.path.splitext(os.path.basename(path))[0]
    name, number = f"{base}.ipynb", 1
    while name in taken:
        number += 1
        name = f"{base}-{number}.ipynb"
    taken.add(name)
    return os.path.join(save_dir, name)


async def _check_one(
    path: str, config: Config, timeout: float, output_path: str, log_dir: str, gate: asyncio.Semaphore
) -> FileResult:
    from nbhygiene.engine import RuleCrash, analyse, findings_from_analysis
    from nbhygiene.loading import NotebookLoadError, load_notebook
    from nbhygiene.model import build_model
    from nbhygiene.rules import all_rules

    try:
        loaded = load_notebook(path)
    except NotebookLoadError as exc:
        return FileResult(path, error=FileError(exc.kind, exc.message))
    try:
        notebook = build_model(loaded)
        analysis = analyse(notebook, config)
        # Every static rule runs (not only the selected ones) so that a difference can name its cause.
        static_rules = [rule for rule in all_rules() if rule.name not in EXECUTION_RULES]
        static = findings_from_analysis(analysis, config, static_rules)
    except RuleCrash as exc:
        return FileResult(path, error=FileError("internal-error", f"{path}: {exc} (please report this bug)"))
    except RecursionError:
        return FileResult(path, error=FileError("too-complex", f"{path}: nesting too deep to analyse"))
    async with gate:
        run = await execute_copy(dict(loaded.data), path, timeout, output_path, log_dir)
    attach_execution_result(analysis, compare_run(notebook, analysis, static, run))
    dynamic_rules = [rule for rule in all_rules() if rule.name in EXECUTION_RULES and config.is_enabled(rule)]
    enabled = {rule.name for rule in all_rules() if config.is_enabled(rule)}
    findings = [f for f in static if f.rule in enabled]
    findings.extend(findings_from_analysis(analysis, config, dynamic_rules))
    findings.sort(key=Finding.sort_key)
    return FileResult(path, findings)


def check_paths_executed(
    paths: Sequence[str],
    config: Config,
    *,
    jobs: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    save_dir: str | None = None,
) -> list[FileResult]:
    """``check`` plus a fresh run of each notebook; ``jobs`` notebooks run at once (default: cores)."""
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="nbhygiene-execute-")
    taken: set[str] = set()
    outputs = [_saved_name(p, save_dir or scratch, taken) for p in paths]

    async def run_all() -> list[FileResult]:
        gate = asyncio.Semaphore(max(1, jobs or os.cpu_count() or 1))
        return list(
            await asyncio.gather(
                *(
                    _check_one(p, config, timeout or DEFAULT_TIMEOUT, out, scratch, gate)
                    for p, out in zip(paths, outputs, strict=True)
                )
            )
        )

    try:
        return asyncio.run(run_all())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
