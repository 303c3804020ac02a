"""Round trip of ``POST /nbhygiene/check`` through a real jupyter_server, as the JupyterLab sidebar does it.

    python benchmarks/bench_lab_latency.py [--cells 200] [--requests 100]

Starts ``jupyter server`` with the nbhygiene extension in a temporary root, builds a notebook of
``--cells`` cells from the example notebooks' cells (code, markdown, real outputs and figures, cycled),
and sends its whole content the way the sidebar does on every (debounced) edit: one JSON body over a
kept-alive connection, with a cell edited before each request. Prints the body size and the latency
percentiles; exits 1 when the p95 is not under the goal (issue 6: 150 ms for 200 cells).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "example_notebooks"
GOAL_P95_MS = 150.0


def build_notebook(cells: int) -> dict[str, Any]:
    pool: list[dict[str, Any]] = []
    metadata: dict[str, Any] = {}
    for path in sorted(EXAMPLES.glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        metadata = metadata or notebook["metadata"]
        pool.extend(notebook["cells"])
    chosen = []
    for index in range(cells):
        cell = json.loads(json.dumps(pool[index % len(pool)]))
        cell["id"] = f"cell-{index}"
        if cell["cell_type"] == "code" and cell.get("execution_count") is not None:
            cell["execution_count"] = index + 1
        chosen.append(cell)
    return {"cells": chosen, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(root: Path, base: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    config = base / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"nbhygiene.server": True}}})
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "NBHYGIENE_CACHE_DIR": str(base / "cache"),
    }
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    log = open(base / "server.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(port: int, token: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"jupyter server exited:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/nbhygiene/rules", headers={"Authorization": f"token {token}"})
            if connection.getresponse().status == 200:
                return
        time.sleep(0.2)
    sys.exit(f"jupyter server did not start:\n{log.read_text()[-2000:]}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)

    base = Path(tempfile.mkdtemp(prefix="nbhygiene-lab-bench-"))
    root = base / "root"
    root.mkdir()
    notebook = build_notebook(args.cells)
    (root / "big.ipynb").write_text(json.dumps(notebook, indent=1))
    port, token = free_port(), secrets.token_hex(16)
    process = start_server(root, base, port, token)
    try:
        wait_ready(port, token, process, base / "server.log")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
        code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        timings: list[float] = []
        findings = 0
        size = 0
        for attempt in range(args.warmup + args.requests):
            # An edit between requests, as while typing: the server analyses new content every time.
            edited = code_cells[attempt % len(code_cells)]
            edited["source"] = [f"edit_{attempt} = {attempt}\n", *edited["source"][-3:]]
            body = json.dumps({"path": "big.ipynb", "notebook": notebook})
            size = len(body)
            started = time.perf_counter()
            connection.request("POST", "/nbhygiene/check", body=body, headers=headers)
            response = connection.getresponse()
            reply = json.loads(response.read())
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200 or reply.get("error"):
                sys.exit(f"check failed ({response.status}): {reply}")
            findings = len(reply["findings"])
            if attempt >= args.warmup:
                timings.append(elapsed)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        shutil.rmtree(base, ignore_errors=True)

    p50, p95 = statistics.median(timings), percentile(timings, 0.95)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"notebook: {args.cells} cells, {size / 1024:.0f} KiB of JSON per request, {findings} findings")
    print(
        f"round trip over {len(timings)} requests: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(timings):.1f} ms"
    )
    print(
        f"goal: p95 < {GOAL_P95_MS:.0f} ms -> {'met' if p95 < GOAL_P95_MS else 'NOT met'} (load average {load:.2f})"
    )
    return 0 if p95 < GOAL_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
