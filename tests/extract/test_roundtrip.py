"""Writing: the same extraction twice changes nothing; modules are extended, never clobbered; the
provenance lets the extraction be repeated; refusals and failures write nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nbhygiene.extract import extract_cells

from .conftest import EXAMPLES, FIXTURES

IRIS = FIXTURES / "iris_messy.ipynb"


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("in_place", [False, True], ids=["output", "in-place"])
def test_same_extraction_twice_changes_nothing(in_place: bool, copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    options = {
        "cells": "20-21",
        "module": notebook.parent / "steps.py",
        "in_place": in_place,
        "verify": False,
    }
    first = extract_cells(notebook, **options)
    assert first.status == "unverified", first.reason
    after_first = _snapshot(notebook.parent)
    second = extract_cells(notebook, **options)
    assert second.status == "unverified", second.reason
    assert second.written == []
    assert _snapshot(notebook.parent) == after_first
    assert second.params == first.params and second.returns == first.returns


def test_in_place_provenance_and_call(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    result = extract_cells(
        notebook, cells="20-21", module=notebook.parent / "steps.py", in_place=True, verify=False
    )
    assert result.ok
    data = json.loads(notebook.read_text())
    call = data["cells"][19]
    assert "".join(call["source"]) == (
        "from steps import cells_20_21\nscores = cells_20_21(X_train, y_train, X_test, y_test)\nscores"
    )
    record = call["metadata"]["nbhygiene"]["extract"]
    assert record["function"] == "cells_20_21"
    assert record["module"] == "steps.py"
    assert [c["index"] for c in record["cells"]] == [19, 20]
    assert [c["cell"]["id"] for c in record["cells"]] == ["depths", "more-depths"]
    assert call["id"] == "depths"
    # the saved outputs of the moved cells are shown by the calling cell
    assert "".join(call["outputs"][0]["data"]["text/plain"]) == "[0.674, 0.93, 0.93, 0.93]"
    module = (notebook.parent / "steps.py").read_text()
    assert "from sklearn.tree import DecisionTreeClassifier" in module
    assert "def cells_20_21(X_train, y_train, X_test, y_test):" in module
    assert "scores.append(round(tree.score(X_test, y_test), 3))" in module
    # the import is still needed by nobody else: it left the notebook
    assert "DecisionTreeClassifier" not in "".join("".join(c["source"]) for c in data["cells"])


def test_edited_call_cell_is_not_overwritten(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    options = {"cells": "20-21", "module": notebook.parent / "steps.py", "in_place": True, "verify": False}
    assert extract_cells(notebook, **options).ok
    data = json.loads(notebook.read_text())
    data["cells"][19]["source"].append("\nprint(scores)")
    notebook.write_text(json.dumps(data))
    before = _snapshot(notebook.parent)
    result = extract_cells(notebook, **options)
    assert result.status == "refused"
    assert "was edited after the extraction" in result.reason
    assert _snapshot(notebook.parent) == before


def test_existing_module_is_extended_not_clobbered(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    module = notebook.parent / "steps.py"
    user_code = '"""Team helpers."""\n\nimport math\n\n\ndef area(r):\n    return math.pi * r * r\n'
    module.write_text(user_code)
    result = extract_cells(notebook, cells="13", module=module, verify=False)
    assert result.ok, result.reason
    text = module.read_text()
    assert text.startswith('"""Team helpers."""\n\nimport math\n')
    assert "def area(r):\n    return math.pi * r * r\n" in text
    assert "# --- nbhygiene extract: stats (from iris_messy.extracted.ipynb) [" in text
    assert text.count("def stats(df, FEATURES):") == 1
    # a second function goes into the same module
    result = extract_cells(notebook, cells="14", module=module, function="plot_petals", verify=False)
    assert result.ok, result.reason
    text = module.read_text()
    assert "import matplotlib.pyplot as plt" in text.split("\n\n\n")[0]
    assert text.count("# --- nbhygiene extract:") == 2


def test_hand_edited_block_is_refused(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    module = notebook.parent / "steps.py"
    assert extract_cells(notebook, cells="13", module=module, verify=False).ok
    module.write_text(module.read_text().replace("del tmp", "del tmp  # edited"))
    before = _snapshot(notebook.parent)
    result = extract_cells(notebook, cells="13", module=module, verify=False)
    assert result.status == "refused"
    assert "was edited by hand" in result.reason
    assert _snapshot(notebook.parent) == before


def test_module_name_clash_is_refused(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    module = notebook.parent / "steps.py"
    module.write_text("def summarize():\n    return 1\n")
    result = extract_cells(notebook, cells="13", module=module, function="summarize", verify=False)
    assert result.status == "refused"
    assert "the module already defines `summarize` (line 1)" in result.reason
    assert module.read_text() == "def summarize():\n    return 1\n"


def test_function_name_taken_in_notebook_is_refused(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    result = extract_cells(
        notebook, cells="13", module=notebook.parent / "steps.py", function="model", verify=False
    )
    assert result.status == "refused"
    assert "`model` is already a name in the notebook" in result.reason


def test_module_outside_the_notebook_directory_is_refused(copy_notebook: Any, tmp_path: Path) -> None:
    notebook = copy_notebook(IRIS)
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    result = extract_cells(notebook, cells="13", module=elsewhere / "steps.py", verify=False)
    assert result.status == "refused"
    assert "would not be importable" in result.reason


def test_module_shadowing_the_standard_library_is_refused(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    result = extract_cells(notebook, cells="13", module=notebook.parent / "random.py", verify=False)
    assert result.status == "refused"
    assert "shadow the standard library" in result.reason


def test_module_in_a_package_next_to_the_notebook(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    package = notebook.parent / "irislib"
    package.mkdir()
    (package / "__init__.py").write_text("")
    result = extract_cells(notebook, cells="13", module=package / "stats.py", verify=False)
    assert result.ok, result.reason
    call = next(c for c in result.notebook_data["cells"] if c.get("id") == "stats")
    assert "".join(call["source"]) == "from irislib.stats import stats\nspread = stats(df, FEATURES)\nspread"


def test_several_tags_make_several_functions(copy_notebook: Any, tmp_path: Path) -> None:
    notebook = copy_notebook(IRIS)
    data = json.loads(notebook.read_text())
    for cell in data["cells"]:
        if cell.get("id") in ("stats", "plot"):
            cell["metadata"]["tags"] = ["look"]
    notebook.write_text(json.dumps(data, indent=1))
    result = extract_cells(notebook, tag=["tidy", "look"], module=notebook.parent / "steps.py", verify=False)
    assert result.ok, result.reason
    assert [f.function for f in result.functions] == ["tidy", "look"]
    assert [f.cells for f in result.functions] == [[5, 6], [13, 14]]
    text = (notebook.parent / "steps.py").read_text()
    assert "def tidy(df):" in text and "def look(df, FEATURES):" in text
    documents = result.to_json_all()
    assert [d["function"] for d in documents] == ["tidy", "look"]
    # and again: nothing changes
    before = _snapshot(notebook.parent)
    again = extract_cells(notebook, tag=["tidy", "look"], module=notebook.parent / "steps.py", verify=False)
    assert again.ok, again.reason
    assert _snapshot(notebook.parent) == before


def test_helpers_only_cell_moves_the_helper(copy_notebook: Any) -> None:
    notebook = copy_notebook(EXAMPLES / "wine_quality_poc.ipynb")
    result = extract_cells(notebook, cells="16", module=notebook.parent / "wine_helpers.py", verify=False)
    assert result.ok, result.reason
    assert result.function == "report"
    assert result.params == ["model", "X", "y"]
    text = (notebook.parent / "wine_helpers.py").read_text()
    assert (
        "from sklearn.metrics import accuracy_score\nfrom sklearn.metrics import confusion_matrix\n" in text
    )
    assert "def report(model, X, y):" in text
    call = json.loads((notebook.parent / "wine_quality_poc.extracted.ipynb").read_text())["cells"][15]
    assert "".join(call["source"]) == "from wine_helpers import report"


def test_verified_in_place_twice_and_generated_test_passes(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    options = {"cells": "12", "module": notebook.parent / "steps.py", "in_place": True, "timeout": 300}
    first = extract_cells(notebook, **options)
    assert first.status == "verified", "\n".join([str(first.reason), *first.differences])
    assert first.test is not None
    after_first = _snapshot(notebook.parent)
    assert "test_steps.py" in after_first and "test_steps_cases/center.pkl" in after_first
    second = extract_cells(notebook, **options)
    assert second.status == "verified", second.reason
    assert _snapshot(notebook.parent) == after_first
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_steps.py"],
        cwd=notebook.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_too_slow_to_verify_writes_nothing(tmp_path: Path) -> None:
    import nbformat

    notebook = tmp_path / "slow.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import time"), nbformat.v4.new_code_cell("time.sleep(60)\nx = 1")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, notebook)
    result = extract_cells(notebook, cells="2", module=tmp_path / "slow_steps.py", timeout=3)
    assert result.status == "failed"
    assert result.reason == "too slow to verify"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.ipynb"]


def test_a_module_never_imports_itself(copy_notebook: Any) -> None:
    notebook = copy_notebook(IRIS)
    module = notebook.parent / "steps.py"
    assert extract_cells(notebook, cells="12", module=module, in_place=True, verify=False).ok
    # cell 12 now calls steps.center; moving that call into steps.py would be circular
    result = extract_cells(
        notebook, cells="12-13", module=module, function="again", in_place=True, verify=False
    )
    assert result.status == "refused"
    assert "would make it import itself" in result.reason
