#!/usr/bin/env python
"""Build *real* Jupyter notebooks by executing cells in a real kernel, in a scripted order.

Fixture and example notebooks for nbhygiene must carry real outputs and execution counts, produced
the way a person produces them: cells run out of order, edited after they ran, deleted while their
definitions live on in the kernel, never run at all, ...  This tool replays such a history from a
YAML spec against ONE ipykernel and saves the notebook exactly as Jupyter would.

Spec format (YAML)::

    output: ../example_notebooks/wine_quality_poc.ipynb   # optional, relative to the spec file
    kernel: python3                                        # default
    cwd: tmp            # optional kernel working directory: a path relative to the spec file, or
                        # "tmp" for a fresh temporary directory (default: the output's directory)
    timeout: 120        # optional per-cell timeout in seconds
    env: {NAME: value}  # optional extra environment variables for the kernel
    cells:
      - id: imports            # nbformat 4.5 cell id, [a-zA-Z0-9-_]{1,64}
        type: code             # code | markdown | raw (default code)
        source: |
          import numpy as np
        tags: [parameters]     # optional
        metadata: {}           # optional extra cell metadata
    ops:                       # default: run every code cell top to bottom
      - run: [imports, load]             # execute cells (by id) in this order
      - run_all: true                    # execute all code cells, in current notebook order
      - edit: {cell: load, source: "..."}  # change the source after it ran (outputs/count kept)
      - delete: helper                   # remove cell(s); their definitions stay in the kernel
      - insert: {after: load, cell: {id: extra, source: "x = 1"}}   # or before: ID; neither = append
      - restart: true                    # restart the kernel (execution counts restart at 1)
      - clear: [cell_id]                 # clear outputs + execution count (as if never run)
    expect: {rule-name: [cell ids] | [notebook]}   # ignored by the builder (consumed by tests)
    absent: [rule-name, ...]                       # ignored by the builder (consumed by tests)

A trailing newline of a cell source is dropped (Jupyter front ends do not keep one).

Usage::

    python tools/nbbuild.py SPEC.yaml [SPEC.yaml ...] [--out-dir DIR] [--check]

The module is importable (``build_notebook``, ``load_spec``, ``write_notebook``, ``check_notebook``);
it depends only on the standard library, jupyter_client, nbformat and PyYAML.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nbformat
import yaml
from jupyter_client.manager import KernelManager
from nbformat import NotebookNode
from nbformat import v4 as nbv4

__all__ = [
    "KNOWN_RULES",
    "BuildError",
    "SpecError",
    "build_notebook",
    "check_notebook",
    "load_spec",
    "main",
    "output_path_for",
    "write_notebook",
]

CELL_ID_RE = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
DEFAULT_KERNEL = "python3"
DEFAULT_TIMEOUT = 120.0
STARTUP_TIMEOUT = 60.0
KERNEL_ENV = {
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    # ipykernel's debugger otherwise prints a frozen-modules warning on stderr.
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
CELL_TYPES = ("code", "markdown", "raw")
OP_NAMES = ("run", "run_all", "edit", "delete", "insert", "restart", "clear")

#: The fixed rule-name contract of nbhygiene; names in ``expect``/``absent`` are checked against it.
KNOWN_RULES = frozenset(
    {
        "execution-order",
        "unexecuted-cell",
        "use-before-definition",
        "undefined-name",
        "stale-output",
        "non-idempotent-cell",
        "syntax-error",
        "execution-count-gap",
        "kernel-not-fresh",
        "python2-notebook",
        "no-execution-history",
        "notebook-schema",
        "star-import",
        "import-not-at-top",
        "pip-install-in-notebook",
        "run-magic",
        "hardcoded-path",
        "secret-in-notebook",
        "saved-error-output",
        "large-output",
        "long-cell",
        "duplicate-code",
        "unused-definition",
        "global-in-function",
        "glue-code",
        "hardcoded-hyperparameter",
        "missing-parameters-cell",
        "preprocessing-leakage",
        "test-data-in-training",
        "evaluation-on-training-data",
        "unseeded-randomness",
    }
)


class SpecError(ValueError):
    """The spec is malformed (unknown op, unknown cell id, bad cell id, ...)."""


class BuildError(RuntimeError):
    """The kernel could not execute the build (timeout, dead kernel, ...)."""


# --------------------------------------------------------------------------------------------- spec


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML spec file; returns a dict (the file's directory is not recorded in it)."""
    with open(path, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    if not isinstance(spec, dict):
        raise SpecError(f"{path}: a spec must be a YAML mapping")
    return spec


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (str, dict)):
        return [value]
    raise SpecError(f"{what}: expected a cell id or a list, got {value!r}")


def _normalize_source(source: Any, where: str) -> str:
    if source is None:
        return ""
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    if not isinstance(source, str):
        raise SpecError(f"{where}: source must be a string")
    return source.rstrip("\n")


def _make_cell(cell_spec: Any, where: str) -> NotebookNode:
    if not isinstance(cell_spec, dict):
        raise SpecError(f"{where}: a cell must be a mapping with at least an id")
    unknown = set(cell_spec) - {"id", "type", "source", "tags", "metadata"}
    if unknown:
        raise SpecError(f"{where}: unknown cell keys {sorted(unknown)}")
    cell_id = cell_spec.get("id")
    if not isinstance(cell_id, str) or not CELL_ID_RE.match(cell_id):
        raise SpecError(f"{where}: cell id {cell_id!r} must match [a-zA-Z0-9-_]{{1,64}}")
    cell_type = cell_spec.get("type", "code")
    if cell_type not in CELL_TYPES:
        raise SpecError(f"{where}: cell {cell_id!r} has unknown type {cell_type!r}")
    source = _normalize_source(cell_spec.get("source", ""), f"{where} ({cell_id})")
    metadata = copy.deepcopy(cell_spec.get("metadata") or {})
    if not isinstance(metadata, dict):
        raise SpecError(f"{where}: metadata of {cell_id!r} must be a mapping")
    tags = cell_spec.get("tags")
    if tags:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise SpecError(f"{where}: tags of {cell_id!r} must be a list of strings")
        metadata["tags"] = list(tags)
    if cell_type == "code":
        return nbv4.new_code_cell(source=source, id=cell_id, metadata=metadata)
    if cell_type == "markdown":
        return nbv4.new_markdown_cell(source=source, id=cell_id, metadata=metadata)
    return nbv4.new_raw_cell(source=source, id=cell_id, metadata=metadata)


# ------------------------------------------------------------------------------------------- kernel


class _Kernel:
    """One ipykernel, executed cell by cell; collects outputs as Jupyter would save them."""

    def __init__(self, kernel_name: str, cwd: str, env: dict[str, str], timeout: float):
        self.kernel_name = kernel_name
        self.cwd = cwd
        self.env = env
        self.timeout = timeout
        self.km: KernelManager | None = None
        self.kc: Any = None
        # The kernel's own stderr (not cell output) goes to a temp file, shown only on failure.
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        # display_id -> outputs showing it (update_display_data edits them in place, across cells)
        self._displays: dict[str, list[NotebookNode]] = {}

    def start(self) -> None:
        self.km = KernelManager(kernel_name=self.kernel_name)
        self.km.start_kernel(cwd=self.cwd, env=self.env, stdout=self._log, stderr=self._log)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        except RuntimeError as exc:
            raise BuildError(f"kernel {self.kernel_name!r} did not start: {exc}{self.log_tail()}") from exc

    def log_tail(self, limit: int = 2000) -> str:
        self._log.flush()
        self._log.seek(0)
        text = self._log.read()[-limit:].strip()
        self._log.seek(0, os.SEEK_END)
        return f"\n--- kernel log ---\n{text}" if text else ""

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self._log.close()

    def stop(self) -> None:
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            finally:
                self.kc = None
        if self.km is not None:
            try:
                if self.km.has_kernel:
                    self.km.shutdown_kernel(now=False)
            finally:
                self.km = None

    def restart(self) -> None:
        # A clean stop + start (a new process, same cwd/env) is the most robust "Restart Kernel".
        self.stop()
        self.start()

    def kernel_info(self) -> tuple[dict[str, Any], dict[str, Any]]:
        assert self.km is not None and self.kc is not None
        reply = self.kc.kernel_info(reply=True, timeout=STARTUP_TIMEOUT)
        language_info = dict(reply["content"].get("language_info") or {})
        spec = self.km.kernel_spec
        kernelspec = {
            "display_name": spec.display_name if spec else "Python 3 (ipykernel)",
            "language": spec.language if spec else "python",
            "name": self.kernel_name,
        }
        return kernelspec, language_info

    def execute(self, source: str, cell_id: str) -> tuple[int | None, list[NotebookNode]]:
        assert self.kc is not None
        outputs: list[NotebookNode] = []
        pending_clear = False

        def hook(msg: dict[str, Any]) -> None:
            nonlocal pending_clear
            msg_type = msg["header"]["msg_type"]
            content = msg["content"]
            if msg_type == "clear_output":
                if content.get("wait"):
                    pending_clear = True
                else:
                    outputs.clear()
                return
            if msg_type == "update_display_data":
                display_id = (content.get("transient") or {}).get("display_id")
                for out in self._displays.get(display_id, []):
                    out["data"] = copy.deepcopy(content.get("data", {}))
                    out["metadata"] = copy.deepcopy(content.get("metadata", {}))
                return
            if msg_type not in ("stream", "display_data", "execute_result", "error"):
                return
            if pending_clear:
                outputs.clear()
                pending_clear = False
            out = nbv4.output_from_msg(msg)
            if (
                out.output_type == "stream"
                and outputs
                and outputs[-1].output_type == "stream"
                and outputs[-1].name == out.name
            ):
                outputs[-1].text += out.text
                return
            outputs.append(out)
            display_id = (content.get("transient") or {}).get("display_id")
            if display_id and msg_type in ("display_data", "execute_result"):
                self._displays.setdefault(display_id, []).append(out)

        try:
            reply = self.kc.execute_interactive(
                source,
                store_history=True,
                allow_stdin=False,
                stop_on_error=False,
                timeout=self.timeout,
                output_hook=hook,
            )
        except TimeoutError as exc:
            assert self.km is not None
            if self.km.is_alive():
                self.km.interrupt_kernel()
            raise BuildError(
                f"cell {cell_id!r} did not finish within {self.timeout:g} s{self.log_tail()}"
            ) from exc
        count = reply["content"].get("execution_count")
        for out in outputs:
            if out.output_type == "execute_result":
                out.execution_count = count
        return count, outputs


# -------------------------------------------------------------------------------------------- build


def _resolve_cwd(spec: dict[str, Any], cwd: str | os.PathLike[str] | None) -> tuple[str, str | None]:
    """Returns (kernel cwd, temporary directory to delete afterwards or None)."""
    if cwd is None:
        cwd = spec.get("cwd")
    if cwd == "tmp":
        tmp = tempfile.mkdtemp(prefix="nbbuild-")
        return tmp, tmp
    if cwd is None:
        return os.getcwd(), None
    path = os.path.abspath(os.fspath(cwd))
    if not os.path.isdir(path):
        raise SpecError(f"kernel cwd {path!r} is not a directory")
    return path, None


def _validate_expectations(spec: dict[str, Any], cell_ids: set[str]) -> list[str]:
    """Light checks of expect/absent (typos in rule names or cell ids); returns warnings."""
    warnings: list[str] = []
    expect = spec.get("expect") or {}
    if not isinstance(expect, dict):
        return ["expect: must be a mapping rule -> list of cell ids"]
    for rule, targets in expect.items():
        if rule not in KNOWN_RULES:
            warnings.append(f"expect: unknown rule name {rule!r}")
        for target in _as_list(targets or [], f"expect.{rule}"):
            if target != "notebook" and target not in cell_ids:
                warnings.append(f"expect.{rule}: no cell {target!r} in the built notebook")
    absent = spec.get("absent") or []
    for rule in _as_list(absent, "absent"):
        if rule not in KNOWN_RULES:
            warnings.append(f"absent: unknown rule name {rule!r}")
        if rule in expect:
            warnings.append(f"absent: {rule!r} is also expected")
    return warnings


def build_notebook(
    spec: dict[str, Any],
    cwd: str | os.PathLike[str] | None = None,
    *,
    timeout: float | None = None,
) -> NotebookNode:
    """Execute ``spec`` against one real kernel and return the resulting (validated) notebook.

    ``cwd`` is the kernel's working directory; when ``None`` the spec's ``cwd`` key is used
    ("tmp" = a fresh temporary directory, removed afterwards), else the current directory.
    """
    if not isinstance(spec, dict):
        raise SpecError("a spec must be a mapping")
    cells_spec = spec.get("cells")
    if not isinstance(cells_spec, list) or not cells_spec:
        raise SpecError("spec needs a non-empty 'cells' list")
    cells: list[NotebookNode] = []
    seen: set[str] = set()
    for i, cs in enumerate(cells_spec):
        cell = _make_cell(cs, f"cells[{i}]")
        if cell.id in seen:
            raise SpecError(f"duplicate cell id {cell.id!r}")
        seen.add(cell.id)
        cells.append(cell)

    ops = spec.get("ops")
    if ops is None:
        ops = [{"run_all": True}]
    if not isinstance(ops, list):
        raise SpecError("'ops' must be a list")
    for n, op in enumerate(ops):  # shape check before a kernel is started
        if not isinstance(op, dict) or len(op) != 1 or next(iter(op)) not in OP_NAMES:
            raise SpecError(f"ops[{n}]: each op is a mapping with exactly one of {OP_NAMES}, got {op!r}")

    kernel_name = spec.get("kernel") or DEFAULT_KERNEL
    timeout = float(timeout if timeout is not None else spec.get("timeout", DEFAULT_TIMEOUT))
    extra_env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
    env = {**os.environ, **KERNEL_ENV, **extra_env}
    kernel_cwd, tmp_dir = _resolve_cwd(spec, cwd)

    def index_of(cell_id: Any, where: str) -> int:
        for i, c in enumerate(cells):
            if c.id == cell_id:
                return i
        raise SpecError(f"{where}: no cell {cell_id!r} in the notebook at this point")

    kernel = _Kernel(kernel_name, kernel_cwd, env, timeout)
    try:
        kernel.start()
        kernelspec, language_info = kernel.kernel_info()

        def run(cell_id: str, where: str) -> None:
            cell = cells[index_of(cell_id, where)]
            if cell.cell_type != "code":
                raise SpecError(f"{where}: cell {cell_id!r} is a {cell.cell_type} cell, not code")
            count, outputs = kernel.execute(cell.source, cell.id)
            cell.execution_count = count
            cell.outputs = outputs

        for n, op in enumerate(ops):
            where = f"ops[{n}]"
            ((name, arg),) = op.items()
            if name == "run":
                for cell_id in _as_list(arg, where):
                    run(cell_id, where)
            elif name == "run_all":
                if arg:
                    for cell_id in [c.id for c in cells if c.cell_type == "code"]:
                        run(cell_id, where)
            elif name == "edit":
                for edit in _as_list(arg, where):
                    if not isinstance(edit, dict) or "cell" not in edit:
                        raise SpecError(f"{where}: edit needs {{cell: ID, source: ...}}")
                    cell = cells[index_of(edit["cell"], where)]
                    if "source" in edit:
                        cell.source = _normalize_source(edit["source"], where)
                    if "tags" in edit:
                        if edit["tags"]:
                            cell.metadata["tags"] = list(edit["tags"])
                        else:
                            cell.metadata.pop("tags", None)
            elif name == "delete":
                for cell_id in _as_list(arg, where):
                    del cells[index_of(cell_id, where)]
            elif name == "insert":
                for ins in _as_list(arg, where):
                    if not isinstance(ins, dict) or "cell" not in ins:
                        raise SpecError(f"{where}: insert needs {{after|before: ID, cell: {{...}}}}")
                    cell = _make_cell(ins["cell"], where)
                    if any(c.id == cell.id for c in cells):
                        raise SpecError(f"{where}: a cell {cell.id!r} already exists")
                    if "after" in ins:
                        pos = index_of(ins["after"], where) + 1
                    elif "before" in ins:
                        pos = index_of(ins["before"], where)
                    else:
                        pos = len(cells)
                    cells.insert(pos, cell)
            elif name == "restart":
                if arg:
                    kernel.restart()
            elif name == "clear":
                for cell_id in _as_list(arg, where):
                    cell = cells[index_of(cell_id, where)]
                    if cell.cell_type == "code":
                        cell.execution_count = None
                        cell.outputs = []
            else:
                raise SpecError(f"{where}: unknown op {name!r} (expected one of {OP_NAMES})")
    finally:
        kernel.close()
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    for cell in cells:  # outputs are plain NotebookNodes; drop the display-id bookkeeping aliasing
        if cell.cell_type == "code":
            cell.outputs = [copy.deepcopy(o) for o in cell.outputs]
    nb = nbv4.new_notebook(
        cells=cells,
        metadata={"kernelspec": kernelspec, "language_info": language_info},
    )
    nb.nbformat, nb.nbformat_minor = 4, 5
    nbformat.validate(nb)
    for warning in _validate_expectations(spec, {c.id for c in cells}):
        print(f"nbbuild: warning: {warning}", file=sys.stderr)
    return nb


# ------------------------------------------------------------------------------------------- writing


def write_notebook(nb: NotebookNode, path: str | os.PathLike[str]) -> None:
    """Validate and write ``nb`` atomically (temp file in the same directory + os.replace)."""
    nbformat.validate(nb)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            nbformat.write(nb, fh)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def output_path_for(
    spec_path: str | os.PathLike[str], spec: dict[str, Any], out_dir: str | None = None
) -> Path:
    """Where the notebook built from ``spec_path`` goes (``--out-dir`` > spec ``output`` > stem)."""
    spec_path = Path(spec_path)
    if out_dir is not None:
        name = Path(spec["output"]).name if spec.get("output") else spec_path.stem + ".ipynb"
        return Path(out_dir) / name
    if spec.get("output"):
        return (spec_path.parent / spec["output"]).resolve()
    return spec_path.with_suffix(".ipynb")


def _kernel_cwd_for(spec_path: Path, spec: dict[str, Any], out_path: Path) -> str:
    cwd = spec.get("cwd")
    if cwd == "tmp":
        return "tmp"
    if cwd is not None:
        return str((spec_path.parent / cwd).resolve())
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return str(out_path.parent.resolve())


# -------------------------------------------------------------------------------------------- check


def _signature(nb: NotebookNode) -> list[tuple[Any, ...]]:
    return [
        (
            c.get("id"),
            c.cell_type,
            c.source,
            c.get("execution_count"),
            tuple(c.metadata.get("tags", [])),
        )
        for c in nb.cells
    ]


def _output_kinds(cell: NotebookNode) -> tuple[str, ...]:
    if cell.cell_type != "code":
        return ()
    return tuple(o.output_type + (f":{o.name}" if o.output_type == "stream" else "") for o in cell.outputs)


def check_notebook(built: NotebookNode, committed: NotebookNode) -> tuple[list[str], list[str]]:
    """Compare a fresh build with the committed notebook.

    Returns (problems, notes): problems are differences in cell ids, types, sources, execution
    counts or tags; notes are differences in the kinds of outputs (not fatal: text may vary).
    """
    problems: list[str] = []
    notes: list[str] = []
    a, b = _signature(built), _signature(committed)
    if len(a) != len(b):
        problems.append(f"cell count differs: spec builds {len(a)}, committed has {len(b)}")
    fields = ("id", "type", "source", "execution_count", "tags")
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        for field, u, v in zip(fields, x, y, strict=True):
            if u != v:
                problems.append(f"cell {i + 1} ({x[0]}): {field} differs: built {u!r}, committed {v!r}")
    for i, (cx, cy) in enumerate(zip(built.cells, committed.cells, strict=False)):
        kx, ky = _output_kinds(cx), _output_kinds(cy)
        if kx != ky:
            notes.append(f"cell {i + 1} ({cx.get('id')}): output kinds differ: built {kx}, committed {ky}")
    return problems, notes


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nbbuild",
        description="Build notebooks by executing YAML specs against a real Jupyter kernel.",
    )
    parser.add_argument("specs", nargs="+", help="YAML spec files")
    parser.add_argument("--out-dir", help="write notebooks here instead of the spec's output path")
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild in memory and compare ids/sources/execution counts with the written notebooks",
    )
    parser.add_argument("--timeout", type=float, default=None, help="per-cell timeout in seconds")
    args = parser.parse_args(list(argv) if argv is not None else None)

    status = 0
    for spec_file in args.specs:
        spec_path = Path(spec_file)
        try:
            spec = load_spec(spec_path)
            out_path = output_path_for(spec_path, spec, args.out_dir)
            kernel_cwd = _kernel_cwd_for(spec_path, spec, out_path)
            started = time.monotonic()
            nb = build_notebook(spec, cwd=kernel_cwd, timeout=args.timeout)
            elapsed = time.monotonic() - started
        except (SpecError, BuildError, OSError, yaml.YAMLError) as exc:
            print(f"{spec_file}: error: {exc}", file=sys.stderr)
            status = 2
            continue
        if args.check:
            if not out_path.exists():
                print(f"{out_path}: missing (build it with: python tools/nbbuild.py {spec_file})")
                status = max(status, 1)
                continue
            committed = nbformat.read(out_path, as_version=4)
            problems, notes = check_notebook(nb, committed)
            for note in notes:
                print(f"{out_path}: note: {note}")
            if problems:
                status = max(status, 1)
                for problem in problems:
                    print(f"{out_path}: {problem}")
                print(f"{out_path}: OUT OF DATE")
            else:
                print(f"{out_path}: up to date ({elapsed:.1f} s)")
        else:
            write_notebook(nb, out_path)
            size = out_path.stat().st_size
            print(f"{out_path}: {len(nb.cells)} cells, {size / 1024:.1f} KiB, built in {elapsed:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
