"""Every run of consecutive code cells of every example notebook, extracted on its own.

The plans are checked for all runs without kernels; a subset is proven in real kernels, and the slow
test proves all of them. The share of runs that extract (100% minus the precise refusals below) is
asserted, so a regression in either direction shows up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nbhygiene.extract import extract_cells
from nbhygiene.loading import load_notebook
from nbhygiene.model import build_model

from .conftest import EXAMPLES

NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))

# Runs nbhygiene must refuse, and why (a substring of the refusal).
REFUSED = {
    (
        "breast_cancer_screening",
        "13-15",
    ): "reads `accuracy_score`, which can only come from `from sklearn.metrics import *`",
    (
        "clean_wine_pipeline",
        "2-3",
    ): "there is nothing to move: the cells only import names that other cells still use",
    ("wine_quality_poc", "9-10"): "reads `FEATURES`, which no earlier cell defines",
    ("wine_quality_poc", "12-14"): "reads `report`, which is defined only further down (cell 16)",
}
# Proven in real kernels by the default suite (the slow test proves every run).
VERIFIED_SUBSET = [("wine_quality_poc", "5-7"), ("diabetes_regression", "12-15")]


def code_runs(path: Path) -> list[str]:
    """Maximal runs of consecutive code cells, as 1-based position ranges."""
    notebook = build_model(load_notebook(str(path)))
    runs: list[list[int]] = []
    current: list[int] = []
    for cell in notebook.cells:
        if cell.is_code:
            current.append(cell.position)
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    return [f"{run[0]}-{run[-1]}" for run in runs]


RUNS = [(path, run) for path in NOTEBOOKS for run in code_runs(path)]


def _extract(copy_notebook: Any, path: Path, run: str, **options: Any) -> Any:
    notebook = copy_notebook(path)
    return extract_cells(
        notebook, cells=run, module=notebook.parent / "extracted.py", dry_run=True, **options
    )


@pytest.mark.parametrize(("path", "run"), RUNS, ids=[f"{p.stem}:{r}" for p, r in RUNS])
def test_every_run_plans(path: Path, run: str, copy_notebook: Any) -> None:
    result = _extract(copy_notebook, path, run, verify=False)
    expected = REFUSED.get((path.stem, run))
    if expected is None:
        assert result.status == "unverified", result.reason
    else:
        assert result.status == "refused"
        assert expected in result.reason


def test_share_of_runs_that_extract() -> None:
    assert {key for key in REFUSED} <= {(p.stem, r) for p, r in RUNS}
    share = (len(RUNS) - len(REFUSED)) / len(RUNS)
    assert len(RUNS) == 17
    assert share == pytest.approx(13 / 17)


@pytest.mark.parametrize(("stem", "run"), VERIFIED_SUBSET, ids=[f"{s}:{r}" for s, r in VERIFIED_SUBSET])
def test_verified_in_kernels(stem: str, run: str, copy_notebook: Any) -> None:
    result = _extract(copy_notebook, EXAMPLES / f"{stem}.ipynb", run, timeout=300)
    assert result.status == "verified", "\n".join([str(result.reason), *result.differences])


def test_parameters_cell_stays_and_papermill_still_parameterizes(copy_notebook: Any) -> None:
    """The `parameters` cell inside the run stays put; its values become the function's arguments."""
    import papermill

    notebook = copy_notebook(EXAMPLES / "iris_parameterized_job.ipynb")
    result = extract_cells(notebook, cells="2-6", module=notebook.parent / "iris_job.py", timeout=300)
    assert result.status == "verified", "\n".join([str(result.reason), *result.differences])
    assert result.function == "cells_2_6"
    assert result.params == ["seed", "n_estimators", "max_depth"]
    assert "the `parameters` cell 3 stays in the notebook" in " ".join(result.notes)
    rewritten = notebook.parent / "iris_parameterized_job.extracted.ipynb"
    cells = json.loads(rewritten.read_text())["cells"]
    assert [c.get("id") for c in cells] == ["title", "parameters", "evaluate"]
    executed = notebook.parent / "run.ipynb"
    papermill.execute_notebook(
        str(rewritten),
        str(executed),
        parameters={"n_estimators": 7},
        cwd=str(notebook.parent),
        progress_bar=False,
    )
    text = "".join(
        "".join(o.get("text", ""))
        for c in json.loads(executed.read_text())["cells"]
        for o in c.get("outputs", [])
    )
    assert "trained 7 trees" in text


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_run_verified(path: Path, copy_notebook: Any) -> None:
    notebook = copy_notebook(path)
    failures = []
    for run in code_runs(path):
        if (path.stem, run) in REFUSED:
            continue
        result = extract_cells(
            notebook, cells=run, module=notebook.parent / "extracted.py", dry_run=True, timeout=600
        )
        if result.status != "verified":
            failures.append(f"{run}: {result.status}: {result.reason}")
    assert not failures, "\n".join(failures)
