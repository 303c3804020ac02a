"""``nbhygiene check --fix``: safe fixes applied to a copy of the notebook JSON until none is left.

Fixture pairs under tests/fixtures/fixes/: ``X.ipynb`` (a real notebook built from ``X.yaml``) and
``X_expected.ipynb`` (what ``--fix`` must write). Regenerate the expected files after a deliberate
change with ``NBHYGIENE_UPDATE_SNAPSHOTS=1 pytest tests/test_fixes.py`` and review the diff.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nbhygiene.cli import main
from nbhygiene.config import Config
from nbhygiene.findings import FileResult, Finding, Fix, Severity
from nbhygiene.fixes import (
    add_keyword,
    apply_fixes,
    detect_style,
    fix_file,
    fix_notebook,
    locate_call,
    output_path,
)

FIXES = Path(__file__).parent / "fixtures" / "fixes"
PAIRS = sorted(p for p in FIXES.glob("*.ipynb") if not p.stem.endswith("_expected"))
UPDATE = os.environ.get("NBHYGIENE_UPDATE_SNAPSHOTS") == "1"


def _expected(path: Path) -> Path:
    return path.with_name(f"{path.stem}_expected.ipynb")


# -- fixture pairs --------------------------------------------------------------------------------
@pytest.mark.parametrize("source", PAIRS, ids=lambda p: p.stem)
def test_fix_gives_the_expected_notebook(source: Path, tmp_path: Path) -> None:
    work = tmp_path / source.name
    shutil.copy(source, work)
    outcome = fix_file(str(work), Config())
    assert outcome.output == str(tmp_path / f"{source.stem}.fixed.ipynb")
    written = Path(outcome.output).read_text(encoding="utf-8")
    if UPDATE:
        _expected(source).write_text(written, encoding="utf-8")
    assert written == _expected(source).read_text(encoding="utf-8")
    assert work.read_bytes() == source.read_bytes(), "the original must not change"
    nbformat.validate(nbformat.read(outcome.output, as_version=nbformat.NO_CONVERT))


@pytest.mark.parametrize("source", PAIRS, ids=lambda p: p.stem)
def test_fixing_the_fixed_notebook_changes_nothing(source: Path, tmp_path: Path) -> None:
    work = tmp_path / source.name
    shutil.copy(_expected(source), work)
    outcome = fix_file(str(work), Config())
    assert outcome.applied == 0 and outcome.output is None
    assert not (tmp_path / f"{source.stem}.fixed.ipynb").exists()
    data = json.loads(work.read_text())
    fixed, applied, _rounds, _result = fix_notebook(data, str(work), Config())
    assert applied == 0 and fixed == data


def test_unseeded_job_pair_shows_each_fix() -> None:
    expected = json.loads(_expected(FIXES / "unseeded_job.ipynb").read_text())
    sources = {c["id"]: "".join(c["source"]) for c in expected["cells"]}
    assert "test_size=TEST_SIZE, random_state=0,\n)" in sources["split"]
    assert "RandomForestClassifier(n_estimators=N_TREES, random_state=0)" in sources["model"]
    assert "KFold(3, shuffle=True, random_state=0)" in sources["cv"]
    assert "np.random.normal(size=3)" in sources["noise"]  # reported, but no safe fix
    assert expected["cells"][1]["metadata"]["tags"] == ["parameters"]


def test_no_parameters_pair_inserts_a_cell_after_the_imports() -> None:
    expected = json.loads(_expected(FIXES / "no_parameters_cell.ipynb").read_text())
    cell = expected["cells"][2]
    assert cell["cell_type"] == "code" and cell["metadata"] == {"tags": ["parameters"]}
    assert cell["source"] == ["# parameters"] and cell["outputs"] == [] and cell["execution_count"] is None
    assert [c.get("id") for c in expected["cells"]][:2] == ["title", "imports"]


# -- the command line ------------------------------------------------------------------------------
def test_cli_fix_writes_a_new_notebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = FIXES / "unseeded_job.ipynb"
    work = tmp_path / source.name
    shutil.copy(source, work)
    code = main(["check", str(work), "--no-cache", "--fix", "--select", "NBH304,NBH202"])
    out, err = capsys.readouterr()
    fixed = tmp_path / "unseeded_job.fixed.ipynb"
    assert fixed.read_text() == _expected(source).read_text()
    assert work.read_bytes() == source.read_bytes()
    assert f"applied 5 fixes -> {fixed}" in err
    assert "train_test_split" in out  # the report is about the original, which still has the findings
    assert code == 1


def test_cli_fix_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = FIXES / "unseeded_job.ipynb"
    work = tmp_path / source.name
    shutil.copy(source, work)
    code = main(
        [
            "check",
            str(work),
            "--no-cache",
            "--fix",
            "--in-place",
            "--select",
            "NBH304,NBH202",
            "--format",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert work.read_text() == _expected(source).read_text()
    assert not (tmp_path / "unseeded_job.fixed.ipynb").exists()
    assert "in place" in err
    (report,) = json.loads(out)["files"]
    assert [f["rule"] for f in report["findings"]] == ["unseeded-randomness"]  # only the NumPy draw is left
    assert code == 1


def test_cli_in_place_needs_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(FIXES / "unseeded_job.ipynb"), "--in-place"]) == 2
    assert "--in-place needs --fix" in capsys.readouterr().err


def test_cli_refuses_to_write_an_invalid_notebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads((FIXES / "unseeded_job.ipynb").read_text())
    del data["metadata"]["kernelspec"]["display_name"]  # invalid before any fix
    work = tmp_path / "broken.ipynb"
    work.write_text(json.dumps(data, indent=1))
    assert main(["check", str(work), "--no-cache", "--fix", "--select", "NBH304"]) == 2
    assert "does not validate against the nbformat schema even before fixing" in capsys.readouterr().err
    assert not (tmp_path / "broken.fixed.ipynb").exists()


def test_output_path() -> None:
    assert output_path("a/b.ipynb", in_place=False) == "a/b.fixed.ipynb"
    assert output_path("a/b.ipynb", in_place=True) == "a/b.ipynb"


# -- add-keyword ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "line", "column", "expected"),
    [
        ("parts = train_test_split(X, y)", 1, 9, "parts = train_test_split(X, y, random_state=0)"),
        ("m = RandomForestClassifier()", 1, 5, "m = RandomForestClassifier(random_state=0)"),
        ("a = f(\n    X, y,\n)", 1, 5, "a = f(\n    X, y, random_state=0,\n)"),
        ("a = f(\n    X, y  # why\n)", 1, 5, "a = f(\n    X, y, random_state=0  # why\n)"),
        ("a = sk.ms.split(X)\nb = 2", 1, 5, "a = sk.ms.split(X, random_state=0)\nb = 2"),
        ("x = g(f(1), h(2))", 1, 13, "x = g(f(1), h(2, random_state=0))"),
        ("é = f('ü', X)", 1, 5, "é = f('ü', X, random_state=0)"),
        ("%time m = f(X)", 1, 11, "%time m = f(X, random_state=0)"),
    ],
)
def test_add_keyword(source: str, line: int, column: int, expected: str) -> None:
    assert add_keyword(source, line, column, "random_state", "0") == expected


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("a = f(x for x in y)", 1, 5),  # a lone generator argument takes no second argument
        ("a = f(X, **params)", 1, 5),  # the keyword may be in there
        ("a = f(X, random_state=1)", 1, 5),  # already there
        ("a = f(X)", 1, 3),  # not a call's start
        ("a = f(X)", 2, 1),  # no such line
        ("a = (f)(X)", 1, 5),  # not a plain dotted callee
        ("a = f(X", 1, 5),  # never closed
    ],
)
def test_add_keyword_refuses(source: str, line: int, column: int) -> None:
    assert add_keyword(source, line, column, "random_state", "0") is None


def test_locate_call_names_the_callee() -> None:
    span = locate_call("y = model_selection.train_test_split(X)", 1, 5)
    assert span is not None and span.callee == "model_selection.train_test_split"


# -- applying fix data ---------------------------------------------------------------------------------
def _notebook(minor: int = 5, list_sources: bool = True) -> dict[str, Any]:
    def source(text: str) -> Any:
        return text.splitlines(keepends=True) if list_sources else text

    cells: list[dict[str, Any]] = [
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [],
            "source": source("import x"),
        },
        {
            "cell_type": "code",
            "execution_count": 2,
            "metadata": {"collapsed": False},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}],
            "source": source("a = f(1)\nb = g(2)"),
        },
    ]
    if minor >= 5:
        for i, cell in enumerate(cells):
            cell["id"] = f"cell-{i}"
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": minor}


def test_apply_fixes_does_not_mutate_its_input() -> None:
    notebook = _notebook()
    before = copy.deepcopy(notebook)
    fixed, applied = apply_fixes(notebook, [{"action": "add-tag", "cell_index": 1, "tag": "parameters"}])
    assert applied == 1 and notebook == before
    assert fixed["cells"][1]["metadata"] == {"collapsed": False, "tags": ["parameters"]}
    assert fixed["cells"][1]["outputs"] == before["cells"][1]["outputs"]


def test_add_tag_is_idempotent() -> None:
    fixed, applied = apply_fixes(_notebook(), [{"action": "add-tag", "cell_index": 0, "tag": "t"}] * 2)
    assert applied == 1 and fixed["cells"][0]["metadata"]["tags"] == ["t"]
    again, applied = apply_fixes(fixed, [{"action": "add-tag", "cell_index": 0, "tag": "t"}])
    assert applied == 0 and again == fixed


@pytest.mark.parametrize(("minor", "list_sources"), [(5, True), (4, False)])
def test_insert_cell(minor: int, list_sources: bool) -> None:
    data = {"action": "insert-cell", "after_index": 0, "source": "# parameters\n", "tags": ["parameters"]}
    fixed, applied = apply_fixes(_notebook(minor, list_sources), [data])
    assert applied == 1
    cell = fixed["cells"][1]
    assert cell["source"] == (["# parameters"] if list_sources else "# parameters")
    assert cell["metadata"] == {"tags": ["parameters"]}
    assert ("id" in cell) == (minor >= 5)
    nbformat.validate(nbformat.from_dict(fixed))
    top, _ = apply_fixes(_notebook(), [{**data, "after_index": -1}])
    assert top["cells"][0]["metadata"] == {"tags": ["parameters"]}


def test_edits_in_one_cell_apply_bottom_up_and_inserts_last() -> None:
    fixes = [
        {"action": "add-keyword", "cell_index": 1, "line": 1, "column": 5, "keyword": "k", "value": "0"},
        {"action": "insert-cell", "after_index": 0, "source": "", "tags": []},
        {"action": "add-keyword", "cell_index": 1, "line": 2, "column": 5, "keyword": "k", "value": "0"},
    ]
    fixed, applied = apply_fixes(_notebook(), fixes)
    assert applied == 3
    assert "".join(fixed["cells"][2]["source"]) == "a = f(1, k=0)\nb = g(2, k=0)"


def test_bad_fix_data_is_skipped() -> None:
    bad = [
        {"action": "add-tag", "cell_index": 9, "tag": "x"},
        {"action": "insert-cell", "after_index": 7, "source": "", "tags": []},
        {
            "action": "add-keyword",
            "cell_index": 1,
            "line": 1,
            "column": 5,
            "keyword": "not valid",
            "value": "0",
        },
        {"action": "rename-everything"},
    ]
    fixed, applied = apply_fixes(_notebook(), bad)
    assert applied == 0 and fixed == _notebook()


def test_a_fix_that_does_not_resolve_its_finding_stops_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    finding = Finding(
        "NBH999",
        "always",
        Severity.WARNING,
        "never resolved",
        "x.ipynb",
        cell_index=0,
        fix=Fix("tag it", safe=True, data=(("action", "add-tag"), ("cell_index", 0), ("tag", "t"))),
    )

    def fake_check(data: Any, path: str, config: Config) -> FileResult:
        calls.append(1)
        return FileResult(path, [finding])

    monkeypatch.setattr("nbhygiene.engine.check_data", fake_check)
    fixed, applied, rounds, _result = fix_notebook(_notebook(), "x.ipynb", Config())
    assert (applied, rounds, len(calls)) == (1, 1, 2)
    assert fixed["cells"][0]["metadata"]["tags"] == ["t"]


# -- serialisation -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("indent", "sort_keys", "ensure_ascii"), [(1, True, False), (2, False, False), (4, False, True)]
)
def test_detect_style(indent: int, sort_keys: bool, ensure_ascii: bool) -> None:
    notebook = _notebook()
    notebook["metadata"] = {"title": "café"}
    text = json.dumps(notebook, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii) + "\n"
    assert detect_style(text, notebook) == (indent, sort_keys, ensure_ascii)


def test_keeps_the_original_formatting(tmp_path: Path) -> None:
    data = json.loads((FIXES / "unseeded_job.ipynb").read_text())
    work = tmp_path / "two_spaces.ipynb"
    work.write_text(json.dumps(data, indent=2) + "\n")  # key order as loaded, not sorted
    outcome = fix_file(str(work), Config(select=["NBH304"]))
    assert outcome.output is not None
    written = Path(outcome.output).read_text()
    assert written == json.dumps(outcome.data, indent=2) + "\n"
    assert written.splitlines()[1].startswith('  "')
