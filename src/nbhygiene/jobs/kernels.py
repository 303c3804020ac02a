"""Single-use kernels, started ahead of time, that never outlive the process that started them.

Starting a kernel takes ~0.75 s, most of a small run. :class:`KernelPool` hides it by starting the next
runs' kernels while the current runs execute; a kernel is handed to exactly one run and shut down after
it (a reused kernel leaks state between runs even after ``%reset -f``).

Two mechanisms make kernels die with their coordinator, however it dies (SIGKILL included):

* on Linux, each kernel process is started with ``PR_SET_PDEATHSIG = SIGKILL``;
* a tiny watchdog process (:class:`ProcessGroupReaper`) holds a pipe from the coordinator and kills every
  registered kernel process group when the pipe closes -- that also takes the processes a notebook
  started (joblib workers, servers), which the death signal does not reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nbhygiene.jobs.errors import ExecutionSetupError

_WATCHDOG = r"""
import os, signal, sys
groups = set()
for line in sys.stdin:
    verb, _, value = line.strip().partition(" ")
    if verb == "add" and value.isdigit():
        groups.add(int(value))
    elif verb == "remove" and value.isdigit():
        groups.discard(int(value))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


class ProcessGroupReaper:
    """A watchdog process that SIGKILLs registered process groups once this process is gone.

    The watchdog reads ``add PGID`` / ``remove PGID`` lines from a pipe whose only writer is this
    process; end of file means the coordinator died (or exited) and every group still registered dies.
    """

    _instance: ProcessGroupReaper | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        if os.name != "posix":
            return
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-S", "-c", _WATCHDOG],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # its own session: a Ctrl-C at the terminal must not kill the watchdog before the kernels
                start_new_session=True,
                close_fds=True,
            )
        except OSError:
            self._process = None  # the death signal still covers the kernels themselves

    @classmethod
    def for_this_process(cls) -> ProcessGroupReaper:
        """One watchdog per process (a forked child gets its own)."""
        with cls._instance_lock:
            instance = cls._instance
            if instance is None or instance._owner_pid != os.getpid():
                instance = cls()
                instance._owner_pid = os.getpid()
                cls._instance = instance
            return instance

    _owner_pid: int = 0

    def _send(self, line: str) -> None:
        with self._lock:
            if self._process is None or self._process.stdin is None:
                return
            try:
                self._process.stdin.write(line.encode("ascii"))
                self._process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                self._process = None

    def register(self, pgid: int) -> None:
        self._send(f"add {pgid}\n")

    def unregister(self, pgid: int) -> None:
        self._send(f"remove {pgid}\n")


def _death_signal_preexec() -> Any:
    """A ``preexec_fn`` that asks Linux to SIGKILL the child when its parent thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    parent_pid = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: keep it minimal
        prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@dataclass(slots=True)
class StartedKernel:
    """A kernel that is up and has answered ``kernel_info``; for exactly one run."""

    km: Any  # jupyter_client.AsyncKernelManager
    kc: Any  # its AsyncKernelClient, channels started
    kernel_name: str
    cwd: str
    log_path: str
    start_seconds: float
    pgid: int | None
    ready_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int | None:
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)

    def kill_now(self) -> None:
        """SIGKILL the kernel's whole process group (a timeout, an interrupt)."""
        if self.pgid is not None and hasattr(os, "killpg"):
            with contextlib.suppress(OSError):
                os.killpg(self.pgid, signal.SIGKILL)
                return
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


_IPC_DIR: str | None = None


def _ipc_directory() -> str:
    # Unix socket paths are limited to ~100 bytes, so the IPC files live in a short temporary folder.
    global _IPC_DIR
    if _IPC_DIR is None or not os.path.isdir(_IPC_DIR):
        _IPC_DIR = tempfile.mkdtemp(prefix="nbh-")
    return _IPC_DIR


async def start_kernel(
    kernel_name: str,
    cwd: str,
    *,
    log_dir: str,
    startup_timeout: float = 60.0,
    reaper: ProcessGroupReaper | None = None,
    on_launched: Callable[[], None] | None = None,
) -> StartedKernel:
    """Start a kernel in ``cwd`` and wait until it answers; its own output goes to a log file.

    ``on_launched`` is called as soon as the kernel's process exists, before it is ready."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import NoSuchKernel

    began = time.monotonic()
    kwargs: dict[str, Any] = {"kernel_name": kernel_name}
    if os.name == "posix":
        # IPC sockets: no TCP ports to race for when many kernels start at once, and no
        # "running over TCP without encryption" warning.
        kwargs["transport"] = "ipc"
    km = AsyncKernelManager(**kwargs)
    if os.name == "posix":
        km.ip = os.path.join(_ipc_directory(), f"k{os.getpid()}-{id(km):x}")
    log_fd, log_path = tempfile.mkstemp(prefix="kernel-", suffix=".log", dir=log_dir)
    launch: dict[str, Any] = {"cwd": cwd, "stdout": log_fd, "stderr": log_fd}
    preexec = _death_signal_preexec()
    if preexec is not None:
        launch["preexec_fn"] = preexec
    try:
        try:
            await km.start_kernel(**launch)
        except NoSuchKernel:
            raise ExecutionSetupError(
                f"kernel {kernel_name!r} is not installed (`jupyter kernelspec list` shows the kernels)"
            ) from None
        except (OSError, ValueError) as exc:
            raise ExecutionSetupError(f"kernel {kernel_name!r} could not be started: {exc}") from None
    finally:
        os.close(log_fd)
    pgid = None
    pid = getattr(getattr(km.provisioner, "process", None), "pid", None)
    if pid is not None and hasattr(os, "getpgid"):
        with contextlib.suppress(OSError):
            pgid = os.getpgid(pid)
    if pgid is not None and reaper is not None:
        reaper.register(pgid)
    if on_launched is not None:
        on_launched()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=startup_timeout)
    except (RuntimeError, asyncio.TimeoutError) as exc:
        kernel = StartedKernel(km, kc, kernel_name, cwd, log_path, time.monotonic() - began, pgid)
        await shutdown_kernel(kernel, now=True, reaper=reaper)
        raise ExecutionSetupError(f"kernel {kernel_name!r} did not become ready: {exc}") from None
    except BaseException:
        kernel = StartedKernel(km, kc, kernel_name, cwd, log_path, time.monotonic() - began, pgid)
        await shutdown_kernel(kernel, now=True, reaper=reaper)
        raise
    kc.allow_stdin = False
    return StartedKernel(km, kc, kernel_name, cwd, log_path, time.monotonic() - began, pgid)


async def shutdown_kernel(
    kernel: StartedKernel, *, now: bool = False, reaper: ProcessGroupReaper | None = None
) -> None:
    """Stop the kernel (politely unless ``now``), then kill whatever is left in its process group."""
    try:
        with contextlib.suppress(Exception):
            kernel.kc.stop_channels()
        if now:
            kernel.kill_now()
        with contextlib.suppress(Exception):
            await kernel.km.shutdown_kernel(now=now)
    finally:
        # Processes the notebook started (and left running) end with its kernel.
        if kernel.pgid is not None and hasattr(os, "killpg"):
            with contextlib.suppress(OSError):
                os.killpg(kernel.pgid, signal.SIGKILL)
            if reaper is not None:
                reaper.unregister(kernel.pgid)
        with contextlib.suppress(Exception):
            await kernel.km.cleanup_resources()


class KernelPool:
    """Pre-started single-use kernels for one kernel name and working directory.

    ``expect(n)`` says how many runs still need a kernel; the pool keeps up to ``ahead`` kernels
    starting or ready beyond those handed out, and never starts more kernels than runs expected, so a
    batch leaves no kernel unused.
    """

    def __init__(
        self,
        kernel_name: str,
        cwd: str,
        *,
        ahead: int,
        log_dir: str,
        startup_timeout: float = 60.0,
        reaper: ProcessGroupReaper | None = None,
    ) -> None:
        self.kernel_name = kernel_name
        self.cwd = cwd
        self.ahead = max(1, ahead)
        self.log_dir = log_dir
        self.startup_timeout = startup_timeout
        self.reaper = reaper
        self._expected = 0
        self._pending: deque[asyncio.Task[StartedKernel]] = deque()
        self._shutdowns: set[asyncio.Task[None]] = set()
        self._closed = False
        self._launched: asyncio.Event | None = None

    def expect(self, count: int) -> None:
        self._expected += count
        self._refill()

    def _refill(self) -> None:
        while not self._closed and len(self._pending) < min(self.ahead, self._expected):
            task = asyncio.ensure_future(
                start_kernel(
                    self.kernel_name,
                    self.cwd,
                    log_dir=self.log_dir,
                    startup_timeout=self.startup_timeout,
                    reaper=self.reaper,
                    on_launched=self._note_launched,
                )
            )
            self._pending.append(task)

    def _note_launched(self) -> None:
        if self._launched is None:
            self._launched = asyncio.Event()
        self._launched.set()

    async def wait_launched(self, timeout: float = 10.0) -> None:
        """Wait until at least one kernel process has been launched (or its start ended, or ``timeout``)."""
        if not self._pending:
            return
        if self._launched is None:
            self._launched = asyncio.Event()
        launched = asyncio.ensure_future(self._launched.wait())
        try:
            await asyncio.wait(
                [launched, self._pending[0]], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            launched.cancel()

    async def acquire(self) -> StartedKernel:
        """The oldest pre-started kernel (waiting for it if it is still starting)."""
        if self._closed:
            raise ExecutionSetupError("the kernel pool is closed")
        if not self._pending:
            self._expected = max(self._expected, 1)
            self._refill()
        task = self._pending.popleft()
        self._expected = max(0, self._expected - 1)
        self._refill()
        return await task

    def release(self, kernel: StartedKernel, *, now: bool = False) -> None:
        """Shut the kernel down in the background; the next run does not wait for it."""
        task = asyncio.ensure_future(shutdown_kernel(kernel, now=now, reaper=self.reaper))
        self._shutdowns.add(task)
        task.add_done_callback(self._shutdowns.discard)

    async def close(self, *, abort: bool = False) -> None:
        """Stop kernels that were started for runs that will not come, and wait for every shutdown.

        A start in flight is awaited, not cancelled: cancelling it halfway could leave a kernel process
        that nothing stops until the coordinator exits. ``abort`` (an interrupt) kills instead."""
        self._closed = True
        pending = list(self._pending)
        self._pending.clear()
        for task in pending:
            try:
                kernel = await task
            except BaseException:
                continue
            self.release(kernel, now=abort)
        if self._shutdowns:
            await asyncio.gather(*list(self._shutdowns), return_exceptions=True)
