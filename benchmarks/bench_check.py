"""Speed of `nbhygiene check` against its peers, side by side in one run on the PyPI corpus.

    python benchmarks/bench_check.py [--corpus DIR] [--repeat N] [--skip-pynblint]

Measures (wall time of whole processes, best of N):
  floor     one Python process that only does json.loads + ast.parse of every code cell
  cold      nbhygiene check --no-cache (every core)
  warm      nbhygiene check with a primed results cache
  ruff      ruff check of the same files (its cache primed, and with --no-cache)
  pynblint  pynblint 0.1.6 in its own venv (click<8.2), over the notebooks it can read
and the peak memory of checking one notebook with 100 MB of image outputs.
Goals (issue 2): cold <= 3x floor; >= 10x faster than pynblint; warm <= ruff; peak < 3x file size.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FETCH = ROOT.parent / "shared" / "corpus" / "fetch_corpus.py"
CACHE = Path(os.environ.get("NBHYGIENE_BENCH_CACHE", Path.home() / ".cache" / "nbhygiene-bench"))

FLOOR = r"""
import ast, json, os, sys
for directory, _, files in os.walk(sys.argv[1]):
    for name in files:
        if not name.endswith(".ipynb"):
            continue
        try:
            nb = json.loads(open(os.path.join(directory, name), "rb").read())
        except Exception:
            continue
        cells = nb.get("cells") if isinstance(nb, dict) else None
        for cell in cells or []:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                source = cell.get("source", "")
                source = "".join(source) if isinstance(source, list) else str(source)
                try:
                    ast.parse(source)
                except Exception:
                    pass
"""


def timed(
    command: list[str], repeat: int, env: dict[str, str] | None = None, cwd: str | None = None
) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
        best = min(best, time.perf_counter() - start)
    return best


def corpus(path: str | None) -> Path:
    target = Path(path) if path else CACHE / "corpus"
    if not (target / "MANIFEST.json").exists():
        subprocess.run([sys.executable, str(FETCH), str(target), "--direct"], check=True)
    return target


def pynblint_venv() -> Path | None:
    venv = CACHE / "pynblint-venv"
    exe = venv / "bin" / "pynblint"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        result = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "pynblint==0.1.6", "click<8.2"], capture_output=True
        )
        if result.returncode != 0:
            print("pynblint could not be installed:", result.stderr.decode()[-500:])
            return None
    return exe


def readable_copy(source: Path, target: Path) -> int:
    """The corpus minus the notebooks pynblint cannot read: it aborts its whole run on one invalid file,
    so it is given only v4 notebooks that pass nbformat's validation."""
    import nbformat

    count = 0
    for path in sorted(source.rglob("*.ipynb")):
        try:
            nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
            data = json.loads(path.read_bytes())
        except Exception:
            continue
        if not isinstance(data, dict) or data.get("nbformat") != 4:
            continue
        destination = target / f"{count:04d}_{path.name}"
        shutil.copy(path, destination)
        count += 1
    return count


def run_pynblint(exe: Path, folder: Path, report: Path) -> tuple[int, float]:
    """Time pynblint over ``folder``. It aborts the whole run on a notebook it cannot handle, so such
    notebooks are removed (named from its traceback) until a run completes; that run is timed."""
    import re

    for _attempt in range(40):
        start = time.perf_counter()
        result = subprocess.run(
            [str(exe), str(folder), "-y", "-o", str(report)], capture_output=True, text=True
        )
        elapsed = time.perf_counter() - start
        if result.returncode == 0 and report.exists():
            return sum(1 for _ in folder.glob("*.ipynb")), elapsed
        culprits = re.findall(r"(\d{4}_[^'\s]+\.ipynb)", result.stdout + result.stderr)
        crashed = [c for c in culprits if f"path = PosixPath('{folder}/{c}')" in result.stdout] or culprits[
            :1
        ]
        if not crashed:
            print("pynblint failed:", (result.stdout + result.stderr)[-800:])
            return 0, float("nan")
        print(f"pynblint aborted its run on {crashed[0]}: removed, run again")
        (folder / crashed[0]).unlink(missing_ok=True)
    return 0, float("nan")


def big_notebook(path: Path, megabytes: int) -> None:
    chunk = base64.b64encode(os.urandom(3 * 1024 * 1024 // 4 * 4)).decode()  # ~4 MB of base64 per image
    cells = []
    for i in range(max(1, megabytes // 4)):
        cells.append(
            {
                "cell_type": "code",
                "execution_count": i + 1,
                "id": f"c{i}",
                "metadata": {},
                "source": [f"plot_{i} = show({i})\n"],
                "outputs": [{"output_type": "display_data", "data": {"image/png": chunk}, "metadata": {}}],
            }
        )
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook))


def peak_rss_mb(command: list[str]) -> float:
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True).stdout
    return int(out.strip()) / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-pynblint", action="store_true")
    args = parser.parse_args()
    notebooks = corpus(args.corpus)
    count = sum(1 for _ in notebooks.rglob("*.ipynb"))
    nbhygiene = [sys.executable, "-m", "nbhygiene", "check", str(notebooks), "-q", "--exit-zero"]
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NBHYGIENE_CACHE_DIR=os.path.join(tmp, "cache"))
        results["floor"] = timed([sys.executable, "-c", FLOOR, str(notebooks)], args.repeat)
        results["cold"] = timed([*nbhygiene, "--no-cache"], args.repeat, env)
        results["cold_1_core"] = timed([*nbhygiene, "--no-cache", "-j", "1"], args.repeat, env)
        subprocess.run(nbhygiene, env=env, stdout=subprocess.DEVNULL)
        results["warm"] = timed(nbhygiene, args.repeat, env)
        ruff = shutil.which("ruff")
        if ruff:
            ruff_cmd = [
                ruff,
                "check",
                str(notebooks),
                "--exit-zero",
                "-q",
                "--cache-dir",
                os.path.join(tmp, "ruff"),
            ]
            subprocess.run(ruff_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            results["ruff_cached"] = timed(ruff_cmd, args.repeat)
            results["ruff_no_cache"] = timed([*ruff_cmd, "--no-cache"], args.repeat)
        if not args.skip_pynblint and (exe := pynblint_venv()):
            readable = Path(tmp) / "readable"
            readable.mkdir()
            n = readable_copy(notebooks, readable)
            n, results["pynblint"] = run_pynblint(exe, readable, Path(tmp) / "pynblint.json")
            results["nbhygiene_same_files"] = timed(
                [
                    sys.executable,
                    "-m",
                    "nbhygiene",
                    "check",
                    str(readable),
                    "-q",
                    "--exit-zero",
                    "--no-cache",
                ],
                args.repeat,
                env,
            )
            print(f"pynblint and nbhygiene both on {n} readable v4 notebooks")
        big = Path(tmp) / "big.ipynb"
        big_notebook(big, 100)
        size_mb = big.stat().st_size / 1024 / 1024
        peak = peak_rss_mb(
            [sys.executable, "-m", "nbhygiene", "check", str(big), "--no-cache", "-q", "--exit-zero"]
        )
        baseline = peak_rss_mb([sys.executable, "-c", "import nbhygiene.engine"])
    print(f"\ncorpus: {count} notebooks in {notebooks}")
    for name, seconds in results.items():
        print(f"  {name:<22} {seconds:7.3f} s")
    print(f"\ncold / floor              = {results['cold'] / results['floor']:.2f}x   (goal <= 3)")
    if "pynblint" in results:
        ratio = results["pynblint"] / results["nbhygiene_same_files"]
        print(f"pynblint / nbhygiene      = {ratio:.1f}x   (goal >= 10)")
    if "ruff_cached" in results:
        print(f"warm / ruff (cached)      = {results['warm'] / results['ruff_cached']:.2f}x   (goal <= 1)")
        print(f"warm / ruff (--no-cache)  = {results['warm'] / results['ruff_no_cache']:.2f}x")
    print(
        f"peak memory, {size_mb:.0f} MB notebook = {peak:.0f} MB = {peak / size_mb:.2f}x file size (goal < 3);"
        f" interpreter + imports alone {baseline:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
