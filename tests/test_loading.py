"""Bad and old inputs: each file gets its own error (kind + a message naming the file and the reason),
old formats are upgraded and analysed, non-Python kernels get no Python analysis, and a run over a mix
of files goes on to the end. The inputs are hand-made files under tests/fixtures/loading/."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.cli import main
from nbhygiene.config import Config
from nbhygiene.engine import check_data, check_file, check_paths
from nbhygiene.loading import NotebookLoadError, load_notebook, loaded_from_data
from nbhygiene.model import build_model

LOADING = Path(__file__).parent / "fixtures" / "loading"

# file -> (error kind, words of the reason that the message must contain)
BAD_FILES = {
    "invalid_json.ipynb": ("invalid-json", "invalid JSON"),
    "truncated.ipynb": ("invalid-json", "truncated JSON"),
    "binary.ipynb": ("binary", "binary data"),
    "empty.ipynb": ("empty", "empty"),
    "array.ipynb": ("not-a-notebook", "list, not a notebook"),
}
GOOD_FILES = [
    "python2_kernel.ipynb",
    "python2_syntax.ipynb",
    "nbformat3.ipynb",
    "nbformat2.ipynb",
    "r_kernel.ipynb",
    "julia_kernel.ipynb",
    "odd_fields.ipynb",
]
PYTHON_RULES = {
    "syntax-error",
    "undefined-name",
    "use-before-definition",
    "stale-output",
    "non-idempotent-cell",
}


def rules_of(result) -> list[tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    return [(f.rule, f.cell_position) for f in result.findings]


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_raises_load_error_naming_file_and_reason(name: str) -> None:
    kind, reason = BAD_FILES[name]
    path = str(LOADING / name)
    with pytest.raises(NotebookLoadError) as info:
        load_notebook(path)
    assert info.value.kind == kind
    assert path in info.value.message
    assert reason in info.value.message


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_gives_file_error_not_exception(name: str) -> None:
    kind, reason = BAD_FILES[name]
    path = str(LOADING / name)
    result = check_file(path, Config())
    assert result.path == path
    assert result.findings == []
    assert result.error is not None
    assert (result.error.kind, path in result.error.message, reason in result.error.message) == (
        kind,
        True,
        True,
    )


def test_invalid_json_message_has_the_position() -> None:
    result = check_file(str(LOADING / "invalid_json.ipynb"), Config())
    assert result.error is not None and "line 3" in result.error.message


def test_truncated_is_told_apart_from_invalid(tmp_path: Path) -> None:
    cases = {
        '{"cells": [}': "invalid JSON",  # fails one character before the end: not truncated
        '{"cells": [1, 2]}}': "invalid JSON",
        '{"cells": [{"source": "unterminated': "truncated",
        '{"cells": [{"source": "é",': "truncated",  # non-ASCII: positions are characters, not bytes
        '{"cells": [1,\n\n   ': "truncated",
    }
    for text, expected in cases.items():
        path = tmp_path / "case.ipynb"
        path.write_text(text, encoding="utf-8")
        result = check_file(str(path), Config())
        assert result.error is not None and expected in result.error.message, (text, result.error)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"\xff\xfe\xfa not utf-8 \xc3", "not-utf8"),
        (b'{"nbformat": 5, "cells": []}', "unsupported-version"),
        (b'{"nbformat": 4, "metadata": {}}', "not-a-notebook"),
        (b'{"nbformat": 4, "cells": {}}', "not-a-notebook"),
        (b'{"some": "json"}', "not-a-notebook"),
        (b'"a string"', "not-a-notebook"),
        (b"42", "not-a-notebook"),
        (b"null", "not-a-notebook"),
        (b"   \n\t  ", "empty"),
        (b"[" * 100_000, "invalid-json"),
    ],
)
def test_more_bad_contents(tmp_path: Path, content: bytes, kind: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    result = check_file(str(path), Config())
    assert result.error is not None and result.error.kind == kind
    assert str(path) in result.error.message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = check_file(str(tmp_path / "nope.ipynb"), Config())
    assert missing.error is not None and missing.error.kind == "not-found"
    directory = check_file(str(tmp_path), Config())
    assert directory.error is not None and directory.error.kind == "not-a-file"
    assert str(tmp_path) in directory.error.message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
    path = tmp_path / "bom.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(notebook).encode())
    assert check_file(str(path), Config()).error is None


@pytest.mark.parametrize("value", [None, [], [1, 2], "text", 3, {"cells": "no"}, {"nbformat": 4}])
def test_check_data_rejects_non_notebooks(value: object) -> None:
    result = check_data(value, "memory.ipynb", Config())
    assert result.error is not None and "memory.ipynb" in result.error.message


def test_nbformat3_is_upgraded_and_analysed() -> None:
    loaded = load_notebook(str(LOADING / "nbformat3.ipynb"))
    assert loaded.upgraded and loaded.original_version == (3, 0)
    notebook = build_model(loaded)
    assert [c.cell_type for c in notebook.cells] == ["markdown", "code", "code", "code", "markdown"]
    assert notebook.cells[0].source == "# Version 3 notebook"
    assert [c.execution_count for c in notebook.code_cells] == [1, 2, 3]
    assert notebook.cells[1].source == "import math\nradius = 2.0"
    assert notebook.cells[2].outputs[0]["output_type"] == "execute_result"
    assert notebook.cells[3].outputs[0]["name"] == "stdout"
    result = check_file(str(LOADING / "nbformat3.ipynb"), Config())
    assert result.error is None
    assert rules_of(result) == [("notebook-schema", None), ("undefined-name", 4)]
    assert "nbformat 3.0" in result.findings[0].message


def test_nbformat2_is_upgraded_and_analysed() -> None:
    result = check_file(str(LOADING / "nbformat2.ipynb"), Config())
    assert result.error is None
    assert rules_of(result) == [("notebook-schema", None)]
    assert "nbformat 2.0" in result.findings[0].message
    notebook = build_model(load_notebook(str(LOADING / "nbformat2.ipynb")))
    assert [c.source for c in notebook.code_cells] == ["total = sum(range(4))", "print(total)"]


@pytest.mark.parametrize("name", ["python2_kernel.ipynb", "python2_syntax.ipynb"])
def test_python2_notebook_gets_one_finding(name: str) -> None:
    result = check_file(str(LOADING / name), Config())
    assert result.error is None
    assert rules_of(result) == [("python2-notebook", None)], "one notebook-level finding, no flood"
    finding = result.findings[0]
    assert (finding.code, finding.cell_index, finding.line) == ("NBH010", None, None)


def test_python2_kernel_metadata_is_read() -> None:
    notebook = build_model(load_notebook(str(LOADING / "python2_kernel.ipynb")))
    assert notebook.python_major == 2 and notebook.is_python
    analysis = NotebookAnalysis.build(notebook)
    assert analysis.python2_evidence == "its kernel metadata names Python 2"


@pytest.mark.parametrize(("name", "language"), [("r_kernel.ipynb", "r"), ("julia_kernel.ipynb", "julia")])
def test_non_python_kernel_gets_no_python_analysis(name: str, language: str) -> None:
    notebook = build_model(load_notebook(str(LOADING / name)))
    assert notebook.language == language and not notebook.is_python
    assert NotebookAnalysis.build(notebook).flows == {}
    result = check_file(str(LOADING / name), Config())
    assert result.error is None
    assert not PYTHON_RULES & {f.rule for f in result.findings}
    assert "python2-notebook" not in {f.rule for f in result.findings}


def test_odd_fields_are_schema_findings_not_crashes() -> None:
    notebook = build_model(load_notebook(str(LOADING / "odd_fields.ipynb")))
    assert [c.execution_count for c in notebook.cells] == [None, 1, None, 4]
    assert notebook.cells[1].source == ""  # a number is not source
    assert {index for index, _problem in notebook.schema_problems} == {0, 1, 2}
    result = check_file(str(LOADING / "odd_fields.ipynb"), Config())
    assert result.error is None
    schema = [(f.cell_position, f.message) for f in result.findings if f.rule == "notebook-schema"]
    assert [position for position, _message in schema] == [1, 2, 3]
    assert "'3' is not an integer" in schema[0][1]
    assert "neither a string nor a list of strings" in schema[1][1]
    # the other cells are analysed as usual: a and b are defined
    assert "undefined-name" not in {f.rule for f in result.findings}


def test_loaded_from_data_never_mutates_its_input() -> None:
    data = json.loads((LOADING / "nbformat3.ipynb").read_text())
    before = json.dumps(data, sort_keys=True)
    loaded_from_data(data, "x.ipynb")
    assert json.dumps(data, sort_keys=True) == before


def all_fixture_paths() -> list[str]:
    return [str(LOADING / name) for name in sorted(os.listdir(LOADING)) if name.endswith(".ipynb")]


def test_check_paths_returns_one_result_per_file_in_order() -> None:
    paths = all_fixture_paths()
    assert len(paths) == len(BAD_FILES) + len(GOOD_FILES)
    results = check_paths(paths, Config(), use_cache=False)
    assert [r.path for r in results] == paths
    failed = {os.path.basename(r.path): r.error.kind for r in results if r.error}
    assert failed == {name: kind for name, (kind, _reason) in BAD_FILES.items()}


def test_check_paths_in_parallel_gives_the_same_results(tmp_path: Path) -> None:
    # Enough files for worker processes: the mix twice over, under other names.
    paths = []
    for copy in range(2):
        for source in all_fixture_paths():
            target = tmp_path / f"{copy}-{os.path.basename(source)}"
            target.write_bytes(Path(source).read_bytes())
            paths.append(str(target))
    serial = check_paths(paths, Config(), jobs=1, use_cache=False)
    parallel = check_paths(paths, Config(), jobs=2, use_cache=False)
    assert [(r.path, r.error, r.findings) for r in serial] == [
        (r.path, r.error, r.findings) for r in parallel
    ]


def test_cli_exit_code_2_and_json_entry_per_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(LOADING), "--format", "json", "--no-cache"])
    out = capsys.readouterr().out
    assert code == 2
    document = json.loads(out)
    entries = {os.path.basename(entry["path"]): entry for entry in document["files"]}
    assert sorted(entries) == sorted([*BAD_FILES, *GOOD_FILES])
    for name, (kind, reason) in BAD_FILES.items():
        error = entries[name]["error"]
        assert error["kind"] == kind and reason in error["message"] and name in error["message"]
        assert entries[name]["findings"] == []
    for name in GOOD_FILES:
        assert entries[name]["error"] is None
    assert document["summary"]["files"] == len(entries)
    assert document["summary"]["files_with_errors"] == len(BAD_FILES)


def test_cli_text_names_each_broken_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(LOADING), "--no-cache"])
    out = capsys.readouterr().out
    assert code == 2
    for name, (kind, _reason) in BAD_FILES.items():
        assert any(line.startswith(str(LOADING / name)) and kind in line for line in out.splitlines()), name
    assert f"{len(BAD_FILES)} could not be analysed" in out


def test_cli_missing_path_is_an_error_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = str(LOADING / "nbformat2.ipynb")
    missing = str(tmp_path / "missing.ipynb")
    code = main(["check", good, missing, "--format", "json", "--no-cache"])
    document = json.loads(capsys.readouterr().out)
    assert code == 2
    assert [(e["path"], (e["error"] or {}).get("kind")) for e in document["files"]] == [
        (good, None),
        (missing, "not-found"),
    ]


def _notebook(sources: list[str], metadata: dict) -> dict:  # type: ignore[type-arg]
    cells = [
        {
            "cell_type": "code",
            "id": f"c{i}",
            "source": s,
            "execution_count": i + 1,
            "outputs": [],
            "metadata": {},
        }
        for i, s in enumerate(sources)
    ]
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": cells}


PY3_METADATA = {
    "kernelspec": {"name": "python3", "language": "python"},
    "language_info": {"version": "3.11.7"},
}


def test_one_stray_print_statement_in_a_python3_notebook_is_a_syntax_error() -> None:
    data = _notebook(['print("ok")', "x = 1", 'print "broken"', "y = x + 1"], PY3_METADATA)
    result = check_data(data, "py3.ipynb", Config(select=["NBH0"]))
    assert rules_of(result) == [("syntax-error", 3)]


def test_mostly_python2_cells_make_a_python2_notebook_whatever_the_metadata() -> None:
    data = _notebook(['print "a"', "x = 1", "print x"], PY3_METADATA)
    assert rules_of(check_data(data, "py2.ipynb", Config(select=["NBH0"]))) == [("python2-notebook", None)]
    no_metadata = _notebook(['print "a"', "x = 1", "y = 2", "z = 3"], {})
    assert rules_of(check_data(no_metadata, "py2.ipynb", Config(select=["NBH0"]))) == [
        ("python2-notebook", None)
    ]
