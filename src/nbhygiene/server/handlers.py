"""HTTP endpoints: each handler translates a request into a core call, and every failure into ``{code, message}``.

``POST /nbhygiene/check`` answers with the same file entry as ``nbhygiene check --format json``
(:meth:`FileResult.to_json`). Paths are API paths, relative to the server's root directory, and are
confined to it. Analysis runs on a worker thread, never on the server's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any, TypeVar

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from nbhygiene.config import ConfigError, load_config
from nbhygiene.engine import check_data, check_loaded
from nbhygiene.findings import FileError, FileResult
from nbhygiene.io import atomic_write_text
from nbhygiene.loading import NotebookLoadError, load_notebook
from nbhygiene.rules import all_rules, find_rule

log = logging.getLogger("nbhygiene.server")
T = TypeVar("T")

# Two workers: one long check does not queue every other request behind it, and CPU-bound analysis
# on more threads would only contend for the GIL.
_executor: ThreadPoolExecutor | None = None


def _worker_pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbhygiene")
    return _executor


# Extractions (which re-run the notebook in fresh kernels) take seconds to minutes: they get their own
# workers so that a check never waits behind one.
_long_executor: ThreadPoolExecutor | None = None


def _long_pool() -> ThreadPoolExecutor:
    global _long_executor
    if _long_executor is None:
        _long_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbhygiene-long")
    return _long_executor


# The analysis allocates many short-lived objects (syntax trees, data-flow facts) that refcounting frees
# as soon as the check ends. In a server, collections during a check promote them into the oldest
# generation, whose full collections then walk the whole server heap: 150 ms pauses every few checks
# (measured with benchmarks/bench_lab_latency.py). So the cyclic collector waits while checks run.
_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


async def run_blocking(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_worker_pool(), function, *args)


async def run_long(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_long_pool(), function, *args)


class ApiError(tornado.web.HTTPError):
    """An error the client can act on: an HTTP status, a stable ``code`` and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, log_message=message.replace("%", "%%"))
        self.error_code = code
        self.error_message = message


_CODES_BY_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
}


# -- paths ------------------------------------------------------------------------------------------
def resolve_path(root: str, api_path: Any, allow_hidden: bool = True, field: str = "path") -> tuple[str, str]:
    """The OS path and the normalized API path for ``api_path``, refused unless inside ``root``.

    Symbolic links are resolved before the check, so a link inside the root that points outside it is
    refused too. An absolute path is accepted only when it lies inside the root.
    """
    if not isinstance(api_path, str) or not api_path.strip():
        raise ApiError(400, "bad-request", f"'{field}' must be a non-empty string")
    if "\x00" in api_path:
        raise ApiError(400, "bad-request", f"'{field}' contains a NUL character")
    real_root = os.path.realpath(root)
    candidate = api_path if os.path.isabs(api_path) else os.path.join(root, api_path)
    candidate = os.path.normpath(candidate)
    real = os.path.realpath(candidate)
    if os.path.commonpath([real_root, real]) != real_root:
        raise ApiError(403, "path-outside-root", f"{api_path}: outside the server's root directory")
    relative = os.path.relpath(candidate, os.path.normpath(root))
    if relative.startswith(".."):  # an absolute path spelled through a symlinked root
        relative = os.path.relpath(real, real_root)
    if not allow_hidden and relative != ".":
        from jupyter_core.paths import is_hidden

        if is_hidden(real, real_root):
            raise ApiError(403, "hidden-path", f"{api_path}: hidden files are not served")
    return real, relative.replace(os.sep, "/")


# -- check ------------------------------------------------------------------------------------------
def parse_json_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "bad-json", f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "bad-json", "the request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad-request", "the request body must be a JSON object")
    return data


def check_request(root: str, body: bytes, allow_hidden: bool = True) -> dict[str, Any]:
    """Run one ``/nbhygiene/check`` request (on a worker thread) and return the file entry."""
    with collector_paused():
        return _check_request(root, body, allow_hidden)


def _check_request(root: str, body: bytes, allow_hidden: bool) -> dict[str, Any]:
    request = parse_json_body(body)
    os_path, api_path = resolve_path(root, request.get("path"), allow_hidden)
    has_content = "notebook" in request
    try:
        config = load_config(os.path.dirname(os_path))
    except ConfigError as exc:
        result = FileResult(os_path, error=FileError("config-error", str(exc)))
    else:
        try:
            if has_content:
                result = check_data(request["notebook"], os_path, config)
            else:
                try:
                    result = check_loaded(load_notebook(os_path), config)
                except NotebookLoadError as exc:
                    result = FileResult(os_path, error=FileError(exc.kind, exc.message))
        except Exception as exc:  # a bug must come back as this file's error, like the CLI reports it
            log.exception("nbhygiene: checking %s failed", api_path)
            message = f"{api_path}: internal error ({type(exc).__name__}: {exc}); please report this bug"
            result = FileResult(os_path, error=FileError("internal-error", message))
    entry = result.to_json()
    entry["path"] = api_path
    if entry["error"]:  # messages name the OS path; the client knows only the API path
        entry["error"]["message"] = entry["error"]["message"].replace(os_path, api_path)
    return entry


def rules_catalogue() -> dict[str, Any]:
    return {"rules": [rule.describe() for rule in all_rules()]}


def rule_document(name: str) -> dict[str, Any]:
    rule = find_rule(name)
    if rule is None:
        raise ApiError(404, "unknown-rule", f"unknown rule {name!r}")
    return {**rule.describe(), "doc": rule.doc(), "sections": rule.doc_sections()}


# -- extract ----------------------------------------------------------------------------------------
def _optional_string(request: dict[str, Any], key: str) -> str | None:
    value = request.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, "bad-request", f"'{key}' must be a string")
    return value


def _read_text_or_none(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def signature(result: Any) -> str | None:
    """``name(params) -> returns``, the inferred signature the dialog shows."""
    if not result.functions:
        return None
    if result.functions[0].function is None:
        return "definitions: " + ", ".join(result.functions[0].helpers)
    text = f"{result.function}({', '.join(result.params)})"
    return f"{text} -> {', '.join(result.returns)}" if result.returns else text


def extract_request(root: str, body: bytes, allow_hidden: bool = True) -> dict[str, Any]:
    """Run one ``/nbhygiene/extract`` request (on a worker thread).

    The notebook is read from disk (the front end saves it first) and never written here: the reply
    carries the rewritten notebook, which the front end applies through the document model, so undo
    works and nothing on disk is overwritten behind the editor. The module is written here, atomically,
    and only when the extraction is verified (or ``verify`` is off) and the module did not change
    meanwhile. With ``preview`` nothing runs and nothing is written: the reply says what would move.
    """
    from nbhygiene.extract import ExtractUsageError, extract_cells

    request = parse_json_body(body)
    notebook_file, notebook_path = resolve_path(root, request.get("path"), allow_hidden)
    module_file, module_path = resolve_path(root, request.get("module"), allow_hidden, field="module")
    if not module_path.endswith(".py"):
        raise ApiError(400, "bad-request", "'module' must name a .py file")
    cells = _optional_string(request, "cells")
    tag = _optional_string(request, "tag")
    function = _optional_string(request, "function")
    preview = bool(request.get("preview", False))
    verify = bool(request.get("verify", True)) and not preview
    before = _read_text_or_none(module_file)
    try:
        result = extract_cells(
            notebook_file,
            cells=cells,
            tag=tag,
            module=module_file,
            function=function,
            in_place=True,
            verify=verify,
            dry_run=True,
        )
    except ExtractUsageError as exc:
        raise ApiError(400, "extract-usage", str(exc).replace(notebook_file, notebook_path)) from None
    reply: dict[str, Any] = {
        **result.to_json(),
        "module": module_path,
        "notebook": notebook_path,
        "signature": signature(result),
        "refusal": None,
        "notes": list(result.notes),
        "compared_cells": result.compared_cells,
        "compared_values": result.compared_values,
        "written": [],
        "notebook_content": None,
    }
    if result.refusal is not None:
        reply["refusal"] = {
            "message": result.refusal.message,
            "position": result.refusal.position,
            "line": result.refusal.line,
        }
    if preview or not result.ok:
        return reply
    if _read_text_or_none(module_file) != before:
        reply.update(
            status="failed", reason=f"{module_path} changed while nbhygiene was working; nothing was written"
        )
        reply["differences"] = [reply["reason"]]
        return reply
    if result.module_text is not None and result.module_text != before:
        atomic_write_text(module_file, result.module_text)
        reply["written"].append(module_path)
    reply["notebook_content"] = result.notebook_data
    return reply


# -- runs -------------------------------------------------------------------------------------------
# Runs started from the lab execute on the long-work threads; until the store has a row for them (and
# if they fail before it does) they are known only here, per notebook.
_pending_lock = threading.Lock()
_pending: dict[str, list[dict[str, Any]]] = {}


def _store_for(notebook_file: str) -> Any:
    from nbhygiene.jobs.store import RunStore, find_store_dir

    return RunStore(find_store_dir(start=os.path.dirname(notebook_file)))


def _api_path_or_none(root: str, path: Any) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        return None
    return os.path.relpath(real, real_root).replace(os.sep, "/")


def _public_run(root: str, run: dict[str, Any]) -> dict[str, Any]:
    """A run as the CLI's JSON shows it, with file paths as API paths (null outside the server root)."""
    metrics = {}
    for name, value in (run.get("metrics") or {}).items():
        if isinstance(value, dict) and set(value) == {"figure"}:
            value = {"figure": _api_path_or_none(root, value["figure"])}
        metrics[name] = value
    return {**run, "metrics": metrics, "output_notebook": _api_path_or_none(root, run.get("output_notebook"))}


def _jobs_error(exc: Exception) -> ApiError:
    from nbhygiene.jobs.notebook_info import MissingParametersCell

    code = "missing-parameters-cell" if isinstance(exc, MissingParametersCell) else "run-error"
    return ApiError(400, code, str(exc))


def runs_for_notebook(root: str, api_path: Any, allow_hidden: bool = True) -> dict[str, Any]:
    """``GET /nbhygiene/runs?path=``: the notebook's parameters (for the form) and its run history."""
    from nbhygiene.jobs.errors import StoreError, UsageError
    from nbhygiene.jobs.history import list_runs
    from nbhygiene.jobs.notebook_info import load_notebook_info

    notebook_file, notebook_path = resolve_path(root, api_path, allow_hidden)
    try:
        info = load_notebook_info(notebook_file)
    except UsageError as exc:
        raise _jobs_error(exc) from None
    store = _store_for(notebook_file)
    try:
        runs = list_runs(store, notebook=notebook_file, status=None, limit=100)
    except (UsageError, StoreError) as exc:
        raise _jobs_error(exc) from None
    finally:
        store.close()
    with _pending_lock:
        pending = [dict(entry) for entry in _pending.get(notebook_file, [])]
    return {
        "notebook": notebook_path,
        "store": _api_path_or_none(root, store.path),
        "parameters": {
            "cell_index": info.parameters_cell_index,
            "defaults": info.defaults,
            "computed": info.computed_defaults,
        },
        "runs": [_public_run(root, run) for run in runs],
        "pending": pending,
    }


def run_document(root: str, api_path: Any, run_id: str, allow_hidden: bool = True) -> dict[str, Any]:
    """``GET /nbhygiene/runs/<id>?path=``: ``nbhygiene runs show`` for a run of this notebook's store."""
    from nbhygiene.jobs.errors import StoreError, UsageError
    from nbhygiene.jobs.history import show_run

    notebook_file, _ = resolve_path(root, api_path, allow_hidden)
    store = _store_for(notebook_file)
    try:
        document = show_run(store, run_id, None)
    except UsageError as exc:
        raise ApiError(404, "unknown-run", str(exc)) from None
    except StoreError as exc:
        raise _jobs_error(exc) from None
    finally:
        store.close()
    document["run"] = _public_run(root, document["run"])
    document["notebook"] = _api_path_or_none(root, os.path.join(store.root, document.get("notebook") or ""))
    document["paths"] = {key: _api_path_or_none(root, value) for key, value in document["paths"].items()}
    return document


def run_output(root: str, api_path: Any, run_id: str, allow_hidden: bool = True) -> dict[str, Any]:
    """``GET /nbhygiene/runs/<id>/output?path=``: the run's output notebook, for the lab's read-only view
    (the store usually sits in a hidden folder, which the contents API does not serve)."""
    from nbhygiene.jobs.errors import StoreError, UsageError
    from nbhygiene.loading import NotebookLoadError, load_notebook

    notebook_file, _ = resolve_path(root, api_path, allow_hidden)
    store = _store_for(notebook_file)
    try:
        output = store.paths(store.resolve_id(run_id)).output_notebook
    except (UsageError, StoreError) as exc:
        raise ApiError(404, "unknown-run", str(exc)) from None
    finally:
        store.close()
    try:
        loaded = load_notebook(output)
    except NotebookLoadError as exc:
        raise ApiError(404, "no-output", f"run {run_id} has no output notebook ({exc.kind})") from None
    return {"path": _api_path_or_none(root, output), "notebook": loaded.data}


def validate_run_request(
    root: str, body: bytes, allow_hidden: bool = True
) -> tuple[str, dict[str, Any], bool]:
    """Check a ``POST /nbhygiene/runs`` request before it is queued: a run that cannot start says so now."""
    from nbhygiene.jobs.errors import UsageError
    from nbhygiene.jobs.notebook_info import load_notebook_info
    from nbhygiene.jobs.params import check_json_value, check_name

    request = parse_json_body(body)
    notebook_file, _ = resolve_path(root, request.get("path"), allow_hidden)
    params = request.get("params", {})
    if not isinstance(params, dict):
        raise ApiError(400, "bad-request", "'params' must be an object of parameter name to value")
    try:
        for name, value in params.items():
            check_name(name, "params")
            check_json_value(value, f"params.{name}")
        load_notebook_info(notebook_file).require_parameters_cell()
    except UsageError as exc:
        raise _jobs_error(exc) from None
    return notebook_file, params, bool(request.get("force", False))


def execute_run(notebook_file: str, params: dict[str, Any], force: bool, entry: dict[str, Any]) -> None:
    """Run the notebook as a versioned job (on a long-work thread); the store records the outcome."""
    from nbhygiene.jobs.batch import BatchOptions, run_batch

    store = _store_for(notebook_file)
    try:
        result = run_batch(
            store,
            notebook_file,
            [params],
            inputs=[],
            cwd=None,
            options=BatchOptions(jobs=1, force=force),
            progress_enabled=False,
            origin="lab",
        )
        log.info("nbhygiene: run of %s: %s", notebook_file, [r.get("status") for r in result.runs])
        finished: dict[str, Any] | None = None
    except Exception as exc:  # recorded for the history view: the store may hold nothing about it
        log.exception("nbhygiene: run of %s failed to start", notebook_file)
        finished = {**entry, "state": "error", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        store.close()
    with _pending_lock:
        entries = [e for e in _pending.get(notebook_file, []) if e is not entry]
        if finished is not None:
            entries.append(finished)
        _pending[notebook_file] = entries[-5:]


# -- handlers ---------------------------------------------------------------------------------------
class NbhygieneHandler(APIHandler):
    """Every reply, errors included, is JSON; errors are ``{"code": ..., "message": ...}``."""

    @property
    def root_dir(self) -> str:
        root = getattr(self.contents_manager, "root_dir", None) or self.settings.get("server_root_dir", ".")
        return os.path.abspath(os.path.expanduser(root))

    @property
    def allow_hidden(self) -> bool:
        return bool(getattr(self.contents_manager, "allow_hidden", True))

    def reply(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, ApiError):
            code, message = error.error_code, error.error_message
        elif isinstance(error, tornado.web.HTTPError):
            code = _CODES_BY_STATUS.get(status_code, "http-error")
            message = error.log_message or error.reason or HTTPStatus(status_code).phrase
            if error.args:
                message = message % error.args
        else:
            code, message = "internal-error", "internal server error (see the server log)"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"code": code, "message": message}))


class CheckHandler(NbhygieneHandler):
    auth_resource = "contents"

    @tornado.web.authenticated
    @authorized(action="read")
    async def post(self) -> None:
        self.reply(await run_blocking(check_request, self.root_dir, self.request.body, self.allow_hidden))


class ExtractHandler(NbhygieneHandler):
    auth_resource = "contents"

    @tornado.web.authenticated
    @authorized(action="write")
    async def post(self) -> None:
        self.reply(await run_long(extract_request, self.root_dir, self.request.body, self.allow_hidden))


class RunsHandler(NbhygieneHandler):
    @tornado.web.authenticated
    @authorized(action="read", resource="contents")
    async def get(self) -> None:
        path = self.get_query_argument("path", None)
        self.reply(await run_blocking(runs_for_notebook, self.root_dir, path, self.allow_hidden))

    @tornado.web.authenticated
    @authorized(action="execute", resource="kernels")
    async def post(self) -> None:
        notebook_file, params, force = await run_blocking(
            validate_run_request, self.root_dir, self.request.body, self.allow_hidden
        )
        from nbhygiene.jobs.files import now_iso

        entry = {"params": params, "started_at": now_iso(), "state": "starting", "error": None}
        with _pending_lock:
            _pending.setdefault(notebook_file, []).append(entry)
        # Not awaited: the run outlives this request; the history view polls the store.
        _long_pool().submit(execute_run, notebook_file, params, force, entry)
        self.set_status(202)
        self.reply({"accepted": True, "params": params})


class RunHandler(NbhygieneHandler):
    @tornado.web.authenticated
    @authorized(action="read", resource="contents")
    async def get(self, run_id: str) -> None:
        path = self.get_query_argument("path", None)
        self.reply(await run_blocking(run_document, self.root_dir, path, run_id, self.allow_hidden))


class RunOutputHandler(NbhygieneHandler):
    @tornado.web.authenticated
    @authorized(action="read", resource="contents")
    async def get(self, run_id: str) -> None:
        path = self.get_query_argument("path", None)
        self.reply(await run_blocking(run_output, self.root_dir, path, run_id, self.allow_hidden))


class RulesHandler(NbhygieneHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply(rules_catalogue())


class RuleHandler(NbhygieneHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        self.reply(rule_document(name))


def setup_handlers(web_app: Any) -> None:
    base_url = web_app.settings["base_url"]
    routes: list[tuple[str, type[NbhygieneHandler]]] = [
        ("check", CheckHandler),
        ("extract", ExtractHandler),
        ("runs", RunsHandler),
        ("runs/([^/]+)", RunHandler),
        ("runs/([^/]+)/output", RunOutputHandler),
        ("rules", RulesHandler),
        ("rules/([^/]+)", RuleHandler),
    ]
    web_app.add_handlers(
        ".*$", [(url_path_join(base_url, "nbhygiene", path), handler) for path, handler in routes]
    )
