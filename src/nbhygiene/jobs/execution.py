"""Executing one run's notebook in one started kernel.

The cell loop is papermill's (``PapermillNotebookClient.papermill_execute_cells``) rewritten on nbclient's
async API so that many runs share one event loop, with papermill's metadata (``metadata.papermill`` on
the notebook and every cell) and its error marker cells, so tools that read papermill output read ours.
Three things differ on purpose:

* a whole-notebook timeout (nbclient only has a per-cell one) that kills the kernel's process group;
* after a kernel death, a timeout or an interruption, the cell that was running is marked ``failed`` and
  the cells after it stay ``pending`` -- papermill marks them all "completed";
* the output notebook is saved atomically, at most about once a second while cells run and once, durably,
  at the end, so a crash keeps the partial output without a save per output message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nbhygiene.jobs.files import now_iso, utc_now, write_notebook_json
from nbhygiene.jobs.kernels import StartedKernel

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
SAVE_INTERVAL_S = 1.0
PENDING, RUNNING, COMPLETED, FAILED = "pending", "running", "completed", "failed"
# papermill's error markers (papermill.execute), repeated here so a run without papermill installed for
# the reader still produces the same document.
ERROR_MARKER_TAG = "papermill-error-cell-tag"
_ERROR_STYLE = 'style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;"'
_ERROR_MESSAGE = f"<span {_ERROR_STYLE}>An Exception was encountered at '<a href=\"#papermill-error-cell\">In [%s]</a>'.</span>"
_ERROR_ANCHOR = (
    f'<span id="papermill-error-cell" {_ERROR_STYLE}>'
    "Execution using papermill encountered an exception here and stopped:"
    "</span>"
)

EventCallback = Callable[[str, str, dict[str, Any]], None]  # (run_id, event, data)

_quiet_log = logging.getLogger("nbhygiene.jobs.nbclient")
_quiet_log.addHandler(logging.NullHandler())
_quiet_log.propagate = False


@dataclass(slots=True)
class RunSpec:
    """Everything an executor needs for one attempt of one run. Picklable (Dask sends it to workers)."""

    run_id: str
    label: str
    notebook: dict[str, Any]  # parameterized, ready to execute
    cell_map: list[int | None]  # output cell index -> source cell index (None: the injected cell)
    source_cell_ids: list[str | None]  # source cell index -> cell id
    kernel_name: str
    cwd: str
    timeout: float | None
    output_path: str | None  # where to save while running; None when the worker cannot reach the store
    attempt: int = 1
    cell_timeout: float | None = None  # papermill's per-cell execution_timeout (engine only)
    error_markers: bool = True  # papermill's own execute_notebook adds them when we run as its engine
    mirror_path: str | None = None  # a second local file kept in step with the output (engine only)


@dataclass(slots=True)
class RunOutcome:
    status: str  # succeeded | failed | timeout | interrupted
    error: dict[str, Any] | None
    retryable: bool  # an infrastructure failure (dead kernel, lost worker), never a cell's exception
    notebook: dict[str, Any] | None
    started_at: str
    duration_s: float
    kernel_start_s: float | None = None
    kernel_wait_s: float | None = None
    cells: list[dict[str, Any]] = field(default_factory=list)
    kernel_log: str | None = None  # text of the kernel's own stdout/stderr (Dask) or None


def make_error(
    kind: str,
    message: str,
    *,
    cell_index: int | None = None,
    cell_id: str | None = None,
    ename: str | None = None,
    evalue: str | None = None,
    traceback: list[str] | None = None,
) -> dict[str, Any]:
    """The ``error`` object of a run: the same keys whatever went wrong."""
    return {
        "kind": kind,
        "message": message,
        "cell_index": cell_index,
        "cell_position": None if cell_index is None else cell_index + 1,
        "cell_id": cell_id,
        "ename": ename,
        "evalue": evalue,
        "traceback": traceback or [],
    }


class RunControl:
    """How the outside stops a run: a whole-notebook timeout, an interrupt (Ctrl-C, a cancelled Dask
    task). Either one kills the kernel's process group at once, so even a cell stuck in C code stops."""

    def __init__(self) -> None:
        self.reason: str | None = None  # "timeout" | "interrupted"
        self.message = ""
        self._kernel: StartedKernel | None = None
        self._task: asyncio.Future[Any] | None = None

    def attach(self, kernel: StartedKernel, task: asyncio.Future[Any]) -> None:
        self._kernel, self._task = kernel, task
        if self.reason is not None:
            self._stop()

    def stop(self, reason: str, message: str) -> None:
        if self.reason is None:
            self.reason, self.message = reason, message
        self._stop()

    def _stop(self) -> None:
        if self._kernel is not None:
            self._kernel.kill_now()
        if self._task is not None and not self._task.done():
            self._task.cancel()


class ExecutionRecorder:
    """papermill's execution metadata and throttled, atomic saves of the output notebook."""

    def __init__(self, nb: Any, output_path: str | None, mirror_path: str | None = None) -> None:
        self.nb = nb
        self.output_path = output_path
        self.mirror_path = mirror_path
        self.dirty = False
        self.last_save = 0.0
        self.start: Any = None

    def _meta(self, cell: Any) -> dict[str, Any]:
        metadata = cell.setdefault("metadata", {})
        return metadata.setdefault("papermill", {})

    def notebook_start(self) -> None:
        self.start = utc_now()
        papermill = self.nb.metadata.setdefault("papermill", {})
        papermill.update(
            {"start_time": self.start.isoformat(), "end_time": None, "duration": None, "exception": None}
        )
        for cell in self.nb.cells:
            if cell.get("cell_type") == "code":
                cell["execution_count"] = None
                cell["outputs"] = []
            cell.setdefault("metadata", {})["papermill"] = {
                "exception": None,
                "start_time": None,
                "end_time": None,
                "duration": None,
                "status": PENDING,
            }
        self.save()

    def cell_start(self, cell: Any) -> None:
        meta = self._meta(cell)
        meta.update({"start_time": utc_now().isoformat(), "status": RUNNING, "exception": False})
        self.dirty = True

    def cell_end(self, cell: Any, *, failed: bool) -> None:
        end = utc_now()
        meta = self._meta(cell)
        meta["end_time"] = end.isoformat()
        if meta.get("start_time"):
            from nbhygiene.jobs.files import parse_iso

            meta["duration"] = (end - parse_iso(meta["start_time"])).total_seconds()
        if failed:
            meta["exception"] = True
            meta["status"] = FAILED
            self.nb.metadata["papermill"]["exception"] = True
        else:
            meta["status"] = COMPLETED
        self.dirty = True

    def notebook_complete(self) -> None:
        end = utc_now()
        papermill = self.nb.metadata["papermill"]
        papermill["end_time"] = end.isoformat()
        if self.start is not None:
            papermill["duration"] = (end - self.start).total_seconds()
        self.dirty = True

    def save(self, *, durable: bool = False) -> None:
        for path in (self.output_path, self.mirror_path):
            if path is not None:
                write_notebook_json(path, self.nb, durable=durable)
        self.dirty = False
        self.last_save = time.monotonic()

    async def autosave(self) -> None:
        """Save at most about once a second while cells run and produce output."""
        while True:
            await asyncio.sleep(SAVE_INTERVAL_S)
            if self.dirty:
                with contextlib.suppress(OSError):
                    self.save()


@functools.lru_cache(maxsize=1)
def _client_class() -> Any:
    from nbclient import NotebookClient

    class RunNotebookClient(NotebookClient):
        """nbclient's client that tells the recorder when an output arrived."""

        recorder: ExecutionRecorder | None = None
        on_output: Callable[[dict[str, Any]], None] | None = None

        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            if self.recorder is not None:
                self.recorder.dirty = True
            output = super().process_message(msg, cell, cell_index)
            if output is not None and self.on_output is not None:
                self.on_output(output)
            return output

    return RunNotebookClient


def strip_ansi(lines: list[str]) -> list[str]:
    return [ANSI_ESCAPE.sub("", line) for line in lines]


def _cell_error(cell: Any) -> tuple[str | None, str | None, list[str]]:
    for output in cell.get("outputs") or []:
        if output.get("output_type") == "error":
            return output.get("ename"), output.get("evalue"), strip_ansi(list(output.get("traceback") or []))
    return None, None, []


async def execute_run(
    spec: RunSpec,
    kernel: StartedKernel,
    *,
    control: RunControl | None = None,
    on_event: EventCallback | None = None,
    on_output: Callable[[dict[str, Any]], None] | None = None,
    kernel_wait_s: float | None = None,
) -> RunOutcome:
    """Execute ``spec.notebook`` in ``kernel`` and describe what happened.

    Never raises for anything the notebook or its kernel did, and a cancellation of this coroutine
    returns an ``interrupted`` outcome (after killing the kernel) rather than raising, so the caller can
    always record the run. The caller owns (and shuts down) the kernel."""
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbformat.v4.rwbase import rejoin_lines

    control = control or RunControl()
    emit = on_event or (lambda run_id, event, data: None)
    started_at = now_iso()
    began = time.monotonic()
    # Stored notebooks may hold sources as lists of lines; nbclient wants strings.
    nb = rejoin_lines(nbformat.from_dict(spec.notebook))
    recorder = ExecutionRecorder(nb, spec.output_path, spec.mirror_path)
    client = _client_class()(
        nb,
        km=kernel.km,
        kernel_name=kernel.kernel_name,
        timeout=spec.cell_timeout,
        allow_errors=False,
        record_timing=True,
        log=_quiet_log,
        resources={"metadata": {"path": spec.cwd}},
    )
    client.recorder = recorder
    client.on_output = on_output
    client.kc = kernel.kc
    recorder.notebook_start()
    current: dict[str, int | None] = {"index": None}
    code_cells = [i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]

    def source_index(index: int | None) -> int | None:
        return None if index is None or index >= len(spec.cell_map) else spec.cell_map[index]

    def source_id(index: int | None) -> str | None:
        src = source_index(index)
        if src is None or src >= len(spec.source_cell_ids):
            return None
        return spec.source_cell_ids[src]

    async def run_cells() -> tuple[str, int | None]:
        reply = await client.async_wait_for_reply(kernel.kc.kernel_info())
        if reply is not None and "language_info" in reply.get("content", {}):
            nb.metadata["language_info"] = reply["content"]["language_info"]
        for index, cell in enumerate(nb.cells):
            current["index"] = index
            recorder.cell_start(cell)
            if cell.get("cell_type") == "code":
                src = source_index(index)
                emit(
                    spec.run_id,
                    "cell",
                    {
                        "position": None if src is None else src + 1,
                        "code_cell": code_cells.index(index) + 1,
                        "code_cells": len(code_cells),
                    },
                )
            try:
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            except CellExecutionError:
                recorder.cell_end(cell, failed=True)
                return "failed", index
            recorder.cell_end(cell, failed=False)
        current["index"] = None
        return "succeeded", None

    cells_task = asyncio.ensure_future(run_cells())
    control.attach(kernel, cells_task)
    loop = asyncio.get_running_loop()
    deadline = None
    if spec.timeout:
        deadline = loop.call_later(
            spec.timeout, control.stop, "timeout", f"the run exceeded its timeout of {spec.timeout:g} s"
        )
    saver = asyncio.ensure_future(recorder.autosave())
    emit(spec.run_id, "started", {"attempt": spec.attempt})
    status, error, retryable = "succeeded", None, False
    failure: BaseException | None = None
    try:
        # shield: a cancellation of *this* coroutine must go through ``control`` (kill the kernel first),
        # not land in nbclient, which reports any cancellation as "Kernel died".
        outcome, failed_index = await asyncio.shield(cells_task)
        if outcome == "failed":
            cell = nb.cells[failed_index]
            ename, evalue, traceback = _cell_error(cell)
            if ename == "SystemExit" and evalue in ("", "0", "None"):
                status = "succeeded"  # papermill's rule: sys.exit(0) ends the notebook early, successfully
            else:
                status = "failed"
                error = make_error(
                    "cell-error",
                    f"{ename or 'Error'}: {evalue or ''}".strip().rstrip(":"),
                    cell_index=source_index(failed_index),
                    cell_id=source_id(failed_index),
                    ename=ename,
                    evalue=evalue,
                    traceback=traceback,
                )
    except asyncio.CancelledError as exc:
        if control.reason is None:
            control.stop("interrupted", "the run was cancelled")
        failure = exc
    except Exception as exc:  # DeadKernelError, zmq errors, nbclient surprises: all end the run
        failure = exc
    finally:
        if deadline is not None:
            deadline.cancel()
        saver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await saver
        if not cells_task.done():
            control.stop(control.reason or "interrupted", control.message or "the run was cancelled")
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await cells_task
    if failure is not None:
        index = current["index"]
        if index is not None:
            recorder.cell_end(nb.cells[index], failed=True)
        where: dict[str, Any] = {"cell_index": source_index(index), "cell_id": source_id(index)}
        if control.reason == "timeout":
            status = "timeout"
            error = make_error("timeout", control.message, **where)
            if index is not None and nb.cells[index].get("cell_type") == "code":
                nb.cells[index].setdefault("outputs", []).append(_timeout_output(control.message))
        elif control.reason == "interrupted":
            status = "interrupted"
            error = make_error("interrupted", control.message, **where)
        elif isinstance(failure, CellTimeoutError):
            kernel.kill_now()
            status = "timeout"
            error = make_error(
                "timeout", f"a cell exceeded the per-cell timeout of {spec.cell_timeout} s", **where
            )
        else:
            kernel.kill_now()
            status = "failed"
            during = "" if index is None else f" while cell {(source_index(index) or 0) + 1} ran"
            if isinstance(failure, (DeadKernelError, OSError)) or type(failure).__module__.startswith(
                ("zmq", "jupyter_client")
            ):
                retryable = True
                error = make_error("kernel-died", f"the kernel died{during}", **where)
            else:
                error = make_error(
                    "internal", f"execution stopped{during}: {type(failure).__name__}: {failure}", **where
                )
    recorder.notebook_complete()
    nb.metadata.setdefault("nbhygiene", {}).update({"run_id": spec.run_id, "status": status})
    if status != "succeeded" and error is not None and spec.error_markers:
        _insert_error_markers(nb, current["index"], error)
    with contextlib.suppress(OSError):
        recorder.save(durable=True)
    cells = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("papermill", {})
        if cell.get("cell_type") != "code" or ERROR_MARKER_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        cells.append(
            {
                "index": source_index(index) if index < len(spec.cell_map) else None,
                "status": meta.get("status"),
                "duration_s": meta.get("duration"),
            }
        )
    outcome_obj = RunOutcome(
        status=status,
        error=error,
        retryable=retryable,
        notebook=nb,
        started_at=started_at,
        duration_s=time.monotonic() - began,
        kernel_start_s=kernel.start_seconds,
        kernel_wait_s=kernel_wait_s,
        cells=cells,
    )
    emit(spec.run_id, "finished", {"status": status})
    return outcome_obj


def _timeout_output(message: str) -> dict[str, Any]:
    return {
        "output_type": "error",
        "ename": "RunTimeout",
        "evalue": message,
        "traceback": [f"RunTimeout: {message}; nbhygiene killed the kernel"],
    }


def _insert_error_markers(nb: Any, failed_index: int | None, error: dict[str, Any]) -> None:
    """papermill's markers: a banner at the top linking to an anchor just before the failing cell."""
    import nbformat

    if failed_index is None:
        return
    execution_count = nb.cells[failed_index].get("execution_count")
    banner = nbformat.v4.new_markdown_cell(_ERROR_MESSAGE % str(execution_count))
    banner.metadata["tags"] = [ERROR_MARKER_TAG]
    anchor = nbformat.v4.new_markdown_cell(_ERROR_ANCHOR)
    anchor.metadata["tags"] = [ERROR_MARKER_TAG]
    nb.cells.insert(failed_index, anchor)
    nb.cells.insert(0, banner)
