"""Benchmark ``nbhygiene run`` against papermill, printed as ratios side by side in one run.

    python benchmarks/bench_runs.py [--runs 20] [--repeat 5]

1. Throughput: a batch of N small runs (``nbhygiene run --grid``, one process, ``--jobs`` = cores) against
   N sequential ``papermill.execute_notebook`` calls in one warm process. Goal: >= 2.5x.
2. Cached re-run: the wall time of a whole ``nbhygiene run`` process answering from the store. Goal: < 0.3 s.
3. Single-run overhead: one fresh ``nbhygiene run`` (``--force``) against one ``papermill`` command, both as
   new processes, medians of ``--repeat``. Goal: within 10%.

Absolute times depend on the machine and on its load (printed at the start and end); compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

NOTEBOOK_CELLS = [
    ("x = 1\n", ["parameters"]),
    ("import math\ny = math.sqrt(x) * 2\n", []),
    ("print(f'x={x} y={y:.3f}')\n", []),
]


def write_notebook(path: str) -> None:
    nb = new_notebook()
    for source, tags in NOTEBOOK_CELLS:
        cell = new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def timed(command: list[str], cwd: str) -> float:
    began = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - began
    if completed.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{completed.stderr[-2000:]}")
    return elapsed


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="runs in the throughput batch (default 20)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="repetitions of the single-run timings (default 5)"
    )
    args = parser.parse_args()

    import papermill

    cores = os.cpu_count() or 1
    nbh = [sys.executable, "-m", "nbhygiene.jobs"]
    print(
        f"machine: {cores} cores, load average {load()}; python {sys.version.split()[0]}, "
        f"papermill {papermill.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as root:
        with open(os.path.join(root, "pyproject.toml"), "w", encoding="utf-8") as handle:
            handle.write("[project]\nname = 'bench'\n")
        write_notebook(os.path.join(root, "small.ipynb"))
        with open(os.path.join(root, "grid.yaml"), "w", encoding="utf-8") as handle:
            handle.write("x: " + json.dumps(list(range(1, args.runs + 1))) + "\n")
        os.makedirs(os.path.join(root, "out"))

        # warm-up: the first kernel start pays for bytecode compilation and disk caches
        papermill.execute_notebook(
            os.path.join(root, "small.ipynb"),
            os.path.join(root, "out", "warm.ipynb"),
            parameters={"x": 0},
            progress_bar=False,
        )
        timed([*nbh, "run", "small.ipynb", "-p", "x", "1000", "--force"], root)

        # 1. throughput
        began = time.perf_counter()
        for x in range(1, args.runs + 1):
            papermill.execute_notebook(
                os.path.join(root, "small.ipynb"),
                os.path.join(root, "out", f"{x}.ipynb"),
                parameters={"x": x},
                progress_bar=False,
            )
        sequential = time.perf_counter() - began
        batch = timed(
            [*nbh, "run", "small.ipynb", "--grid", "grid.yaml", "--jobs", str(cores), "--force"], root
        )

        # 2. cached re-runs (whole processes)
        cached_one = statistics.median(
            timed([*nbh, "run", "small.ipynb", "-p", "x", "3"], root) for _ in range(args.repeat)
        )
        cached_batch = timed([*nbh, "run", "small.ipynb", "--grid", "grid.yaml"], root)

        # 3. single-run overhead, process against process
        papermill_single = statistics.median(
            timed(
                [
                    sys.executable,
                    "-m",
                    "papermill",
                    "small.ipynb",
                    "out/single.ipynb",
                    "-p",
                    "x",
                    "3",
                    "--no-progress-bar",
                ],
                root,
            )
            for _ in range(args.repeat)
        )
        nbhygiene_single = statistics.median(
            timed([*nbh, "run", "small.ipynb", "-p", "x", "3", "--force"], root) for _ in range(args.repeat)
        )

    throughput = sequential / batch
    overhead = (nbhygiene_single - papermill_single) / papermill_single * 100
    rows = [
        (
            "throughput",
            f"{args.runs} runs: papermill sequential {sequential:.2f} s",
            f"nbhygiene --jobs {cores} {batch:.2f} s",
            f"{throughput:.2f}x",
            ">= 2.5x",
            throughput >= 2.5,
        ),
        (
            "cached re-run",
            "one run, whole process",
            f"{cached_one:.3f} s",
            f"{cached_one:.3f} s",
            "< 0.3 s",
            cached_one < 0.3,
        ),
        ("cached batch", f"{args.runs} runs, whole process", f"{cached_batch:.3f} s", "-", "-", None),
        (
            "single run",
            f"papermill CLI {papermill_single:.2f} s",
            f"nbhygiene run {nbhygiene_single:.2f} s",
            f"{overhead:+.1f}%",
            "<= +10%",
            overhead <= 10,
        ),
    ]
    print()
    header = ("measure", "baseline", "nbhygiene", "ratio", "goal", "met")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    print("  ".join(h.ljust(w) for h, w in zip(header, [*widths, 3], strict=False)))
    for row in rows:
        met = "-" if row[5] is None else ("yes" if row[5] else "NO")
        print("  ".join(str(c).ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + met)
    print(f"\nload average at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
