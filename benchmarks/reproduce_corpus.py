"""How many of the PyPI corpus's executable notebooks reproduce, and how many failures the static rules
predicted.

    python benchmarks/reproduce_corpus.py [--corpus DIR] [--sample N] [--seed S] [--timeout S] [--jobs N]

"Executable here" means: a Python notebook with saved execution history (something to reproduce) whose
top-level imports are all installed in this environment (``importlib.util.find_spec``) and that runs
no shell command, install or subprocess (it must not change this environment). Each selected
notebook's directory is copied to a scratch directory first (a run writes files into its working
directory; the corpus stays untouched), then ``check --execute`` runs on the copy.

Reported: notebooks that reproduce, that do not (at least one ``not-reproducible`` cell), that cannot
run here (``cannot-execute``: missing data, network, timeout); and of the non-reproducing notebooks and
cells, how many carry an ``explained_by`` link to a static finding (the static rules predicted them).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from nbhygiene.config import Config
from nbhygiene.engine import analyse, collect_paths
from nbhygiene.loading import NotebookLoadError, load_notebook
from nbhygiene.model import build_model
from nbhygiene.reproduce import check_paths_executed

MAX_DIRECTORY_BYTES = 50 * 1024**2
UNSAFE = ("pip install", "conda install", "subprocess", "os.system", "os.popen", "shutil.rmtree")
UNSAFE_MAGICS = frozenset({"pip", "conda", "mamba", "system", "sx", "bash", "sh", "script", "sudo"})


def _installed(module: str) -> bool:
    top = module.split(".")[0]
    if not top or top.startswith("_"):
        return top != ""
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def executable(path: str, config: Config) -> bool:
    try:
        notebook = build_model(load_notebook(path))
    except NotebookLoadError:
        return False
    if not notebook.is_python or not notebook.has_execution_history:
        return False
    # Never let a corpus notebook change this environment: no shell escapes, no installs, no subprocesses.
    if any(marker in cell.source for cell in notebook.code_cells for marker in UNSAFE):
        return False
    analysis = analyse(notebook, config)
    for parsed in analysis.parsed.values():
        if parsed.cell_magic in UNSAFE_MAGICS or any(
            m.kind == "shell" or m.name in UNSAFE_MAGICS for m in parsed.magics
        ):
            return False
    modules = {module for flow in analysis.flows.values() for _name, module, _line in flow.imports}
    return all(_installed(module) for module in modules)


def _size(directory: str) -> int:
    total = 0
    for base, _dirs, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(base, name))
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="/work/cache/corpus")
    parser.add_argument("--sample", type=int, default=0, help="run only N notebooks, picked at random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per notebook")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", metavar="FILE", help="also write the per-notebook results here")
    args = parser.parse_args(argv)

    config = Config(select=["ALL"])
    paths = collect_paths([args.corpus], config)
    runnable = [p for p in paths if executable(p, config)]
    chosen = sorted(random.Random(args.seed).sample(runnable, args.sample)) if args.sample else runnable
    print(f"{len(paths)} notebooks, {len(runnable)} executable here, running {len(chosen)}", file=sys.stderr)

    scratch = tempfile.mkdtemp(prefix="nbh-reproduce-corpus-")
    copies: dict[str, str] = {}
    try:
        for number, path in enumerate(chosen):
            directory = os.path.dirname(path)
            if _size(directory) > MAX_DIRECTORY_BYTES:
                continue
            target = os.path.join(scratch, str(number))
            shutil.copytree(directory, target, symlinks=True)
            copies[os.path.join(target, os.path.basename(path))] = path
        began = time.monotonic()
        results = check_paths_executed(list(copies), config, jobs=args.jobs, timeout=args.timeout)
        elapsed = time.monotonic() - began
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    rows = []
    for result in results:
        dynamic = [f for f in result.findings if f.rule == "not-reproducible"]
        blocked = [f for f in result.findings if f.rule == "cannot-execute"]
        rows.append(
            {
                "path": os.path.relpath(copies[result.path], args.corpus),
                "error": result.error.message if result.error else None,
                "not_reproducible_cells": [f.cell_position for f in dynamic],
                "explained_cells": [f.cell_position for f in dynamic if f.to_json().get("explained_by")],
                "cannot_execute": blocked[0].message if blocked else None,
            }
        )
    failing = [r for r in rows if r["not_reproducible_cells"]]
    blocked_only = [r for r in rows if r["cannot_execute"] and not r["not_reproducible_cells"]]
    reproducing = [r for r in rows if not r["not_reproducible_cells"] and not r["cannot_execute"]]
    predicted = [r for r in failing if r["explained_cells"]]
    cells = sum(len(r["not_reproducible_cells"]) for r in failing)
    explained = sum(len(r["explained_cells"]) for r in failing)
    ran = len(rows) - len(blocked_only)
    summary = {
        "notebooks": len(paths),
        "executable_here": len(runnable),
        "run": len(rows),
        "seconds": round(elapsed, 1),
        "reproduce": len(reproducing),
        "do_not_reproduce": len(failing),
        "cannot_execute_here": len(blocked_only),
        "reproduce_share_of_those_that_ran": round(len(reproducing) / ran, 3) if ran else None,
        "failing_notebooks_predicted_by_static_rules": len(predicted),
        "failing_cells": cells,
        "failing_cells_explained": explained,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "notebooks": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
