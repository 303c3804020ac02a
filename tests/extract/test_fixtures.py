"""Every case listed under ``extractions:`` in tests/fixtures/extract/*.yaml: the plan (parameters,
return values, refusals) without kernels, and the ``verify: true`` cases proven in real kernels."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from nbhygiene.extract import extract_cells

from .conftest import FIXTURES

CASES: list[tuple[Path, dict[str, Any]]] = []
for _spec in sorted(FIXTURES.glob("*.yaml")):
    for _case in yaml.safe_load(_spec.read_text(encoding="utf-8")).get("extractions") or []:
        CASES.append((_spec, _case))


def _case_id(item: tuple[Path, dict[str, Any]]) -> str:
    spec, case = item
    selection = case.get("cells") or f"tag-{case.get('tag')}"
    return f"{spec.stem}:{selection}"


def _extract(notebook: Path, case: dict[str, Any], **options: Any) -> Any:
    return extract_cells(
        notebook,
        cells=case.get("cells"),
        tag=case.get("tag"),
        module=notebook.parent / "steps.py",
        function=case.get("function"),
        **options,
    )


def _check_plan(result: Any, case: dict[str, Any]) -> None:
    if case["status"] == "refused":
        assert result.status == "refused", f"expected a refusal, got {result.status}: {result.reason}"
        assert case["reason"] in result.reason, result.reason
        assert result.refusal is not None
        if "position" in case:
            assert result.refusal.position == case["position"]
        if "line" in case:
            assert result.refusal.line == case["line"]
        return
    assert result.ok, f"{result.status}: {result.reason}"
    assert result.params == case["params"]
    assert result.returns == case["returns"]
    if "function" in case:
        assert result.function == case["function"]
    if "trailing" in case:
        call = next(
            c
            for c in result.notebook_data["cells"]
            if (c.get("metadata") or {}).get("nbhygiene", {}).get("extract")
        )
        assert "".join(call["source"]).rstrip().endswith(case["trailing"])
    if "moved" in case:
        helpers = result.functions[0].helpers
        assert helpers == case["moved"]
    ast.parse(result.module_text)
    nbformat.validate(nbformat.from_dict(json.loads(json.dumps(result.notebook_data))))


@pytest.mark.parametrize("item", CASES, ids=[_case_id(c) for c in CASES])
def test_plan(item: tuple[Path, dict[str, Any]], copy_notebook: Any) -> None:
    spec, case = item
    notebook = copy_notebook(spec.with_suffix(".ipynb"))
    before = notebook.read_bytes()
    result = _extract(notebook, case, verify=False, dry_run=True)
    _check_plan(
        result, {**case, "status": "unverified"} if case["status"] in ("verified", "failed") else case
    )
    assert notebook.read_bytes() == before
    assert sorted(p.name for p in notebook.parent.iterdir()) == [notebook.name]


VERIFIED = [c for c in CASES if c[1].get("verify")]


@pytest.mark.parametrize("item", VERIFIED, ids=[_case_id(c) for c in VERIFIED])
def test_verified(item: tuple[Path, dict[str, Any]], copy_notebook: Any) -> None:
    spec, case = item
    notebook = copy_notebook(spec.with_suffix(".ipynb"))
    before = notebook.read_bytes()
    result = _extract(notebook, case, timeout=300)
    assert result.status == case["status"], f"{result.reason}\n" + "\n".join(result.differences)
    assert notebook.read_bytes() == before, "the user's notebook must stay untouched without --in-place"
    written = {p.name for p in notebook.parent.iterdir()}
    if case["status"] == "failed":
        # only re-execution can tell; nothing may be written
        assert case["difference"] in result.reason
        assert written == {notebook.name}
        return
    _check_plan(result, case)
    assert {"steps.py", f"{notebook.stem}.extracted.ipynb"} <= written
