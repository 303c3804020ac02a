"""The ``nbhygiene`` papermill engine: existing papermill jobs gain run history without code changes.

::

    papermill in.ipynb out.ipynb -p C 0.1 --engine nbhygiene
    papermill.execute_notebook("in.ipynb", "out.ipynb", parameters={"C": 0.1}, engine_name="nbhygiene")

The execution is recorded as a versioned run in the same store ``nbhygiene run`` uses (found from the
current directory, or ``nbhygiene_store=DIR`` / ``$NBHYGIENE_STORE``), with the same key, so
``nbhygiene runs list`` shows both. Optional engine arguments (``execute_notebook(..., name=value)``):

``nbhygiene_fail_on``  ``error`` / ``warning`` / ``info``: refuse to execute a notebook with hygiene
                       findings at or above that severity (also ``$NBHYGIENE_FAIL_ON``; default: never);
``nbhygiene_timeout``  a whole-notebook timeout in seconds (papermill's ``execution_timeout`` is per cell);
``nbhygiene_store``    the run store folder.

papermill imports every registered engine while it is itself being imported, so this module imports
nothing heavy at the top (and papermill only inside the methods). The class is duck-typed against
papermill's ``Engine`` for the same reason: subclassing it would import papermill from here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

FAIL_ON_ENV = "NBHYGIENE_FAIL_ON"


class HygieneCheckFailed(RuntimeError):
    """The notebook has blocking hygiene findings; it was not executed."""


class NbhygieneEngine:
    """A papermill engine that executes like papermill's default one and records a run."""

    @classmethod
    def nb_kernel_name(cls, nb: Any, name: str | None = None) -> str:
        from papermill.utils import nb_kernel_name

        return nb_kernel_name(nb, name)

    @classmethod
    def nb_language(cls, nb: Any, language: str | None = None) -> str:
        from papermill.utils import nb_language

        return nb_language(nb, language)

    @classmethod
    def execute_notebook(
        cls,
        nb: Any,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = True,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        **kwargs: Any,
    ) -> Any:
        from nbhygiene.jobs.recording import run_blocking

        return run_blocking(
            lambda: _execute(nb, kernel_name, output_path=output_path, log_output=log_output, **kwargs)
        )


async def _execute(
    nb: Any,
    kernel_name: str,
    *,
    output_path: str | None,
    log_output: bool,
    input_path: str | None = None,
    start_timeout: float = 60,
    execution_timeout: float | None = None,
    stdout_file: Any = None,
    stderr_file: Any = None,
    nbhygiene_store: str | None = None,
    nbhygiene_fail_on: str | None = None,
    nbhygiene_timeout: float | None = None,
    **_ignored: Any,
) -> Any:
    import nbformat

    from nbhygiene.jobs.environment import resolve_kernel
    from nbhygiene.jobs.execution import RunOutcome, RunSpec, execute_run, make_error
    from nbhygiene.jobs.files import now_iso
    from nbhygiene.jobs.kernels import ProcessGroupReaper, shutdown_kernel, start_kernel
    from nbhygiene.jobs.notebook_info import describe_notebook
    from nbhygiene.jobs.recording import (
        environment_record,
        plan_run,
        record_outcome,
        resolve_environment,
        run_record,
    )
    from nbhygiene.jobs.store import RunStore

    cwd = os.getcwd()  # papermill has already changed into its ``cwd`` argument
    local_input = _local_path(input_path)
    data = json.loads(json.dumps(nb))
    source_bytes = _source_bytes(local_input, data)
    info = describe_notebook(data, local_input or os.path.join(cwd, "<notebook>"))
    injected = (data.get("metadata", {}).get("papermill", {}) or {}).get("parameters") or {}

    store = RunStore.open(nbhygiene_store)
    store.recover()
    target = resolve_kernel(kernel_name)
    environment = resolve_environment(target, store)
    # The injected parameters are already in the notebook (as defaults of the injected cell), so the
    # key equals the one ``nbhygiene run`` computes for the same notebook and parameters.
    plan = plan_run(info, dict(injected), environment=environment, inputs=[], cwd=cwd, root=store.root)
    run_id = store.create_run(
        run_record(plan, origin="papermill", timeout=nbhygiene_timeout),
        source_notebook=source_bytes,
        environment=environment_record(environment, os.path.dirname(info.path)),
    )
    print(f"nbhygiene: recording papermill run {run_id} in {store.path}", file=sys.stderr)

    fail_on = nbhygiene_fail_on or os.environ.get(FAIL_ON_ENV)
    if fail_on and fail_on.lower() not in ("never", "none", "off", ""):
        from nbhygiene.jobs.hygiene import blocking_findings

        blocking = blocking_findings(data, info.path, fail_on)
        if blocking:
            message = f"{len(blocking)} blocking hygiene finding(s) (fail-on {fail_on}): " + "; ".join(
                blocking[:5]
            )
            store.finish_run(
                run_id,
                status="failed",
                started_at=now_iso(),
                duration_s=0.0,
                error=make_error("hygiene", message),
            )
            store.close()
            raise HygieneCheckFailed(f"{info.path}: {message}")

    paths = store.paths(run_id)
    spec = RunSpec(
        run_id=run_id,
        label=plan.label,
        notebook=data,
        cell_map=list(range(len(data.get("cells", [])))),
        source_cell_ids=[c.get("id") for c in data.get("cells", [])],
        kernel_name=kernel_name,
        cwd=cwd,
        timeout=nbhygiene_timeout,
        output_path=paths.output_notebook,
        cell_timeout=execution_timeout,
        error_markers=False,  # papermill's execute_notebook adds them after we return
        mirror_path=_local_path(output_path),
    )
    reaper = ProcessGroupReaper.for_this_process()
    began = time.monotonic()
    kernel = None
    try:
        kernel = await start_kernel(
            kernel_name, cwd, log_dir=paths.directory, startup_timeout=start_timeout, reaper=reaper
        )
        outcome = await execute_run(
            spec,
            kernel,
            on_output=_output_sink(log_output, stdout_file, stderr_file),
            kernel_wait_s=time.monotonic() - began,
        )
    except BaseException as exc:
        outcome = RunOutcome(
            status="interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "failed",
            error=make_error("kernel-start", f"{type(exc).__name__}: {exc}"),
            retryable=False,
            notebook=None,
            started_at=now_iso(),
            duration_s=time.monotonic() - began,
        )
        record_outcome(store, run_id, outcome, attempts=[])
        store.close()
        raise
    finally:
        if kernel is not None:
            await shutdown_kernel(kernel, reaper=reaper)
    record_outcome(
        store,
        run_id,
        outcome,
        attempts=[{"attempt": 1, "status": outcome.status, "error": outcome.error}],
        kernel_log_path=kernel.log_path,
    )
    store.close()
    return nbformat.from_dict(outcome.notebook)


def _local_path(path: Any) -> str | None:
    """A local file path papermill was given, or None for URLs (s3://, http://, ...) and streams."""
    if not isinstance(path, str) or not path or path == "-":
        return None
    if "://" in path:
        return path[len("file://") :] if path.startswith("file://") else None
    return os.path.abspath(path)


def _source_bytes(local_input: str | None, data: dict[str, Any]) -> bytes:
    if local_input is not None:
        try:
            with open(local_input, "rb") as handle:
                return handle.read()
        except OSError:
            pass
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _output_sink(log_output: bool, stdout_file: Any, stderr_file: Any) -> Any:
    """papermill's ``log_output``/``stdout_file``/``stderr_file``: stream outputs as they arrive."""
    if not (log_output or stdout_file or stderr_file):
        return None
    from papermill.log import logger

    def sink(output: dict[str, Any]) -> None:
        if output.get("output_type") == "stream":
            text = "".join(output.get("text", ""))
            target = stdout_file if output.get("name") == "stdout" else stderr_file
            if log_output:
                (logger.info if output.get("name") == "stdout" else logger.warning)(text)
            if target is not None:
                target.write(text)
                target.flush()
        elif log_output and "text/plain" in (output.get("data") or {}):
            logger.info("".join(output["data"]["text/plain"]))

    return sink
