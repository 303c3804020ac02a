"""Executors: where runs execute. One interface, two implementations.

``LocalExecutor``  kernels on this machine, ``--jobs`` at a time, each run's fresh kernel started ahead
                   of time by a :class:`~nbhygiene.jobs.kernels.KernelPool`.
``DaskExecutor``   each run is a task on a Dask ``distributed`` cluster: a ``LocalCluster`` started for the
                   batch, or an existing scheduler (``--scheduler tcp://host:8786``). A worker starts the
                   run's kernel itself, so it needs the notebook's kernel and packages installed.

Both return a :class:`~nbhygiene.jobs.execution.RunOutcome` for every run and never raise for a run's
own failure; an infrastructure failure (a kernel that would not start or died, a lost worker) comes back
``retryable`` and the batch decides whether to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
import time
from typing import Any, Protocol

from nbhygiene.jobs.errors import ExecutionSetupError, UsageError
from nbhygiene.jobs.execution import EventCallback, RunControl, RunOutcome, RunSpec, execute_run, make_error
from nbhygiene.jobs.files import now_iso
from nbhygiene.jobs.kernels import KernelPool, ProcessGroupReaper, shutdown_kernel, start_kernel

PROGRESS_TOPIC = "nbhygiene-progress"
CONNECT_TIMEOUT_S = 10


class Executor(Protocol):
    name: str
    writes_output_locally: bool

    async def start(self) -> None: ...

    def expect(self, kernel_name: str, cwd: str, count: int) -> None: ...

    async def wait_launched(self) -> None: ...

    async def execute(
        self, spec: RunSpec, control: RunControl, on_event: EventCallback
    ) -> tuple[RunOutcome, str | None]: ...

    async def close(self, *, abort: bool = False) -> None: ...


def _setup_failure(message: str, started: float) -> RunOutcome:
    return RunOutcome(
        status="failed",
        error=make_error("kernel-start", message),
        retryable=True,
        notebook=None,
        started_at=now_iso(),
        duration_s=time.monotonic() - started,
    )


class LocalExecutor:
    name = "local"
    writes_output_locally = True

    def __init__(self, jobs: int, *, scratch_dir: str, startup_timeout: float = 60.0) -> None:
        self.jobs = max(1, jobs)
        self.startup_timeout = startup_timeout
        self.scratch_dir = scratch_dir
        self._log_dir: str | None = None
        self._pools: dict[tuple[str, str], KernelPool] = {}
        self._reaper: ProcessGroupReaper | None = None

    async def start(self) -> None:
        self._reaper = ProcessGroupReaper.for_this_process()
        os.makedirs(self.scratch_dir, exist_ok=True)
        self._log_dir = tempfile.mkdtemp(prefix="kernels-", dir=self.scratch_dir)

    def _pool(self, kernel_name: str, cwd: str) -> KernelPool:
        pool = self._pools.get((kernel_name, cwd))
        if pool is None:
            assert self._log_dir is not None
            pool = KernelPool(
                kernel_name,
                cwd,
                ahead=self.jobs,
                log_dir=self._log_dir,
                startup_timeout=self.startup_timeout,
                reaper=self._reaper,
            )
            self._pools[(kernel_name, cwd)] = pool
        return pool

    def expect(self, kernel_name: str, cwd: str, count: int) -> None:
        """Start kernels now for ``count`` runs to come (up to ``jobs`` ahead)."""
        self._pool(kernel_name, cwd).expect(count)

    async def wait_launched(self) -> None:
        """Return once the expected kernels' processes exist (they need this loop only later)."""
        for pool in self._pools.values():
            await pool.wait_launched()

    async def execute(
        self, spec: RunSpec, control: RunControl, on_event: EventCallback
    ) -> tuple[RunOutcome, str | None]:
        # The batch limits how many runs execute at once; the pool keeps their kernels coming.
        began = time.monotonic()
        if control.reason is not None:
            return _stopped(control, began), None
        pool = self._pool(spec.kernel_name, spec.cwd)
        try:
            kernel = await pool.acquire()
        except ExecutionSetupError as exc:
            return _setup_failure(str(exc), began), None
        except Exception as exc:  # zmq/jupyter_client failures while starting
            return _setup_failure(
                f"the kernel could not be started: {type(exc).__name__}: {exc}", began
            ), None
        outcome = await execute_run(
            spec, kernel, control=control, on_event=on_event, kernel_wait_s=time.monotonic() - began
        )
        pool.release(kernel, now=outcome.status != "succeeded")
        return outcome, kernel.log_path

    async def close(self, *, abort: bool = False) -> None:
        for pool in self._pools.values():
            await pool.close(abort=abort)
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)


def _stopped(control: RunControl, began: float) -> RunOutcome:
    return RunOutcome(
        status="interrupted" if control.reason == "interrupted" else "timeout",
        error=make_error(control.reason or "interrupted", control.message),
        retryable=False,
        notebook=None,
        started_at=now_iso(),
        duration_s=time.monotonic() - began,
    )


# ---------------------------------------------------------------------------------------------- Dask
class DaskExecutor:
    name = "dask"
    writes_output_locally = False

    def __init__(
        self, jobs: int, *, scheduler: str | None, store_runs_dir: str, startup_timeout: float = 60.0
    ):
        self.jobs = max(1, jobs)
        self.scheduler = scheduler
        self.store_runs_dir = store_runs_dir
        self.startup_timeout = startup_timeout
        self.client: Any = None
        self.cluster: Any = None
        self._store_reachable = False
        self._listeners: dict[str, EventCallback] = {}

    async def start(self) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise UsageError(
                "--executor dask needs dask[distributed]: pip install 'nbhygiene[jobs]'"
            ) from None
        if self.scheduler:
            if not re.match(r"^(?:[a-z][a-z0-9+.-]*://)?(?:\[[0-9a-fA-F:]+\]|[^:/\s]+):\d+$", self.scheduler):
                raise UsageError(f"--scheduler {self.scheduler}: expected an address like tcp://HOST:PORT")
            try:
                self.client = await Client(
                    self.scheduler, asynchronous=True, set_as_default=False, timeout=CONNECT_TIMEOUT_S
                )
            except (OSError, asyncio.TimeoutError, ValueError) as exc:
                reason = str(exc) or f"no answer within {CONNECT_TIMEOUT_S} s"
                raise UsageError(f"--scheduler {self.scheduler}: cannot connect ({reason})") from None
            # A remote worker writes partial output straight into the store only if it sees the same files.
            self._store_reachable = bool(
                await self.client.submit(os.path.isdir, self.store_runs_dir, pure=False)
            )
        else:
            # In-process workers: kernels are separate processes anyway, so nothing is lost in
            # parallelism, the cluster starts in well under a second, and it dies with this process.
            self.cluster = await LocalCluster(
                n_workers=1,
                threads_per_worker=self.jobs,
                processes=False,
                asynchronous=True,
                dashboard_address=None,
            )
            self.client = await Client(self.cluster, asynchronous=True, set_as_default=False)
            self._store_reachable = True
        self.client.subscribe_topic(PROGRESS_TOPIC, self._on_progress)

    def _on_progress(self, event: Any) -> None:
        _, message = event if isinstance(event, tuple) and len(event) == 2 else (None, event)
        if isinstance(message, dict):
            listener = self._listeners.get(message.get("run_id", ""))
            if listener is not None:
                listener(message["run_id"], message.get("event", ""), message.get("data") or {})

    def expect(self, kernel_name: str, cwd: str, count: int) -> None:
        pass  # workers start their runs' kernels

    async def wait_launched(self) -> None:
        pass

    async def execute(
        self, spec: RunSpec, control: RunControl, on_event: EventCallback
    ) -> tuple[RunOutcome, str | None]:
        from distributed.client import FutureCancelledError

        began = time.monotonic()
        if not self._store_reachable:
            spec.output_path = None
        self._listeners[spec.run_id] = on_event
        future = self.client.submit(
            run_in_worker,
            spec,
            self.startup_timeout,
            key=f"nbhygiene-{spec.run_id}-{spec.attempt}",
            pure=False,
        )
        watcher = asyncio.ensure_future(_cancel_when_stopped(control, future))
        try:
            outcome: RunOutcome = await future
            return outcome, None
        except (asyncio.CancelledError, FutureCancelledError):
            return _stopped(control if control.reason else _interrupted(), began), None
        except Exception as exc:
            # KilledWorker, CommClosedError, a scheduler that went away: the run's worker is lost.
            return RunOutcome(
                status="failed",
                error=make_error("lost-worker", f"lost the Dask worker: {type(exc).__name__}: {exc}"),
                retryable=True,
                notebook=None,
                started_at=now_iso(),
                duration_s=time.monotonic() - began,
            ), None
        finally:
            watcher.cancel()
            self._listeners.pop(spec.run_id, None)

    async def close(self, *, abort: bool = False) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                await self.cluster.close()


def _interrupted() -> RunControl:
    control = RunControl()
    control.reason, control.message = "interrupted", "the run was cancelled"
    return control


async def _cancel_when_stopped(control: RunControl, future: Any) -> None:
    while control.reason is None:
        await asyncio.sleep(0.2)
    with contextlib.suppress(Exception):
        await future.cancel()


def run_in_worker(spec: RunSpec, startup_timeout: float) -> RunOutcome:
    """The Dask task: start a kernel, execute, shut down. Runs on a worker thread."""
    return asyncio.run(_run_in_worker(spec, startup_timeout))


async def _run_in_worker(spec: RunSpec, startup_timeout: float) -> RunOutcome:
    import json

    worker, key = _current_worker_and_key()
    began = time.monotonic()
    reaper = ProcessGroupReaper.for_this_process()
    log_dir = tempfile.mkdtemp(prefix="nbhygiene-kernel-")

    def emit(run_id: str, event: str, data: dict[str, Any]) -> None:
        if worker is not None:
            with contextlib.suppress(Exception):
                worker.log_event(PROGRESS_TOPIC, {"run_id": run_id, "event": event, "data": data})

    try:
        try:
            kernel = await start_kernel(
                spec.kernel_name, spec.cwd, log_dir=log_dir, startup_timeout=startup_timeout, reaper=reaper
            )
        except Exception as exc:
            return _setup_failure(f"the kernel could not be started on the worker: {exc}", began)
        control = RunControl()
        watcher = asyncio.ensure_future(_stop_when_unwanted(worker, key, control))
        try:
            outcome = await execute_run(
                spec, kernel, control=control, on_event=emit, kernel_wait_s=time.monotonic() - began
            )
        finally:
            watcher.cancel()
            await shutdown_kernel(kernel, now=True, reaper=reaper)
        with (
            contextlib.suppress(OSError),
            open(kernel.log_path, encoding="utf-8", errors="replace") as handle,
        ):
            outcome.kernel_log = handle.read(1 << 20)
        if outcome.notebook is not None:
            outcome.notebook = json.loads(json.dumps(outcome.notebook))  # a plain dict travels best
        return outcome
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def _current_worker_and_key() -> tuple[Any, str | None]:
    try:
        from distributed import get_worker

        worker = get_worker()
        key = worker.get_current_task()
        return worker, None if key is None else str(key)
    except Exception:  # not on a worker (a direct call in a test)
        return None, None


async def _stop_when_unwanted(worker: Any, key: str | None, control: RunControl) -> None:
    """When the client that submitted the run goes away (a coordinator killed with SIGKILL), the scheduler
    releases the task; the worker then sees it cancelled, and the kernel must not run on orphaned."""
    if worker is None or key is None:
        return
    while True:
        await asyncio.sleep(1.0)
        task = worker.state.tasks.get(key)
        if task is None or task.state in ("cancelled", "released", "forgotten"):
            control.stop("interrupted", "the coordinator that submitted the run went away")
            return
