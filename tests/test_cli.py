"""``nbhygiene check|rules|rule`` through ``nbhygiene.cli.main(argv)``: output formats, exit codes,
rule selection, configuration, suppressions, the results cache, baselines and the rule docs.

The notebooks are the real fixture notebooks (built by tools/nbbuild.py), copied into a temporary
directory when a test changes them. Checks select the core rules (``--select NBH0``) where the exact
set of findings matters, so that rules added later by others do not change these expectations.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from nbhygiene.cli import main
from nbhygiene.config import Config, load_config
from nbhygiene.engine import check_paths, collect_paths
from nbhygiene.rule import DOC_SECTIONS
from nbhygiene.rules import all_rules

FIXTURES = Path(__file__).parent / "fixtures"
RULES = FIXTURES / "rules"
DELETED_CELL = RULES / "undefined-name" / "deleted_cell.ipynb"  # undefined-name (error) + gap (info)
COMPOUNDING = RULES / "non-idempotent-cell" / "compounding_cells.ipynb"  # five warnings
NOT_FRESH = RULES / "kernel-not-fresh" / "first_cell_deleted.ipynb"  # one info finding
CLEAN = RULES / "kernel-not-fresh" / "fresh_kernel.ipynb"  # nothing at all
SUPPRESSIONS = FIXTURES / "cli" / "suppressions.ipynb"

FINDING_KEYS = {
    "code",
    "rule",
    "severity",
    "message",
    "cell_index",
    "cell_id",
    "cell_position",
    "line",
    "column",
    "end_line",
    "end_column",
    "fix",
}
CORE_RULE_NAMES = {
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
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors exit (with 2) instead of returning
        code = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _err = run(capsys, "check", "--format", "json", *argv)
    return code, json.loads(out)  # the whole of stdout is one JSON document


def found(document: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(f["rule"], f["cell_id"]) for entry in document["files"] for f in entry["findings"]]


def copy(source: Path, directory: Path, name: str | None = None) -> Path:
    target = directory / (name or source.name)
    shutil.copyfile(source, target)
    return target


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def save(path: Path, notebook: dict[str, Any]) -> None:
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")


# -- text and JSON formats ----------------------------------------------------------------------------
TEXT_CELL_LINE = re.compile(
    r"^(?P<path>.+?):cell (?P<position>\d+):(?P<line>\d+):(?P<column>\d+): (?P<code>NBH\d{3}) "
    r"\[(?P<rule>[a-z0-9-]+)\] (?P<message>.+)$"
)
TEXT_NOTEBOOK_LINE = re.compile(
    r"^(?P<path>.+?): (?P<code>NBH\d{3}) \[(?P<rule>[a-z0-9-]+)\] (?P<message>.+)$"
)


def test_text_lines_name_path_cell_line_column_code_rule_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "check", str(DELETED_CELL), "--select", "NBH0", "--no-cache")
    _code, document = run_json(capsys, str(DELETED_CELL), "--select", "NBH0", "--no-cache")
    assert code == 1
    lines = out.splitlines()
    assert lines[-1].startswith("Found 2 finding(s) (1 error, 0 warning, 1 info), in 1 notebook(s)")
    parsed = []
    for text in lines[:-1]:
        match = TEXT_CELL_LINE.match(text) or TEXT_NOTEBOOK_LINE.match(text)
        assert match, text
        parsed.append(match.groupdict())
    expected = []
    for finding in document["files"][0]["findings"]:
        entry = {
            "path": str(DELETED_CELL),
            "code": finding["code"],
            "rule": finding["rule"],
            "message": finding["message"],
        }
        if finding["cell_position"] is not None:
            entry.update(
                position=str(finding["cell_position"]),
                line=str(finding["line"]),
                column=str(finding["column"]),
            )
        expected.append(entry)
    assert parsed == expected
    undefined = next(p for p in parsed if p["rule"] == "undefined-name")
    # JupyterLab's "Cell 2/2" (1-based over all cells), the line and column inside that cell
    assert (undefined["position"], undefined["line"], undefined["column"]) == ("2", "1", "36")
    assert "FEATURES" in undefined["message"]


def test_clean_notebook_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "check", str(CLEAN), "--no-cache")
    assert code == 0
    assert out.strip() == "No findings: 0 finding(s) (0 error, 0 warning, 0 info), in 1 notebook(s)."
    code, out, _err = run(capsys, "check", str(CLEAN), "--no-cache", "--quiet")
    assert (code, out) == (0, "")


def test_json_document_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = run_json(capsys, str(DELETED_CELL), str(COMPOUNDING), "--select", "NBH0", "--no-cache")
    assert code == 1
    assert {"version", "files", "summary"} <= set(document)
    assert document["version"] == 1
    assert [entry["path"] for entry in document["files"]] == [str(DELETED_CELL), str(COMPOUNDING)]
    for entry in document["files"]:
        assert set(entry) == {"path", "error", "findings"}
        assert entry["error"] is None
        for finding in entry["findings"]:
            assert set(finding) >= FINDING_KEYS
            assert finding["severity"] in ("error", "warning", "info")
            assert re.fullmatch(r"NBH\d{3}", finding["code"])
            if finding["cell_index"] is None:  # notebook-level: every cell field is null
                assert all(
                    finding[k] is None
                    for k in ("cell_id", "cell_position", "line", "column", "end_line", "end_column")
                )
            else:
                assert finding["cell_position"] == finding["cell_index"] + 1
                assert isinstance(finding["cell_id"], str)
                assert finding["line"] >= 1 and finding["column"] >= 1
    gap = next(f for f in document["files"][0]["findings"] if f["rule"] == "execution-count-gap")
    assert gap["cell_index"] is None
    undefined = next(f for f in document["files"][0]["findings"] if f["rule"] == "undefined-name")
    assert (undefined["cell_index"], undefined["cell_id"], undefined["cell_position"]) == (1, "select", 2)
    assert (undefined["line"], undefined["column"], undefined["end_line"], undefined["end_column"]) == (
        1,
        36,
        1,
        44,
    )
    summary = document["summary"]
    assert summary["files"] == 2 and summary["findings"] == 7
    assert summary["by_severity"] == {"error": 1, "warning": 5, "info": 1}
    assert summary["by_rule"] == {"execution-count-gap": 1, "non-idempotent-cell": 5, "undefined-name": 1}


def test_json_top_level_keys_are_exactly_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    _code, document = run_json(capsys, str(DELETED_CELL), "--no-cache")
    assert set(document) == {"version", "files", "summary"}


def test_json_finding_keys_are_exactly_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    notebooks = [RULES / "use-before-definition" / "function_called_before_global.ipynb", DELETED_CELL]
    _code, document = run_json(capsys, *map(str, notebooks), "--select", "NBH0", "--no-cache")
    keys = [set(f) for entry in document["files"] for f in entry["findings"]]
    assert keys and all(k == FINDING_KEYS for k in keys)


def test_json_stdout_holds_one_document_even_with_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    code, out, err = run(capsys, "check", "--format", "json", str(broken), str(DELETED_CELL), "--no-cache")
    assert code == 2
    document = json.loads(out)
    assert [bool(e["error"]) for e in document["files"]] == [True, False]
    assert "{" not in err  # nothing of the document leaks to stderr


def test_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.json"
    code, out, _err = run(
        capsys, "check", str(DELETED_CELL), "--format", "json", "-o", str(report), "--no-cache"
    )
    assert code == 1 and out == ""
    assert json.loads(report.read_text())["summary"]["findings"] >= 2


# -- exit codes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("notebook", "options", "expected"),
    [
        (CLEAN, [], 0),
        (COMPOUNDING, [], 1),  # warnings fail at the default --fail-on warning
        (COMPOUNDING, ["--fail-on", "error"], 0),
        (COMPOUNDING, ["--fail-on", "info"], 1),
        (DELETED_CELL, ["--fail-on", "error"], 1),
        (DELETED_CELL, ["--exit-zero"], 0),
        (COMPOUNDING, ["--exit-zero", "--fail-on", "info"], 0),
        # info never changes the exit code, whatever --fail-on says
        (NOT_FRESH, [], 0),
        (NOT_FRESH, ["--fail-on", "info"], 0),
        (RULES / "no-execution-history" / "stripped_outputs.ipynb", ["--fail-on", "info"], 0),
    ],
    ids=lambda v: v.stem if isinstance(v, Path) else str(v),
)
def test_exit_codes(
    capsys: pytest.CaptureFixture[str], notebook: Path, options: list[str], expected: int
) -> None:
    code, _out, _err = run(capsys, "check", str(notebook), "--select", "NBH0", "--no-cache", *options)
    assert code == expected


def test_exit_code_2_for_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "check", str(CLEAN), "--select", "no-such-rule")
    assert code == 2 and "no-such-rule" in err
    code, _out, err = run(capsys, "check", str(CLEAN), "--fail-on", "fatal")
    assert code == 2
    code, _out, _err = run(capsys, "frobnicate")
    assert code == 2
    code, _out, _err = run(capsys)
    assert code == 2
    code, _out, _err = run(capsys, "check", str(tmp_path / "missing.ipynb"))
    assert code == 2


def test_exit_code_2_beats_exit_zero_when_a_file_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.ipynb").write_text("")
    code, _out, _err = run(capsys, "check", str(tmp_path), "--exit-zero", "--no-cache")
    assert code == 2


# -- selection ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--select", "NBH004"], {"undefined-name"}),
        (["--select", "undefined-name"], {"undefined-name"}),
        (["--select", "NBH00"], {"undefined-name", "execution-count-gap"}),
        (["--select", "nbh004,execution-count-gap"], {"undefined-name", "execution-count-gap"}),
        (["--select", "NBH004", "--select", "NBH008"], {"undefined-name", "execution-count-gap"}),
        (["--select", "hidden-state"], {"undefined-name", "execution-count-gap"}),
        (["--select", "NBH0", "--ignore", "NBH004"], {"execution-count-gap"}),
        (["--select", "NBH0", "--ignore", "undefined-name"], {"execution-count-gap"}),
        (["--select", "NBH0", "--ignore", "NBH00"], set()),
        (["--select", "ALL", "--ignore", "NBH1,NBH2,NBH3,NBH008"], {"undefined-name"}),
    ],
)
def test_select_and_ignore(
    capsys: pytest.CaptureFixture[str], options: list[str], expected: set[str]
) -> None:
    _code, document = run_json(capsys, str(DELETED_CELL), "--no-cache", *options)
    assert {rule for rule, _cell in found(document)} == expected


# -- configuration ------------------------------------------------------------------------------------
def project(tmp_path: Path, toml: str, *notebooks: Path) -> list[Path]:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n\n" + toml, encoding="utf-8")
    return [copy(nb, tmp_path) for nb in notebooks]


def test_config_select_and_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (notebook,) = project(
        tmp_path, '[tool.nbhygiene]\nselect = ["NBH0"]\nignore = ["execution-count-gap"]\n', DELETED_CELL
    )
    _code, document = run_json(capsys, str(notebook), "--no-cache")
    assert found(document) == [("undefined-name", "select")]
    # the command line's --select replaces the configured select; its --ignore adds to the configured one
    _code, document = run_json(capsys, str(notebook), "--no-cache", "--select", "NBH008,NBH004")
    assert found(document) == [("undefined-name", "select")]
    _code, document = run_json(capsys, str(notebook), "--no-cache", "--ignore", "NBH004")
    assert found(document) == []


def test_config_severity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (notebook,) = project(
        tmp_path,
        '[tool.nbhygiene]\nselect = ["NBH0"]\n[tool.nbhygiene.severity]\nkernel-not-fresh = "error"\n',
        NOT_FRESH,
    )
    code, document = run_json(capsys, str(notebook), "--no-cache")
    assert code == 1
    assert [f["severity"] for f in document["files"][0]["findings"]] == ["error"]
    (tmp_path / "pyproject.toml").write_text('[tool.nbhygiene.severity]\nNBH009 = "warning"\n')
    code, document = run_json(capsys, str(notebook), "--no-cache", "--select", "NBH0")
    assert code == 1 and document["files"][0]["findings"][0]["severity"] == "warning"


def test_config_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (notebook,) = project(tmp_path, '[tool.nbhygiene]\nselect = ["NBH0"]\nfail-on = "error"\n', COMPOUNDING)
    code, _out, _err = run(capsys, "check", str(notebook), "--no-cache")
    assert code == 0
    code, _out, _err = run(capsys, "check", str(notebook), "--no-cache", "--fail-on", "warning")
    assert code == 1


def test_config_per_file_ignores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = '[tool.nbhygiene]\nselect = ["NBH0"]\n[tool.nbhygiene.per-file-ignores]\n"deleted_*.ipynb" = ["undefined-name"]\n'
    deleted, other = project(tmp_path, toml, DELETED_CELL, NOT_FRESH)
    _code, document = run_json(capsys, str(tmp_path), "--no-cache")
    by_file = {Path(e["path"]).name: {f["rule"] for f in e["findings"]} for e in document["files"]}
    assert by_file == {deleted.name: {"execution-count-gap"}, other.name: {"kernel-not-fresh"}}


def test_config_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configurable = [rule for rule in all_rules() if rule.options]
    if not configurable:
        pytest.skip("no rule has options")
    rule = configurable[0]
    name, default = next(iter(rule.options.items()))
    toml = f"[tool.nbhygiene.options.{rule.name}]\n{name} = {json.dumps(default)}\n"
    (notebook,) = project(tmp_path, toml, CLEAN)
    code, _out, err = run(capsys, "check", str(notebook), "--no-cache")
    assert code in (0, 1), err
    assert load_config(str(notebook)).options_for(rule)[name] == default
    (tmp_path / "pyproject.toml").write_text(f"[tool.nbhygiene.options.{rule.name}]\nno-such-option = 1\n")
    code, _out, err = run(capsys, "check", str(notebook), "--no-cache")
    assert code == 2 and "no-such-option" in err


@pytest.mark.parametrize(
    "toml",
    [
        "[tool.nbhygiene]\nunknown-key = 1\n",
        '[tool.nbhygiene]\nselect = "NBH0" = 1\n',  # not TOML
        '[tool.nbhygiene.severity]\nundefined-name = "fatal"\n',
        '[tool.nbhygiene.severity]\nno-such-rule = "error"\n',
        "[tool.nbhygiene]\nselect = [1, 2]\n",
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str) -> None:
    (tmp_path / "pyproject.toml").write_text(toml)
    notebook = copy(CLEAN, tmp_path)
    code, out, err = run(capsys, "check", str(notebook), "--no-cache")
    assert code == 2 and out == "" and "pyproject.toml" in err


def test_config_builtins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # names a platform injects (spark, dbutils, ...) are not undefined
    (notebook,) = project(
        tmp_path, '[tool.nbhygiene]\nselect = ["NBH004"]\nbuiltins = ["FEATURES"]\n', DELETED_CELL
    )
    _code, document = run_json(capsys, str(notebook), "--no-cache")
    assert found(document) == []


def test_explicit_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[tool.nbhygiene]\nselect = ["kernel-not-fresh"]\n')
    _code, document = run_json(
        capsys, str(DELETED_CELL), str(NOT_FRESH), "--config", str(config), "--no-cache"
    )
    assert found(document) == [("kernel-not-fresh", "first")]


# -- suppressions -------------------------------------------------------------------------------------
def test_suppressions_by_tag_and_line_comment(capsys: pytest.CaptureFixture[str]) -> None:
    _code, document = run_json(capsys, str(SUPPRESSIONS), "--select", "undefined-name", "--no-cache")
    assert sorted(found(document)) == [
        ("undefined-name", "line-other-rule"),  # `# nbhygiene: ignore[stale-output]` is about another rule
        ("undefined-name", "tagged-other-rule"),  # tags for stale-output and NBH1..., not this rule
        ("undefined-name", "unsuppressed"),
        ("undefined-name", "unsuppressed"),
    ]
    # `uses` reads a..g, all defined by suppressed cells: a suppressed cell's definitions still count


def test_suppressed_rules_still_run_elsewhere(capsys: pytest.CaptureFixture[str]) -> None:
    _code, document = run_json(capsys, str(SUPPRESSIONS), "--select", "NBH0", "--no-cache")
    # the tag on the first cell suppresses undefined-name only: kernel-not-fresh still lands there
    assert ("kernel-not-fresh", "tagged-rule") in found(document)


def test_notebook_metadata_suppression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = copy(DELETED_CELL, tmp_path)
    data = load(notebook)
    data["metadata"]["nbhygiene"] = {"ignore": ["undefined-name"]}
    save(notebook, data)
    _code, document = run_json(capsys, str(notebook), "--select", "NBH0", "--no-cache")
    assert found(document) == [("execution-count-gap", None)]
    data["metadata"]["nbhygiene"] = {"ignore": "NBH008"}
    save(notebook, data)
    _code, document = run_json(capsys, str(notebook), "--select", "NBH0", "--no-cache")
    assert found(document) == [("undefined-name", "select")]
    data["metadata"]["nbhygiene"] = {"ignore": True}
    save(notebook, data)
    code, document = run_json(capsys, str(notebook), "--no-cache")
    assert (code, found(document)) == (0, [])


# -- results cache ------------------------------------------------------------------------------------
@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("NBHYGIENE_CACHE_DIR", str(directory))
    return directory


def test_cache_second_run_is_cached_and_identical(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy(DELETED_CELL, tmp_path)
    first = check_paths([str(notebook)], Config())
    second = check_paths([str(notebook)], Config())
    assert [r.cached for r in first] == [False]
    assert [r.cached for r in second] == [True]
    assert second[0].findings == first[0].findings
    assert [f.source_hash for f in second[0].findings] == [f.source_hash for f in first[0].findings]
    assert any(cache_dir.iterdir())
    code1, out1, _ = run(capsys, "check", str(notebook), "--format", "json")
    code2, out2, _ = run(capsys, "check", str(notebook), "--format", "json")
    assert (code1, out1) == (code2, out2)


def test_cache_invalidated_by_a_changed_file(tmp_path: Path, cache_dir: Path) -> None:
    notebook = copy(DELETED_CELL, tmp_path)
    check_paths([str(notebook)], Config())
    data = load(notebook)
    data["cells"][1]["source"] = ["print(sorted(table))"]  # the undefined name is gone
    save(notebook, data)
    result = check_paths([str(notebook)], Config())[0]
    assert not result.cached
    assert "undefined-name" not in {f.rule for f in result.findings}


def test_cache_survives_touch_but_not_same_size_edit(tmp_path: Path, cache_dir: Path) -> None:
    notebook = copy(DELETED_CELL, tmp_path)
    check_paths([str(notebook)], Config())
    os.utime(notebook, (1, 1))  # new mtime, same content: still a hit (content hash)
    assert check_paths([str(notebook)], Config())[0].cached
    text = notebook.read_text().replace("FEATURES", "FEATUREZ")  # same size, other content
    notebook.write_text(text)
    result = check_paths([str(notebook)], Config())[0]
    assert not result.cached and "FEATUREZ" in result.findings[-1].message


def test_cache_invalidated_by_a_changed_config(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy(DELETED_CELL, tmp_path)
    check_paths([str(notebook)], Config())
    assert check_paths([str(notebook)], Config())[0].cached
    other = check_paths([str(notebook)], Config(ignore=["undefined-name"]))[0]
    assert not other.cached and "undefined-name" not in {f.rule for f in other.findings}
    # through the CLI: editing pyproject.toml changes what is reported at once
    (tmp_path / "pyproject.toml").write_text('[tool.nbhygiene]\nselect = ["NBH0"]\n')
    _code, first = run_json(capsys, str(notebook))
    (tmp_path / "pyproject.toml").write_text('[tool.nbhygiene]\nselect = ["NBH0"]\nignore = ["NBH008"]\n')
    _code, second = run_json(capsys, str(notebook))
    assert ("execution-count-gap", None) in found(first)
    assert found(second) == [("undefined-name", "select")]


def test_no_cache_neither_reads_nor_writes(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy(DELETED_CELL, tmp_path)
    run(capsys, "check", str(notebook), "--no-cache")
    assert not cache_dir.exists() or not any(cache_dir.iterdir())
    assert not check_paths([str(notebook)], Config(), use_cache=False)[0].cached
    check_paths([str(notebook)], Config())
    assert not check_paths([str(notebook)], Config(), use_cache=False)[0].cached


def test_corrupt_cache_is_ignored(tmp_path: Path, cache_dir: Path) -> None:
    notebook = copy(DELETED_CELL, tmp_path)
    check_paths([str(notebook)], Config())
    for file in cache_dir.iterdir():
        file.write_text("{ corrupt")
    result = check_paths([str(notebook)], Config())[0]
    assert not result.cached and result.findings


# -- baseline -----------------------------------------------------------------------------------------
def test_baseline_hides_old_findings_and_shows_new_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy(DELETED_CELL, tmp_path)
    baseline = tmp_path / "baseline.json"
    code, document = run_json(
        capsys, str(notebook), "--select", "NBH0", "--no-cache", "--write-baseline", str(baseline)
    )
    assert code == 1 and len(found(document)) == 2  # writing a baseline still reports
    recorded = json.loads(baseline.read_text())
    assert "FEATURES" not in baseline.read_text()  # hashes, never source or messages
    assert len(recorded["findings"]) == 2
    code, document = run_json(
        capsys, str(notebook), "--select", "NBH0", "--no-cache", "--baseline", str(baseline)
    )
    assert (code, found(document)) == (0, [])

    data = load(notebook)
    new_cell = dict(
        data["cells"][1], id="new-cell", source=["print(brand_new_name)"], outputs=[], execution_count=None
    )
    data["cells"].append(new_cell)
    save(notebook, data)
    code, document = run_json(
        capsys, str(notebook), "--select", "NBH0", "--no-cache", "--baseline", str(baseline)
    )
    assert code == 1
    assert found(document) == [("undefined-name", "new-cell")]


def test_baseline_survives_moving_cells(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # undefined-name does not depend on the order of these cells, so moving them changes only positions
    notebook = copy(RULES / "undefined-name" / "interactive_session.ipynb", tmp_path)
    baseline = tmp_path / "baseline.json"
    select = ["--select", "undefined-name", "--no-cache"]
    _code, before = run_json(capsys, str(notebook), *select, "--write-baseline", str(baseline))
    data = load(notebook)
    setup, helper, apply = data["cells"]
    title = {"cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# moved around"]}
    data["cells"] = [title, apply, setup, helper]
    save(notebook, data)
    _code, moved = run_json(capsys, str(notebook), *select)

    def where(document: dict[str, Any]) -> list[tuple[str, int]]:
        return sorted((f["cell_id"], f["cell_position"]) for e in document["files"] for f in e["findings"])

    assert where(before) == [("apply", 3), ("helper", 2)]
    assert where(moved) == [("apply", 2), ("helper", 4)]
    code, document = run_json(capsys, str(notebook), *select, "--baseline", str(baseline))
    assert (code, found(document)) == (0, [])


def test_baseline_reviews_an_edited_cell_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = copy(DELETED_CELL, tmp_path)
    baseline = tmp_path / "baseline.json"
    run_json(capsys, str(notebook), "--select", "NBH004", "--no-cache", "--write-baseline", str(baseline))
    data = load(notebook)
    data["cells"][1]["source"] = ["X = {name: table[name] for name in FEATURES}\n", "print(len(X))"]
    save(notebook, data)
    _code, document = run_json(
        capsys, str(notebook), "--select", "NBH004", "--no-cache", "--baseline", str(baseline)
    )
    assert found(document) == [("undefined-name", "select")]


def test_bad_baseline_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text("[1, 2]")
    code, _out, err = run(capsys, "check", str(CLEAN), "--baseline", str(bad), "--no-cache")
    assert code == 2 and "baseline" in err
    code, _out, _err = run(
        capsys, "check", str(CLEAN), "--baseline", str(tmp_path / "missing.json"), "--no-cache"
    )
    assert code == 2


# -- directories --------------------------------------------------------------------------------------
def test_checkpoints_and_hidden_tool_directories_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy(CLEAN, tmp_path, "analysis.ipynb")
    for skipped in (".ipynb_checkpoints", ".git", "node_modules", ".venv"):
        (tmp_path / skipped).mkdir()
        copy(DELETED_CELL, tmp_path / skipped, "analysis-checkpoint.ipynb")
    (tmp_path / "sub").mkdir()
    copy(NOT_FRESH, tmp_path / "sub", "b.ipynb")
    (tmp_path / "notes.txt").write_text("not a notebook")
    assert collect_paths([str(tmp_path)], Config()) == [
        str(tmp_path / "analysis.ipynb"),
        str(tmp_path / "sub" / "b.ipynb"),
    ]
    _code, document = run_json(capsys, str(tmp_path), "--no-cache")
    assert [Path(e["path"]).name for e in document["files"]] == ["analysis.ipynb", "b.ipynb"]


def test_named_file_is_checked_even_inside_checkpoints(tmp_path: Path) -> None:
    (tmp_path / ".ipynb_checkpoints").mkdir()
    named = copy(CLEAN, tmp_path / ".ipynb_checkpoints", "x-checkpoint.ipynb")
    assert collect_paths([str(named)], Config()) == [str(named)]


def test_no_notebooks_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "check", str(tmp_path), "--no-cache")
    assert code == 0 and "no notebooks found" in err


# -- the rule catalogue -------------------------------------------------------------------------------
def test_rules_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "rules", "--format", "json")
    assert code == 0
    catalogue = json.loads(out)
    assert len(catalogue) == len(all_rules())
    codes = [r["code"] for r in catalogue]
    names = [r["name"] for r in catalogue]
    assert len(set(codes)) == len(codes) and len(set(names)) == len(names)
    for entry in catalogue:
        assert {"code", "name", "summary", "severity", "family"} <= set(entry)
        assert re.fullmatch(r"NBH\d{3}", entry["code"])
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", entry["name"])
        assert entry["severity"] in ("error", "warning", "info") and entry["summary"]
    core = {r["name"]: r["code"] for r in catalogue if r["code"] <= "NBH012"}
    assert set(core) == CORE_RULE_NAMES
    assert core["execution-order"] == "NBH001" and core["notebook-schema"] == "NBH012"


def test_rules_text_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "rules")
    assert code == 0
    for rule in all_rules():
        assert any(line.startswith(rule.code) and rule.name in line for line in out.splitlines())


@pytest.mark.parametrize("key", ["undefined-name", "NBH004", "nbh004", "Undefined-Name"])
def test_rule_doc_by_name_or_code(capsys: pytest.CaptureFixture[str], key: str) -> None:
    code, out, _err = run(capsys, "rule", key)
    assert code == 0
    assert out.startswith("undefined-name (NBH004)")
    for section in DOC_SECTIONS:
        assert f"## {section}" in out


def test_rule_doc_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "rule", "stale-output", "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["code"] == "NBH005" and set(document["sections"]) == set(DOC_SECTIONS)


def test_unknown_rule_doc(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "rule", "no-such-rule")
    assert code == 2 and "no-such-rule" in err


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: f"{r.code}-{r.name}")
def test_every_rule_doc_has_the_four_sections(rule: Any) -> None:
    sections = rule.doc_sections()
    assert list(sections) == ["What it does", "Why it matters", "Example", "What to do instead"]
    assert all(text.strip() for text in sections.values()), f"{rule.name}: an empty section"
    assert rule.summary and rule.doc().strip()
