"""`nbhygiene check --external TOOL`: real ruff through real nbQA on real notebooks.

The fixture (tests/fixtures/external/markdown_between.yaml, built by tools/nbbuild.py) has markdown and
raw cells between its code cells, an empty code cell, magics, a `%time` assignment, a cell nbQA's
autopep8 pass re-spaces, and cells that nbhygiene's own rules report; see the spec's comments.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from nbhygiene import external
from nbhygiene.cli import main
from nbhygiene.external import ExternalTool, align_lines, parse_output, selector_matches

pytest.importorskip("nbqa")
pytest.importorskip("ruff")

FIXTURE = Path(__file__).parent / "fixtures" / "external" / "markdown_between.ipynb"
RUFF = "ruff --isolated --select F,E4,E9"  # --isolated: the repository's ruff settings must not matter


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    # nbQA writes its temporary file next to the notebook: keep that out of the source tree.
    target = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, target)
    return target


def cell_ids(path: Path) -> list[str]:
    return [cell["id"] for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def check(
    path: Path, capsys: pytest.CaptureFixture[str], *args: str, external_tool: str = RUFF
) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["check", str(path), "--no-cache", "--format", "json", "--external", external_tool, *args])
    captured = capsys.readouterr()
    document = json.loads(captured.out) if captured.out.strip() else {"files": [{"findings": []}]}
    return code, document["files"][0]["findings"], captured.err


def external_findings(findings: list[dict[str, Any]]) -> list[tuple[str, str, int, int, int | None]]:
    return [
        (f["rule"], f["cell_id"], f["cell_position"], f["line"], f["column"])
        for f in findings
        if ":" in f["rule"]
    ]


def test_cells_are_mapped_past_markdown_cells_to_ids_and_positions(
    notebook: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, findings, err = check(notebook, capsys)
    ids = cell_ids(notebook)
    assert code == 1, err
    assert external_findings(findings) == [
        # nbQA calls `use` cell_4 (the 4th code cell); JupyterLab shows it as cell 8 of 15.
        ("ruff:F401", "use", ids.index("use") + 1, 4, 8),
        # nbQA reports line 9: its autopep8 pass added blank lines around the `def` before ruff ran.
        ("ruff:F401", "no-blank-lines", ids.index("no-blank-lines") + 1, 5, 8),
        ("ruff:F401", "line-ignored", ids.index("line-ignored") + 1, 2, 8),
    ]
    use = next(f for f in findings if f["rule"] == "ruff:F401" and f["cell_id"] == "use")
    assert use["code"] == "F401" and use["severity"] == "warning" and "`sys`" in use["message"]
    assert use["cell_index"] == ids.index("use")
    assert "3 finding(s) merged" in err


def test_undefined_names_nbhygiene_reports_or_resolves_are_dropped(
    notebook: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, findings, err = check(notebook, capsys)
    rules = {f["rule"] for f in findings}
    # ruff (through nbQA) says F821 for `out` (%%capture), `display`/`In` (IPython), `squares` (nbQA
    # hid the `%time` assignment), `later` (defined in a later cell) and `missing_name` (nowhere).
    assert "ruff:F821" not in rules
    assert {"use-before-definition", "undefined-name"} <= rules  # nbhygiene says it once, with cell order
    assert "ruff:E402" not in rules  # import-not-at-top judges imports (setup cells, magics)
    assert "dropped 5 duplicate(s)" in err and "6 that nbhygiene's model resolves" in err


def test_external_finding_is_kept_when_nbhygiene_rule_is_off(
    notebook: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, findings, _ = check(notebook, capsys, "--ignore", "undefined-name,use-before-definition")
    undefined = {(f["cell_id"], f["line"], f["message"]) for f in findings if f["rule"] == "ruff:F821"}
    # Only what nbhygiene's model also finds unresolved; magic and IPython names stay dropped.
    assert undefined == {
        ("use", 3, "Undefined name `later`"),
        ("broken", 1, "Undefined name `missing_name`"),
    }


def test_import_position_kept_without_import_not_at_top(
    notebook: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, findings, _ = check(notebook, capsys, "--ignore", "import-not-at-top")
    e402 = sorted((f["cell_id"], f["line"]) for f in findings if f["rule"] == "ruff:E402")
    assert ("no-blank-lines", 5) in e402 and ("use", 4) in e402
    assert not any(cell == "tagged" for cell, _ in e402)  # the cell tag nbhygiene-ignore:ruff


def test_suppressions_apply_to_external_findings(notebook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, findings, _ = check(notebook, capsys)
    f401 = {f["cell_id"] for f in findings if f["rule"] == "ruff:F401"}
    assert "tagged" not in f401  # tag nbhygiene-ignore:ruff
    assert "line-ignored" in f401  # `import json` on line 2 is reported...
    assert not any(f["cell_id"] == "line-ignored" and f["line"] == 1 for f in findings if ":" in f["rule"])
    _, findings, _ = check(notebook, capsys, "--ignore", "ruff:F4")
    assert not any(f["rule"].startswith("ruff:F4") for f in findings)


def test_tool_arguments_with_values_reach_the_tool(
    notebook: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "--select F401" as two words: nbQA's own parser would take "F401" for a notebook path.
    _, findings, _ = check(notebook, capsys, external_tool="ruff --isolated --select F401")
    assert {f["rule"] for f in findings if ":" in f["rule"]} == {"ruff:F401"}


def test_text_output_shows_external_findings_with_cell_positions(
    notebook: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", str(notebook), "--no-cache", "--external", RUFF])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{notebook}:cell 8:4:8: F401 [ruff:F401] `sys` imported but unused" in out


def test_notebook_is_never_modified(notebook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = notebook.read_bytes()
    check(notebook, capsys, external_tool="ruff --isolated --select F401 --fix")
    assert notebook.read_bytes() == before
    assert [p.name for p in notebook.parent.iterdir()] == [notebook.name]  # nbQA's temporary file is gone


def test_missing_tool_is_a_clear_usage_error(notebook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(notebook, capsys, external_tool="nbhygiene-no-such-linter")
    assert code == 2
    assert "`nbhygiene-no-such-linter` is not installed" in err
    assert "Traceback" not in err


def test_missing_nbqa_is_a_clear_usage_error(
    notebook: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(external, "nbqa_available", lambda: False)
    code, _, err = check(notebook, capsys)
    assert code == 2
    assert "needs nbQA" in err and "pip install nbqa" in err


def test_tool_failure_is_a_clear_usage_error(notebook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(notebook, capsys, external_tool="ruff --no-such-option")
    assert code == 2
    assert "--external ruff failed (exit 2)" in err and "--no-such-option" in err


def test_flake8_through_nbqa(notebook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("flake8")
    _, findings, _ = check(notebook, capsys, external_tool="flake8 --select F401 --max-line-length 100")
    assert {(f["rule"], f["cell_id"], f["line"]) for f in findings if ":" in f["rule"]} == {
        ("flake8:F401", "use", 4),
        ("flake8:F401", "no-blank-lines", 5),
        ("flake8:F401", "line-ignored", 2),
        # The tag `nbhygiene-ignore:ruff` and `# nbhygiene: ignore[ruff:F401]` silence ruff only.
        ("flake8:F401", "tagged", 1),
        ("flake8:F401", "line-ignored", 1),
    }


# -- parsing units ----------------------------------------------------------------------------------
def test_parse_output_formats_of_common_tools(tmp_path: Path) -> None:
    cwd = str(tmp_path)
    nb = str(tmp_path / "nb.ipynb")
    lines = {
        "ruff": "nb.ipynb:cell_4:2:14: F821 Undefined name `x`\nnb.ipynb:cell_6:3:8: F401 [*] `sys` imported but unused",
        "flake8": "nb.ipynb:cell_4:2:14: F821 undefined name 'x'",
        "pyflakes": "nb.ipynb:cell_4:2:14: undefined name 'x'\nnb.ipynb:cell_5:1:1: something odd",
        "pylint": "************* Module nb\nnb.ipynb:cell_4:2:13: E0602: Undefined variable 'x' (undefined-variable)",
        "mypy": 'nb.ipynb:cell_4:2: error: Name "x" is not defined  [name-defined]\nnb.ipynb:cell_4:2: note: see',
    }
    parsed = {tool: parse_output(tool, text, cwd).diagnostics for tool, text in lines.items()}
    assert [(d.code, d.message) for d in parsed["ruff"]] == [
        ("F821", "Undefined name `x`"),
        ("F401", "`sys` imported but unused"),
    ]
    assert all(d.path == nb and d.cell == 4 and d.line == 2 for d in parsed["flake8"])
    assert [d.code for d in parsed["pyflakes"]] == ["F821", "EXT"]
    assert [(d.code, d.column) for d in parsed["pylint"]] == [("E0602", 14)]  # pylint counts columns from 0
    assert [(d.code, d.column, d.message) for d in parsed["mypy"]] == [
        ("name-defined", None, 'Name "x" is not defined')
    ]
    syntax = parse_output("ruff", "nb.ipynb:cell_2:1:7: invalid-syntax: Expected `)`", cwd).diagnostics
    assert syntax[0].is_syntax_error and syntax[0].code == "invalid-syntax"


def test_align_lines_follows_non_blank_lines() -> None:
    source = "x = 1\ndef f():\n    return y\nz = f()"
    seen = {
        0: "# sep",
        1: "x = 1",
        2: "",
        3: "",
        4: "def f():",
        5: "    return y",
        6: "",
        7: "",
        8: "z = f()",
    }
    mapping = align_lines(seen, source)
    assert (mapping[4], mapping[5], mapping[8]) == (2, 3, 4)
    assert align_lines({1: "placeholder"}, "a\nb") == {}  # nbQA replaced the cell: keep its numbers


def test_selectors() -> None:
    assert selector_matches("external", "ruff", "F821")
    assert selector_matches("ruff", "ruff", "F821")
    assert selector_matches("ruff:F8", "ruff", "F821")
    assert not selector_matches("ruff:E", "ruff", "F821")
    assert not selector_matches("flake8:F821", "ruff", "F821")
    assert not selector_matches("ruff:", "ruff", "F821")


def test_ruff_gets_concise_output_and_no_fix() -> None:
    argv = ExternalTool.parse("ruff --select F").argv(["a.py"])
    assert argv is not None
    assert argv[-5:] == ["--select", "F", "--output-format=concise", "--no-fix", "a.py"]
    assert "check" in argv
