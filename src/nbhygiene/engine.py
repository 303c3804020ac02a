"""Checking notebooks: load, model, analyse once, dispatch to the enabled rules, apply suppressions.

``check_paths`` fans many files out over every core (``fork`` workers on Linux, so each worker starts
with the modules already imported) and consults the results cache first.
"""

from __future__ import annotations

import gc
import os
import re
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from nbhygiene.config import Config, rule_matches
from nbhygiene.findings import FileError, FileResult, Finding

if TYPE_CHECKING:  # the analysis modules are imported when a notebook is analysed, not for a cache hit
    from nbhygiene.analysis import NotebookAnalysis
    from nbhygiene.loading import LoadedNotebook
    from nbhygiene.model import Cell, Notebook
    from nbhygiene.rule import Rule

_LINE_SUPPRESSION = re.compile(r"#\s*nbhygiene:\s*ignore(?:\[([^\]]*)\])?", re.IGNORECASE)
SKIPPED_DIRECTORIES = frozenset(
    {
        ".ipynb_checkpoints",
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "node_modules",
        ".nbhygiene",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
    }
)


_enabled_cache: dict[str, list[type[Rule]]] = {}


def enabled_rules(config: Config) -> list[type[Rule]]:
    key = config.fingerprint()
    rules = _enabled_cache.get(key)
    if rules is None:
        from nbhygiene.rules import all_rules

        rules = _enabled_cache[key] = [rule for rule in all_rules() if config.is_enabled(rule)]
    return rules


def analyse(notebook: Notebook, config: Config) -> NotebookAnalysis:
    from nbhygiene.analysis import NotebookAnalysis

    return NotebookAnalysis.build(notebook, frozenset(config.builtins))


def check_notebook(
    notebook: Notebook, config: Config, rules: Sequence[type[Rule]] | None = None
) -> list[Finding]:
    """All findings for one notebook model, suppressions applied, in cell order."""
    analysis = analyse(notebook, config)
    return findings_from_analysis(analysis, config, rules)


def findings_from_analysis(
    analysis: NotebookAnalysis, config: Config, rules: Sequence[type[Rule]] | None = None
) -> list[Finding]:
    from nbhygiene.rule import Context

    notebook = analysis.notebook
    rules = enabled_rules(config) if rules is None else rules
    path_ignores = config.ignored_for_path(notebook.path)
    notebook_ignores = _notebook_ignores(notebook)
    python_ok = notebook.is_python and analysis.python2_evidence is None
    has_history = notebook.has_execution_history
    findings: list[Finding] = []
    for rule in rules:
        if rule.needs_python and not python_ok and rule.name not in ("python2-notebook",):
            continue
        if rule.needs_history and not has_history:
            continue
        if notebook_ignores is True or any(rule_matches(rule, k) for k in (*path_ignores, *notebook_ignores)):
            continue
        context = Context(analysis, config.options_for(rule))
        severity = config.severity_of(rule)
        try:
            reports = list(rule().check(context))
        except Exception as exc:  # a rule bug must not lose the other rules' findings or the run
            raise RuleCrash(rule.name, exc) from exc
        for report in reports:
            cell = report.cell
            if cell is not None and _suppressed_in_cell(cell, rule, report.line):
                continue
            findings.append(
                Finding(
                    code=rule.code,
                    rule=rule.name,
                    severity=severity,
                    message=report.message,
                    path=notebook.path,
                    cell_index=cell.index if cell else None,
                    cell_id=cell.id if cell else None,
                    cell_position=cell.position if cell else None,
                    line=report.line if cell else None,
                    column=report.column if cell else None,
                    end_line=report.end_line if cell else None,
                    end_column=report.end_column if cell else None,
                    fix=report.fix,
                    related=report.related,
                    source_hash=source_hash(cell.source) if cell else None,
                )
            )
    findings.sort(key=Finding.sort_key)
    return findings


class RuleCrash(Exception):
    def __init__(self, rule: str, error: Exception) -> None:
        super().__init__(f"rule {rule} failed: {type(error).__name__}: {error}")
        self.rule = rule


def source_hash(source: str) -> str:
    import hashlib

    return hashlib.blake2b(source.strip().encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


def _notebook_ignores(notebook: Notebook) -> Any:
    meta = notebook.metadata.get("nbhygiene")
    if not isinstance(meta, dict):
        return ()
    ignore = meta.get("ignore")
    if ignore is True:
        return True
    if isinstance(ignore, str):
        return (ignore,)
    if isinstance(ignore, list):
        return tuple(str(i) for i in ignore)
    return ()


def _suppressed_in_cell(cell: Cell, rule: type[Rule], line: int | None) -> bool:
    for tag in cell.tags:
        if tag == "nbhygiene-ignore":
            return True
        if tag.startswith("nbhygiene-ignore:") and any(
            rule_matches(rule, part) for part in tag.split(":", 1)[1].split(",")
        ):
            return True
    if line is None or "nbhygiene" not in cell.source:
        return False
    lines = cell.source.splitlines()
    if not 1 <= line <= len(lines):
        return False
    match = _LINE_SUPPRESSION.search(lines[line - 1])
    if match is None:
        return False
    if match.group(1) is None:
        return True
    return any(rule_matches(rule, part) for part in match.group(1).split(","))


# -- files ----------------------------------------------------------------------------------------
def check_loaded(loaded: LoadedNotebook, config: Config) -> FileResult:
    from nbhygiene.model import build_model

    try:
        notebook = build_model(loaded)
        findings = check_notebook(notebook, config)
    except RecursionError:
        return FileResult(
            loaded.path, error=FileError("too-complex", f"{loaded.path}: nesting too deep to analyse")
        )
    except RuleCrash as exc:
        return FileResult(
            loaded.path, error=FileError("internal-error", f"{loaded.path}: {exc} (please report this bug)")
        )
    return FileResult(loaded.path, findings)


def check_file(path: str, config: Config) -> FileResult:
    from nbhygiene.loading import NotebookLoadError, load_notebook

    try:
        loaded = load_notebook(path)
    except NotebookLoadError as exc:
        if exc.content_hash:
            result_hash[path] = exc.content_hash
        return FileResult(path, error=FileError(exc.kind, exc.message))
    result = check_loaded(loaded, config)
    result_hash[path] = loaded.content_hash
    return result


def check_data(data: Any, path: str, config: Config) -> FileResult:
    """Check notebook JSON already in memory (the server's unsaved content)."""
    from nbhygiene.loading import NotebookLoadError, loaded_from_data

    try:
        loaded = loaded_from_data(data, path)
    except NotebookLoadError as exc:
        return FileResult(path, error=FileError(exc.kind, exc.message))
    return check_loaded(loaded, config)


# Content hashes of the files checked in this process, for the cache (keyed by path).
result_hash: dict[str, str] = {}


def collect_paths(inputs: Iterable[str], config: Config) -> list[str]:
    """Notebook files named or found under directories (sorted, de-duplicated, exclusions applied).

    A file named explicitly is always checked, even when it does not end in ``.ipynb``.
    """
    found: list[str] = []
    seen: set[str] = set()
    for item in inputs:
        if os.path.isdir(item):
            for directory, subdirs, files in os.walk(item):
                subdirs[:] = sorted(
                    d
                    for d in subdirs
                    if d not in SKIPPED_DIRECTORIES and not config.is_excluded(os.path.join(directory, d))
                )
                for name in sorted(files):
                    if name.endswith(".ipynb"):
                        full = os.path.join(directory, name)
                        if not config.is_excluded(full) and full not in seen:
                            seen.add(full)
                            found.append(full)
        elif item not in seen:
            seen.add(item)
            found.append(item)
    return found


def _worker(args: tuple[str, Config]) -> tuple[FileResult, str]:
    path, config = args
    try:
        result = check_file(path, config)
    except Exception as exc:  # never let one file stop the run
        import traceback

        where = traceback.extract_tb(exc.__traceback__)[-1]
        detail = f"{type(exc).__name__}: {exc} at {os.path.basename(where.filename)}:{where.lineno}"
        message = f"{path}: internal error ({detail}); please report this bug"
        result = FileResult(path, error=FileError("internal-error", message))
    return result, result_hash.pop(path, "")


def check_paths(
    paths: Sequence[str], config: Config, jobs: int | None = None, use_cache: bool = True
) -> list[FileResult]:
    from nbhygiene.cache import ResultsCache

    cache = ResultsCache.for_config(config) if use_cache else None
    results: dict[str, FileResult] = {}
    todo: list[str] = []
    for path in paths:
        hit = cache.get(path) if cache else None
        if hit is not None:
            results[path] = hit
        else:
            todo.append(path)
    hashes: dict[str, str] = {}
    if todo:
        # Syntax trees are acyclic and die by reference counting; the cyclic collector only burns time
        # re-scanning them. It is off while checking, in the forked workers too.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            _check_all(todo, config, jobs, results, hashes)
        finally:
            if gc_was_enabled:
                gc.enable()
    if cache is not None:
        for path in todo:
            error = results[path].error
            if hashes.get(path) and (error is None or error.kind != "internal-error"):
                cache.put(path, hashes[path], results[path])
        cache.save()
    return [results[p] for p in paths]


def _check_all(
    todo: list[str], config: Config, jobs: int | None, results: dict[str, FileResult], hashes: dict[str, str]
) -> None:
    enabled_rules(config)  # import the analysis (and plugins) once, before forking workers
    import nbhygiene.analysis
    import nbhygiene.loading  # noqa: F401

    workers = _worker_count(jobs, len(todo))
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        chunk = max(1, min(4, len(todo) // (workers * 8)))
        # Biggest files first, in small chunks, so that no worker is left with a long tail.
        ordered = sorted(todo, key=_size, reverse=True)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for result, digest in pool.map(_worker, [(p, config) for p in ordered], chunksize=chunk):
                results[result.path] = result
                hashes[result.path] = digest
    else:
        for path in todo:
            result, digest = _worker((path, config))
            results[path] = result
            hashes[path] = digest


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _worker_count(jobs: int | None, files: int) -> int:
    if files < 8:
        return 1
    if jobs:
        available = jobs
    elif hasattr(os, "sched_getaffinity"):
        available = len(os.sched_getaffinity(0))
    else:
        available = os.cpu_count() or 1
    return max(1, min(available, files // 4))
