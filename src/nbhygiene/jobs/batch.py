"""``nbhygiene run``: plan the runs, answer the cached ones, execute the rest, record everything.

Reads top to bottom like papermill's ``execute.py``: load the notebook, work out each run's parameters
and key, look the key up, parameterize, execute (with retries for infrastructure failures only), record.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from nbhygiene.jobs.environment import resolve_kernel
from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.notebook_info import (
    INJECTED_PARAMETERS_TAG,
    PAPERMILL_ERROR_TAG,
    NotebookInfo,
    cell_tags,
    load_notebook_info,
)
from nbhygiene.jobs.progress import Progress
from nbhygiene.jobs.recording import (
    RunPlan,
    environment_record,
    plan_run,
    record_outcome,
    resolve_environment,
    run_record,
)
from nbhygiene.jobs.runkey import hash_input_files
from nbhygiene.jobs.store import RunStore, new_run_id, row_to_json


@dataclass(slots=True)
class BatchOptions:
    jobs: int = 1
    executor: str = "local"
    scheduler: str | None = None
    timeout: float | None = None
    retries: int = 0
    force: bool = False
    startup_timeout: float = 60.0


@dataclass(slots=True)
class BatchResult:
    runs: list[dict[str, Any]] = field(default_factory=list)  # the public shape, in request order
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(r["status"] in ("succeeded", "cached") for r in self.runs)


def warn(message: str) -> None:
    print(f"nbhygiene: {message}", file=sys.stderr)


def prepare_runs(
    store: RunStore,
    notebook_path: str,
    param_sets: list[dict[str, Any]],
    *,
    inputs: list[str],
    cwd: str | None,
    info: NotebookInfo | None = None,
) -> tuple[NotebookInfo, list[RunPlan], Any]:
    """Everything up to execution: cheap (no kernel, no papermill), so a cached re-run stays fast."""
    info = info or load_notebook_info(notebook_path)
    info.require_parameters_cell()
    known = info.known_parameters
    unknown = sorted({name for params in param_sets for name in params} - known)
    if unknown and info.is_python:
        warn(
            f"parameter(s) {', '.join(unknown)} are not set in the parameters cell of {notebook_path}; "
            "they are injected anyway"
        )
    run_cwd = os.path.abspath(cwd) if cwd else os.path.dirname(info.path)
    if not os.path.isdir(run_cwd):
        raise UsageError(f"--cwd {cwd}: not a directory")
    target = resolve_kernel(info.kernel_name)
    environment = resolve_environment(target, store)
    declared = hash_input_files(inputs, store.root, store.cache_dir)
    plans = [
        plan_run(info, params, environment=environment, inputs=declared, cwd=run_cwd, root=store.root)
        for params in param_sets
    ]
    return info, plans, environment


def run_batch(
    store: RunStore,
    notebook_path: str,
    param_sets: list[dict[str, Any]],
    *,
    inputs: list[str],
    cwd: str | None,
    options: BatchOptions,
    progress_enabled: bool = True,
    origin: str = "run",
    rerun_of: str | None = None,
    info: NotebookInfo | None = None,
) -> BatchResult:
    info, plans, environment = prepare_runs(
        store, notebook_path, param_sets, inputs=inputs, cwd=cwd, info=info
    )
    result = BatchResult(runs=[{} for _ in plans])
    progress = Progress(len(plans), enabled=progress_enabled)

    # Answer what the store already has; run each distinct key once.
    to_execute: dict[str, list[int]] = {}
    for position, plan in enumerate(plans):
        cached_id = None if options.force else store.find_cached(plan.key.key)
        row = store.row(cached_id) if cached_id is not None else None
        if cached_id is not None and row is not None:
            result.runs[position] = row_to_json(store, row, cached=True)
            progress.finished(cached_id, plan.label, "cached", f" (run {cached_id})")
            continue
        to_execute.setdefault(plan.key.key, []).append(position)
    if not to_execute:
        progress.close()
        return result

    with open(info.path, "rb") as handle:
        source_bytes = handle.read()
    env_record = environment_record(environment, os.path.dirname(info.path))
    batch_id = new_run_id() if len(to_execute) > 1 else None
    ordered = [(positions[0], positions) for positions in to_execute.values()]
    ordered.sort()
    if len(plans) > 1:
        progress.message(
            f"nbhygiene: {len(ordered)} run(s) of {os.path.basename(info.path)} "
            f"({options.executor}, {options.jobs} at a time)"
            + (f", {len(plans) - len(ordered)} cached or repeated" if len(plans) > len(ordered) else "")
        )

    import asyncio  # not before here: a fully cached batch never needs an event loop

    executed, interrupted = asyncio.run(
        _execute_all(
            store,
            info,
            plans,
            ordered,
            options,
            progress,
            source_bytes,
            env_record,
            origin,
            rerun_of,
            batch_id,
        )
    )
    progress.close()
    result.interrupted = interrupted
    for first, positions in ordered:
        run_id = executed.get(first)
        if run_id is None:  # never started (interrupted before its turn)
            for position in positions:
                result.runs[position] = _not_started(plans[position])
            continue
        row = store.row(run_id)
        for index, position in enumerate(positions):
            public = row_to_json(store, row) if row is not None else _not_started(plans[position])
            if index > 0 and public["status"] == "succeeded":
                public = {**public, "status": "cached", "cached": True}  # a repeated combination
            result.runs[position] = public
    return result


def _not_started(plan: RunPlan) -> dict[str, Any]:
    return {
        "id": None,
        "key": plan.key.key,
        "status": "interrupted",
        "cached": False,
        "params": plan.params,
        "metrics": {},
        "output_notebook": None,
        "started_at": None,
        "duration_s": None,
        "error": {"kind": "interrupted", "message": "interrupted before the run started"},
    }


async def _execute_all(
    store: RunStore,
    info: NotebookInfo,
    plans: list[RunPlan],
    ordered: list[tuple[int, list[int]]],
    options: BatchOptions,
    progress: Progress,
    source_bytes: bytes,
    env_record: dict[str, Any],
    origin: str,
    rerun_of: str | None,
    batch_id: str | None,
) -> tuple[dict[int, str], bool]:
    import asyncio
    import signal

    from nbhygiene.jobs.execution import RunControl, RunSpec

    executor = _make_executor(store, options)
    await executor.start()
    executor.expect(info.kernel_name, plans[0].cwd, len(ordered))
    # papermill does the parameterizing: its translators turn values into source for the kernel's
    # language. It is slow to import (and a cached run needs none of it), so the first kernels are launched
    # first and boot in their own processes while this one imports it.
    await executor.wait_launched()
    remove_error_markers, parameterize_notebook = _import_papermill()
    import nbformat

    base = nbformat.from_dict(copy.deepcopy(info.data))
    slots = asyncio.Semaphore(options.jobs)
    controls: dict[str, RunControl] = {}
    executed: dict[int, str] = {}
    state = {"interrupted": False}
    loop = asyncio.get_running_loop()

    def interrupt(signum: int) -> None:
        if state["interrupted"]:
            return
        state["interrupted"] = True
        name = signal.Signals(signum).name
        progress.message(f"nbhygiene: {name}: stopping runs (they will be marked interrupted)")
        for control in controls.values():
            control.stop("interrupted", f"interrupted by {name}")
        with contextlib.suppress(Exception):  # a second Ctrl-C stops at once
            loop.remove_signal_handler(signal.SIGINT)

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, interrupt, signum)

    async def run_one(position: int) -> None:
        plan = plans[position]
        async with slots:
            if state["interrupted"]:
                return
            record = run_record(
                plan,
                origin=origin,
                batch=batch_id,
                rerun_of=rerun_of,
                timeout=options.timeout,
                retries=options.retries,
            )
            run_id = store.create_run(record, source_notebook=source_bytes, environment=env_record)
            executed[position] = run_id
            paths = store.paths(run_id)
            notebook, cell_map = parameterize(
                base,
                plan,
                run_id,
                paths.input_notebook,
                paths.output_notebook,
                parameterize_notebook,
                remove_error_markers,
            )
            control = RunControl()
            controls[run_id] = control
            progress.started(run_id, plan.label)
            attempts: list[dict[str, Any]] = []
            attempt = 0
            while True:
                attempt += 1
                spec = RunSpec(
                    run_id=run_id,
                    label=plan.label,
                    notebook=notebook,
                    cell_map=cell_map,
                    source_cell_ids=[c.get("id") for c in info.data.get("cells", []) if isinstance(c, dict)],
                    kernel_name=info.kernel_name,
                    cwd=plan.cwd,
                    timeout=options.timeout,
                    output_path=paths.output_notebook,
                    attempt=attempt,
                )
                outcome, log_path = await executor.execute(spec, control, progress.event)
                attempts.append(
                    {
                        "attempt": attempt,
                        "status": outcome.status,
                        "error": outcome.error,
                        "duration_s": round(outcome.duration_s, 3),
                    }
                )
                if outcome.retryable and attempt <= options.retries and not state["interrupted"]:
                    progress.message(
                        f"nbhygiene: run {run_id}: {outcome.error['message'] if outcome.error else ''}"
                        f"; retrying ({attempt}/{options.retries})"
                    )
                    executor.expect(info.kernel_name, plan.cwd, 1)
                    if log_path:
                        with contextlib.suppress(OSError):
                            os.unlink(log_path)
                    continue
                break
            controls.pop(run_id, None)
            final = record_outcome(
                store,
                run_id,
                outcome,
                attempts=attempts,
                kernel_log_path=log_path,
                notebook_saved=executor.writes_output_locally,
            )
            detail = f" ({final['duration_s']}s)" if final.get("duration_s") is not None else ""
            if outcome.error:
                detail += f": {outcome.error['message']}"
            progress.finished(run_id, plan.label, final["status"], detail)

    tasks = [asyncio.ensure_future(run_one(first)) for first, _ in ordered]
    try:
        await asyncio.gather(*tasks)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        await executor.close(abort=state["interrupted"])
    return executed, state["interrupted"]


def _import_papermill() -> tuple[Any, Any]:
    from papermill.execute import remove_error_markers
    from papermill.parameterize import parameterize_notebook

    return remove_error_markers, parameterize_notebook


def _make_executor(store: RunStore, options: BatchOptions) -> Any:
    from nbhygiene.jobs.executors import DaskExecutor, LocalExecutor

    if options.executor == "dask":
        return DaskExecutor(
            options.jobs,
            scheduler=options.scheduler,
            store_runs_dir=store.runs_dir,
            startup_timeout=options.startup_timeout,
        )
    return LocalExecutor(
        options.jobs, scratch_dir=os.path.join(store.path, "tmp"), startup_timeout=options.startup_timeout
    )


def parameterize(
    base: Any,
    plan: RunPlan,
    run_id: str,
    input_path: str,
    output_path: str,
    parameterize_notebook: Any,
    remove_error_markers: Any,
) -> tuple[dict[str, Any], list[int | None]]:
    """The notebook a run executes and the map from its cells back to the source notebook's."""
    nb = copy.deepcopy(base)
    nb.metadata.setdefault(
        "papermill",
        {
            "default_parameters": {},
            "parameters": {},
            "environment_variables": {},
            "version": _papermill_version(),
        },
    )
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
        cell.metadata.setdefault("papermill", {})
    source_indices = [i for i, c in enumerate(base.cells) if PAPERMILL_ERROR_TAG not in cell_tags(c)]
    nb = remove_error_markers(nb)
    if plan.user_params:
        nb = parameterize_notebook(
            nb, plan.user_params, kernel_name=plan.info.kernel_name, language=plan.info.language
        )
    nb.metadata.papermill["input_path"] = plan.info.path
    nb.metadata.papermill["output_path"] = output_path
    nb.metadata["nbhygiene"] = {"run_id": run_id, "key": plan.key.key}
    cell_map: list[int | None] = []
    remaining = [i for i in source_indices if INJECTED_PARAMETERS_TAG not in cell_tags(base.cells[i])]
    replaced = [i for i in source_indices if INJECTED_PARAMETERS_TAG in cell_tags(base.cells[i])]
    for cell in nb.cells:
        if INJECTED_PARAMETERS_TAG in cell_tags(cell):
            cell_map.append(replaced[0] if replaced and not plan.user_params else None)
        else:
            cell_map.append(remaining.pop(0) if remaining else None)
    return json.loads(json.dumps(nb)), cell_map


def _papermill_version() -> str:
    try:
        from papermill import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        return "unknown"
