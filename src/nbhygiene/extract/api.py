"""``extract_cells``: plan, generate, check statically, prove by re-execution, then write.

Reads like papermill's ``execute``: load, find an earlier extraction to repeat, plan, rewrite the
notebook and the module in memory, check that no name became undefined, run original and rewritten
notebooks, and only then write the module, the generated test and the notebook (each atomically).
A refusal or a failed verification writes nothing.
"""

from __future__ import annotations

import ast
import copy
import json
import keyword
import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.extract import codegen
from nbhygiene.extract.plan import (
    PLAIN_BUILTINS,
    Plan,
    Refusal,
    Refused,
    SelectionError,
    cells_with_tag,
    function_name_for,
    plan_extraction,
    select_cells,
)
from nbhygiene.io import atomic_write_notebook, atomic_write_text
from nbhygiene.loading import NotebookLoadError, load_notebook, loaded_from_data
from nbhygiene.model import Notebook, build_model

DEFAULT_TIMEOUT = 600.0
MAX_CASE_BYTES = 20 * 1024 * 1024


class ExtractUsageError(ValueError):
    """The request itself is wrong (missing option, unknown cell, unreadable notebook): exit code 2."""


@dataclass(slots=True)
class ExtractedFunction:
    name: str  # the function's name, or the name the extraction is recorded under
    function: str | None  # None when only helper definitions move (no wrapper function)
    params: list[str]
    returns: list[str]
    helpers: list[str]  # module-level definitions that moved
    cells: list[int]  # 1-based positions of the moved cells (in the notebook as it was)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ExtractionResult:
    status: str  # "verified" | "unverified" (--no-verify) | "refused" | "failed"
    notebook: str | None = None
    module: str | None = None
    reason: str | None = None
    differences: list[str] = field(default_factory=list)
    functions: list[ExtractedFunction] = field(default_factory=list)
    refusal: Refusal | None = None
    test: str | None = None
    written: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    module_text: str | None = None
    notebook_data: dict[str, Any] | None = None
    compared_cells: int = 0
    compared_values: int = 0

    @property
    def ok(self) -> bool:
        return self.status in ("verified", "unverified")

    def _first(self) -> ExtractedFunction | None:
        return self.functions[0] if self.functions else None

    @property
    def function(self) -> str | None:
        first = self._first()
        if first is None:
            return None
        return first.function or (first.helpers[0] if first.helpers else first.name)

    @property
    def params(self) -> list[str]:
        first = self._first()
        return list(first.params) if first else []

    @property
    def returns(self) -> list[str]:
        first = self._first()
        return list(first.returns) if first else []

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON document (a contract): exactly these keys."""
        return {
            "status": self.status,
            "function": self.function,
            "params": self.params,
            "returns": self.returns,
            "module": self.module,
            "notebook": self.notebook,
            "reason": self.reason,
            "differences": list(self.differences),
        }

    def to_json_all(self) -> list[dict[str, Any]]:
        """One contract document per extracted function (several tags at once)."""
        if len(self.functions) <= 1:
            return [self.to_json()]
        documents = []
        for extracted in self.functions:
            document = self.to_json()
            document["function"] = extracted.function or (extracted.helpers[0] if extracted.helpers else None)
            document["params"] = list(extracted.params)
            document["returns"] = list(extracted.returns)
            documents.append(document)
        return documents


# -- paths ----------------------------------------------------------------------------------------
def _display_path(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def module_import_name(module_path: str, notebook_dir: str) -> tuple[str, str]:
    """(dotted import name, import root) for ``module_path`` as the notebook's kernel will import it."""
    base = os.path.basename(module_path)
    stem = base[:-3]
    if not stem.isidentifier() or keyword.iskeyword(stem):
        raise Refused(Refusal(f"`{base}` cannot be imported: `{stem}` is not a Python identifier"))
    parts = [stem]
    directory = os.path.dirname(module_path)
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        parts.insert(0, os.path.basename(directory))
        directory = os.path.dirname(directory)
    root = directory
    dotted = ".".join(parts)
    same = os.path.realpath(root) == os.path.realpath(notebook_dir)
    on_path = any(os.path.realpath(p or os.curdir) == os.path.realpath(root) for p in sys.path[1:])
    if not same and not on_path:
        raise Refused(
            Refusal(
                f"{_display_path(module_path)} would not be importable when the notebook runs from its own "
                f"directory ({_display_path(notebook_dir) or '.'}): put the module next to the notebook, or in "
                "a package that environment imports"
            )
        )
    top = parts[0]
    if top in sys.stdlib_module_names:
        raise Refused(Refusal(f"a module named `{top}` would shadow the standard library's `{top}`"))
    if same:
        import importlib.util

        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        origin = getattr(spec, "origin", None) or ""
        if spec is not None and not os.path.realpath(origin).startswith(os.path.realpath(root) + os.sep):
            raise Refused(Refusal(f"a module named `{top}` would shadow the installed `{top}` ({origin})"))
    return dotted, root


# -- helpers --------------------------------------------------------------------------------------
def _model(data: dict[str, Any], path: str) -> Notebook:
    return build_model(loaded_from_data(copy.deepcopy(data), path))


def _records(data: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    found = []
    for index, cell in enumerate(data.get("cells") or []):
        record = ((cell.get("metadata") or {}).get("nbhygiene") or {}).get("extract")
        if isinstance(record, dict):
            found.append((index, record))
    return found


def _unresolved(data: dict[str, Any], path: str) -> set[str]:
    analysis = NotebookAnalysis.build(_model(data, path))
    return {issue.ref.name for issue in analysis.run_all}


def _module_check(module_text: str, names: list[str]) -> str | None:
    """A name the generated functions read that the module does not define, or None."""
    from nbhygiene.dataflow import cell_flow
    from nbhygiene.model import Cell
    from nbhygiene.source import parse_cell

    try:
        ast.parse(module_text)
    except SyntaxError as exc:  # pragma: no cover - generated code always parses
        return f"the module does not parse (line {exc.lineno}: {exc.msg})"
    flow = cell_flow(parse_cell(Cell(0, "code", module_text), 3))
    defined = set(flow.defines) | PLAIN_BUILTINS
    for name in names:
        facts = flow.functions.get(name)
        if facts is None:
            continue
        missing = sorted(set(facts.global_reads) - defined)
        if missing:
            return f"`{name}` reads `{missing[0]}`, which the module does not define"
    return None


def _atomic_write_bytes(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _notebook_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _def_params(text: str) -> list[str]:
    node = ast.parse(text).body[0]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args
        return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    return []


# -- the extraction -------------------------------------------------------------------------------
def extract_cells(
    notebook_path: str | os.PathLike[str],
    cells: str | None = None,
    tag: str | Sequence[str] | None = None,
    module: str | os.PathLike[str] | None = None,
    function: str | None = None,
    output: str | os.PathLike[str] | None = None,
    in_place: bool = False,
    verify: bool = True,
    dry_run: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> ExtractionResult:
    """Move cells of a notebook into a function of ``module`` and rewrite the notebook to call it.

    ``cells`` names cells by 1-based positions over all cells (``"3-5,8"``) or by ids; ``tag`` selects
    the cells carrying a tag, one function per tag when several are given. The user's notebook is only
    changed with ``in_place``; otherwise the rewritten notebook goes to ``output`` (default
    ``NAME.extracted.ipynb`` next to it). Usage errors raise :class:`ExtractUsageError`; refusals and
    failed verifications come back as a result whose ``status`` says so, with nothing written.
    """
    tags = [tag] if isinstance(tag, str) else list(tag or [])
    if module is None:
        raise ExtractUsageError("a module is required (--module PATH)")
    if (cells is None) == (not tags):
        raise ExtractUsageError("select the cells with --cells SPEC or with --tag TAG (one of them)")
    if output is not None and in_place:
        raise ExtractUsageError("--output and --in-place exclude each other")
    if function is not None and len(tags) > 1:
        raise ExtractUsageError(
            "--function names one function; with several tags each is named after its tag"
        )
    notebook_file = os.path.abspath(os.fspath(notebook_path))
    try:
        loaded = load_notebook(notebook_file)
    except NotebookLoadError as exc:
        raise ExtractUsageError(exc.message) from None
    with open(notebook_file, "rb") as handle:
        notebook_bytes = handle.read()
    notebook_dir = os.path.dirname(notebook_file)
    stem = os.path.splitext(os.path.basename(notebook_file))[0]
    if in_place:
        target = notebook_file
    elif output is not None:
        target = os.path.abspath(os.fspath(output))
    else:
        target = os.path.join(notebook_dir, f"{stem}.extracted.ipynb")
    if os.path.dirname(target) != notebook_dir:
        raise ExtractUsageError(
            "the rewritten notebook must stay in the notebook's directory (it reads files and imports the "
            "module relative to it)"
        )
    if target == notebook_file and not in_place:
        raise ExtractUsageError("use --in-place to rewrite the notebook itself")
    module_file = os.path.abspath(os.fspath(module))
    if not module_file.endswith(".py"):
        raise ExtractUsageError("the module must be a .py file")
    target_name = os.path.basename(target)
    result = ExtractionResult("refused", notebook=_display_path(target), module=_display_path(module_file))
    result.dry_run = dry_run
    try:
        import_name, import_root = module_import_name(module_file, notebook_dir)
    except Refused as exc:
        return _refused(result, exc.refusal)
    module_rel = os.path.relpath(module_file, notebook_dir).replace(os.sep, "/")
    existing_module = _read_text(module_file)
    selections: list[tuple[str, str]] = (
        [("cells", cells)] if cells is not None else [("tag", t) for t in tags]
    )
    data: dict[str, Any] = loaded.data
    try:
        working, outputs_from = _restore_earlier(data, selections, function, module_rel)
    except Refused as exc:
        return _refused(result, exc.refusal)
    original = copy.deepcopy(working)
    origin: list[list[int]] = [[i] for i in range(len(original["cells"]))]
    module_text = existing_module
    plans: list[Plan] = []
    timing: set[int] = set()
    for order, (kind, value) in enumerate(selections):
        model = _model(working, notebook_file)
        try:
            indexes = select_cells(model, value) if kind == "cells" else cells_with_tag(model, value)
        except SelectionError as exc:
            raise ExtractUsageError(str(exc)) from None
        if not indexes:
            raise ExtractUsageError(f"no cell carries the tag {value!r}")
        name = function or function_name_for(model, indexes, tag=value if kind == "tag" else None)
        analysis = NotebookAnalysis.build(model)
        try:
            plan = plan_extraction(analysis, indexes, function=function, default_name=name)
            name = plan.function or name
            circular = [text for text in plan.module_imports if _imports_module(text, import_name)]
            if circular:
                raise Refused(
                    Refusal(
                        f"the cells import from {_display_path(module_file)} (`{circular[0]}`); moving them "
                        "into that module would make it import itself"
                    )
                )
            provenance = {
                "name": name,
                "function": plan.function,
                "module": module_rel,
                "import": import_name,
                "selection": {kind: value},
                "selected": list(plan.selected),
                "helpers": [d.name for d in plan.definitions],
                "order": order,
            }
            for index in plan.timing_cells:
                timing.update(origin[index])
            positions = [o + 1 for i in plan.selected for o in origin[i]]
            working, origin = codegen.rewrite_notebook(
                working, plan, import_name, provenance, origin, outputs_from.get(order)
            )
            body = codegen.block_body(plan, os.path.basename(notebook_file), positions)
            defined = ([plan.function] if plan.function else []) + [d.name for d in plan.definitions]
            module_text = codegen.update_module(
                module_text, [(name, body, defined)], plan.module_imports, plan.needs_show, target_name
            )
        except Refused as exc:
            return _refused(result, exc.refusal)
        plans.append(plan)
        helpers = [d.name for d in plan.definitions]
        result.functions.append(
            ExtractedFunction(
                name=name,
                function=plan.function,
                params=list(plan.params) if plan.function else _helper_params(plan),
                returns=list(plan.returns),
                helpers=helpers,
                cells=positions,
                notes=list(plan.notes),
            )
        )
        result.notes.extend(plan.notes)
    assert module_text is not None
    result.module_text = module_text
    result.notebook_data = working
    # the static gate: nothing became undefined
    generated = [
        n for p in plans for n in ([p.function] if p.function else []) + [d.name for d in p.definitions]
    ]
    problem = _module_check(module_text, generated)
    if problem is None:
        new = sorted(_unresolved(working, target) - _unresolved(original, notebook_file))
        if new:
            problem = f"`{new[0]}` is undefined somewhere in the rewritten notebook"
    if problem is not None:
        result.status = "failed"
        result.reason = f"static check: {problem}"
        result.differences = [result.reason]
        return result
    if not verify:
        result.status = "unverified"
        if not dry_run:
            _write(result, notebook_file, notebook_bytes, module_file, existing_module, target, working, {})
        return result
    from nbhygiene.extract.verify import Scratch
    from nbhygiene.extract.verify import verify as run_verification

    scratch = Scratch(notebook_dir)
    if os.path.realpath(import_root) == os.path.realpath(notebook_dir):
        scratch.extra_files[os.path.relpath(module_file, notebook_dir)] = module_text
    else:
        scratch.extra_paths.append(
            (import_root, _package_files(import_root, import_name, module_file, module_text))
        )
    captures: dict[int, list[tuple[str, str]]] = {}
    for index, cell in enumerate(working["cells"]):
        record = ((cell.get("metadata") or {}).get("nbhygiene") or {}).get("extract")
        if (
            isinstance(record, dict)
            and record.get("function")
            and record.get("module") == module_rel
            and any(p.function == record["function"] for p in plans)
        ):
            captures.setdefault(index, []).append((record["function"], f"capture-{record['function']}.pkl"))
    labels = _positions(working, origin)
    dropped = {n for p in plans for n in p.dropped}
    expected_new = {n for p in plans for n in ([p.function] if p.function else []) + p.imported_helpers}
    verification = run_verification(
        original,
        working,
        origin,
        scratch,
        positions=labels,
        timing=timing,
        dropped=dropped,
        expected_new=expected_new,
        local_modules=[import_name],
        captures=captures,
        timeout=timeout,
    )
    result.excluded = list(verification.excluded)
    result.compared_cells = verification.compared_cells
    result.compared_values = verification.compared_values
    if verification.status != "verified":
        result.status = "failed"
        result.reason = verification.reason
        result.differences = list(verification.differences) or (
            [verification.reason] if verification.reason else []
        )
        return result
    result.status = "verified"
    tests = _tests(
        plans,
        verification.captures,
        verification.nondeterministic,
        module_file,
        import_name,
        notebook_dir,
        target_name,
    )
    for note in tests.notes:
        result.notes.append(note)
    if tests.text is not None:
        result.test = _display_path(tests.path)
    if not dry_run:
        _write(
            result, notebook_file, notebook_bytes, module_file, existing_module, target, working, tests.files
        )
    return result


def _imports_module(statement: str, dotted: str) -> bool:
    node = ast.parse(statement).body[0]
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
    else:  # pragma: no cover - module imports are import statements
        return False
    return any(name == dotted or name.startswith(dotted + ".") for name in names)


def _helper_params(plan: Plan) -> list[str]:
    helpers = [d for d in plan.definitions if d.kind == "helper"]
    return _def_params(helpers[0].text) if len(helpers) == 1 else []


def _refused(result: ExtractionResult, refusal: Refusal) -> ExtractionResult:
    result.status = "refused"
    result.refusal = refusal
    result.reason = str(refusal)
    return result


def _restore_earlier(
    data: dict[str, Any],
    selections: list[tuple[str, str]],
    function: str | None,
    module_rel: str,
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The notebook before earlier runs of the same extractions, and each one's calling cell."""
    working = copy.deepcopy(data)
    matched: list[tuple[int, dict[str, Any]]] = []
    for order, (kind, value) in enumerate(selections):
        for _index, record in _records(working):
            same_selection = record.get("selection") == {kind: value} and record.get("module") == module_rel
            same_name = function is not None and record.get("name") == function
            if not same_selection and not same_name:
                continue
            if same_name and not same_selection:
                raise Refused(
                    Refusal(
                        f"`{function}` was already extracted from other cells ({_describe(record)}); "
                        "pick another name"
                    )
                )
            if function is not None and record.get("name") != function:
                raise Refused(
                    Refusal(f"these cells were already extracted as `{record.get('name')}`; use that name")
                )
            matched.append((order, record))
            break
    outputs_from: dict[int, dict[str, Any]] = {}
    for order, record in sorted(matched, key=lambda item: (-int(item[1].get("order", 0)), -item[0])):
        position = next(i for i, r in _records(working) if r is record or r == record)
        call = working["cells"][position]
        outputs_from[order] = {"outputs": call.get("outputs"), "execution_count": call.get("execution_count")}
        working = codegen.restore_original(working, position, record)
    return working, outputs_from


def _describe(record: dict[str, Any]) -> str:
    selection = record.get("selection") or {}
    if "cells" in selection:
        return f"cells {selection['cells']}"
    if "tag" in selection:
        return f"tag {selection['tag']}"
    return "an earlier selection"


def _package_files(root: str, dotted: str, module_file: str, module_text: str) -> dict[str, str]:
    """The top-level package of ``dotted`` (its .py files), with the new module text in place."""
    files: dict[str, str] = {}
    top = dotted.split(".")[0]
    package = os.path.join(root, top)
    if os.path.isdir(package):
        for directory, dirs, names in os.walk(package):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in names:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    text = _read_text(path)
                    if text is not None:
                        files[os.path.relpath(path, root)] = text
    files[os.path.relpath(module_file, root)] = module_text
    return files


def _positions(data: dict[str, Any], origin: list[list[int]]) -> list[str]:
    labels = []
    for index, cell in enumerate(data["cells"]):
        label = f"cell {index + 1}"
        if cell.get("id"):
            label += f" ({cell['id']})"
        sources = origin[index]
        if len(sources) != 1 or sources[0] != index:
            originals = ", ".join(str(i + 1) for i in sources)
            label += f" [original cell{'s' if len(sources) > 1 else ''} {originals}]"
        labels.append(label)
    return labels


@dataclass(slots=True)
class _Tests:
    path: str
    text: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _tests(
    plans: list[Plan],
    captures: dict[str, bytes],
    nondeterministic: set[str],
    module_file: str,
    import_name: str,
    notebook_dir: str,
    notebook_name: str,
) -> _Tests:
    directory = os.path.dirname(module_file)
    stem = os.path.splitext(os.path.basename(module_file))[0]
    path = os.path.join(directory, f"test_{stem}.py")
    cases_dir = f"test_{stem}_cases"
    tests = _Tests(path)
    existing = _read_text(path)
    text = existing
    notebook_rel = os.path.relpath(notebook_dir, directory).replace(os.sep, "/")
    for plan in plans:
        if plan.function is None:
            continue
        raw = captures.get(plan.function)
        if raw is None:
            tests.notes.append(f"no test for `{plan.function}`: it was not called when the notebook ran")
            continue
        record = pickle.loads(raw)
        if "error" in record:
            tests.notes.append(f"no test for `{plan.function}`: {record['error']}")
            continue
        case = pickle.dumps(record, protocol=4)
        if len(case) > MAX_CASE_BYTES:
            tests.notes.append(f"no test for `{plan.function}`: its inputs and outputs take over 20 MB")
            continue
        body = codegen.test_body(plan, import_name, notebook_rel, nondeterministic, plan.function)
        try:
            text = codegen.update_test_file(
                text,
                codegen.test_header(cases_dir),
                f"test_{plan.function}",
                body,
                notebook_name,
            )
        except Refused as exc:
            tests.notes.append(f"no test for `{plan.function}`: {exc.refusal.message}")
            continue
        case_path = os.path.join(directory, cases_dir, f"{plan.function}.pkl")
        tests.files[case_path] = case
    if text is not None and text != existing:
        tests.text = text
        tests.files[path] = text.encode("utf-8")
    elif text is not None:
        tests.text = text
    return tests


def _write(
    result: ExtractionResult,
    notebook_file: str,
    notebook_bytes: bytes,
    module_file: str,
    existing_module: str | None,
    target: str,
    working: dict[str, Any],
    files: dict[str, bytes],
) -> None:
    """Write everything, unless a file changed while nbhygiene was working (then write nothing)."""
    with open(notebook_file, "rb") as handle:
        if handle.read() != notebook_bytes:
            _changed(result, notebook_file)
            return
    if _read_text(module_file) != existing_module:
        _changed(result, module_file)
        return
    module_text = result.module_text or ""
    if module_text != existing_module:
        atomic_write_text(module_file, module_text)
        result.written.append(_display_path(module_file))
    for path, data in files.items():
        if path.endswith(".py"):
            if _read_text(path) != data.decode("utf-8"):
                atomic_write_text(path, data.decode("utf-8"))
                result.written.append(_display_path(path))
            continue
        try:
            with open(path, "rb") as handle:
                same = handle.read() == data
        except FileNotFoundError:
            same = False
        if not same:
            _atomic_write_bytes(path, data)
            result.written.append(_display_path(path))
    if _read_text(target) != _notebook_text(working):
        atomic_write_notebook(target, working)
        result.written.append(_display_path(target))


def _changed(result: ExtractionResult, path: str) -> None:
    result.status = "failed"
    result.reason = f"{_display_path(path)} changed while nbhygiene was working; nothing was written"
    result.differences = [result.reason]
