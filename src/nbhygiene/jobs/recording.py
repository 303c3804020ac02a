"""Turning a planned run into a stored run and an outcome into stored results.

Shared by ``nbhygiene run`` (:mod:`.batch`) and the papermill engine (:mod:`.engine`), so a run looks the
same in the store whichever way it was started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from nbhygiene.jobs.environment import (
    EnvironmentFingerprint,
    KernelTarget,
    environment_fingerprint,
    git_state,
)
from nbhygiene.jobs.files import now_iso, write_notebook_json
from nbhygiene.jobs.metrics import extract_metrics
from nbhygiene.jobs.notebook_info import NotebookInfo
from nbhygiene.jobs.params import effective_parameters
from nbhygiene.jobs.runkey import RunKey, compute_run_key, relative_to
from nbhygiene.jobs.store import RunStore

if TYPE_CHECKING:  # the execution layer imports asyncio; a cached run must not pay for it
    from nbhygiene.jobs.execution import RunOutcome

T = TypeVar("T")


@dataclass(slots=True)
class RunPlan:
    """One run of a notebook with one parameter set, before it executes."""

    info: NotebookInfo
    user_params: dict[str, Any]
    params: dict[str, Any]  # effective: defaults overlaid with the user's
    key: RunKey
    inputs: list[dict[str, Any]]
    location: dict[str, str]
    cwd: str
    label: str


def plan_run(
    info: NotebookInfo,
    user_params: dict[str, Any],
    *,
    environment: EnvironmentFingerprint,
    inputs: list[dict[str, Any]],
    cwd: str,
    root: str,
) -> RunPlan:
    params = effective_parameters(info.defaults, user_params)
    location = {"notebook": relative_to(info.path, root), "cwd": relative_to(cwd, root)}
    key = compute_run_key(
        code_digest=info.code_digest,
        params=params,
        environment_digest=environment.digest,
        inputs=inputs,
        location=location,
    )
    label = " ".join(f"{k}={_short(v)}" for k, v in user_params.items()) or "(defaults)"
    return RunPlan(info, user_params, params, key, inputs, location, cwd, label)


def _short(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 24 else text[:21] + "..."


def run_record(
    plan: RunPlan,
    *,
    origin: str,
    batch: str | None = None,
    rerun_of: str | None = None,
    timeout: float | None = None,
    retries: int = 0,
) -> dict[str, Any]:
    """What ``run.json`` holds: everything needed to re-execute the run and to explain its key."""
    return {
        "key": plan.key.key,
        "key_parts": plan.key.parts,
        "notebook": {
            "path": plan.location["notebook"],
            "absolute_path": plan.info.path,
            "name": os.path.basename(plan.info.path),
            "kernel": plan.info.kernel_name,
            "language": plan.info.language,
        },
        "location": plan.location,
        "cwd": plan.cwd,
        "params": plan.params,
        "user_params": plan.user_params,
        "defaults": plan.info.defaults,
        "computed_defaults": plan.info.computed_defaults,
        "inputs": plan.inputs,
        "cells": [cell.to_json() for cell in plan.info.cells],
        "created_at": now_iso(),
        "origin": origin,
        "batch": batch,
        "rerun_of": rerun_of,
        "timeout": timeout,
        "retries": retries,
    }


def environment_record(environment: EnvironmentFingerprint, notebook_dir: str) -> dict[str, Any]:
    return {**environment.to_record(), "git": git_state(notebook_dir)}


def resolve_environment(target: KernelTarget, store: RunStore) -> EnvironmentFingerprint:
    return environment_fingerprint(target, store.cache_dir)


def record_outcome(
    store: RunStore,
    run_id: str,
    outcome: RunOutcome,
    *,
    attempts: list[dict[str, Any]],
    kernel_log_path: str | None = None,
    notebook_saved: bool = True,
) -> dict[str, Any]:
    """Store an outcome: output notebook (when the executor could not write it), figures, metrics,
    timings, the kernel's log, and last the status."""
    paths = store.paths(run_id)
    metrics_doc = None
    if outcome.notebook is not None:
        if not notebook_saved or not os.path.exists(paths.output_notebook):
            write_notebook_json(paths.output_notebook, outcome.notebook)
        found = extract_metrics(outcome.notebook)
        for name, png in found.figures.items():
            store.write_figure(run_id, name, png)
        metrics_doc = found.to_json()
    if kernel_log_path is not None:
        with contextlib.suppress(OSError):
            if os.path.getsize(kernel_log_path) > 0:
                shutil.move(kernel_log_path, paths.kernel_log)
            else:
                os.unlink(kernel_log_path)
    elif outcome.kernel_log:
        with contextlib.suppress(OSError), open(paths.kernel_log, "w", encoding="utf-8") as handle:
            handle.write(outcome.kernel_log)
    timings = {
        "kernel_start_s": outcome.kernel_start_s,
        "kernel_wait_s": outcome.kernel_wait_s,
        "execution_s": round(outcome.duration_s, 3),
        "cells": outcome.cells,
        "attempts": attempts,
    }
    return store.finish_run(
        run_id,
        status=outcome.status,
        started_at=outcome.started_at,
        duration_s=outcome.duration_s,
        error=outcome.error,
        metrics=metrics_doc or {"values": {}, "history": {}, "sources": {}, "problems": []},
        timings=timings,
    )


def run_blocking(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, even when this thread already runs an event
    loop (papermill called from inside a notebook): then it runs on a helper thread with its own loop."""
    import asyncio
    import threading

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(factory))
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(_as_coroutine(factory))
        except BaseException as exc:  # handed back to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="nbhygiene-run", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


async def _as_coroutine(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()
