"""``nbhygiene check --execute``: fresh runs of notebooks built by really executing cells in messy orders.

The fixtures under tests/fixtures/reproduce/ are YAML specs built with tools/nbbuild.py; each says under
``reproduce:`` which cells (by id) a fresh run must flag as ``not-reproducible``, which static rules must
explain them, and where the run stops for an external reason (``cannot-execute``).
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from nbhygiene.cli import main
from nbhygiene.config import Config
from nbhygiene.engine import check_file
from nbhygiene.findings import FileResult
from nbhygiene.reproduce import check_paths_executed, images_match, normalize_text

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "reproduce"
SPECS = sorted(FIXTURES.glob("*.yaml"))
EXAMPLES = ROOT / "example_notebooks"
CONTRACT_KEYS = {
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


def _config() -> Config:
    return Config(select=["ALL"])


@pytest.fixture(scope="module")
def fixture_results() -> dict[str, FileResult]:
    paths = [str(spec.with_suffix(".ipynb")) for spec in SPECS]
    results = check_paths_executed(paths, _config(), jobs=2, timeout=120)
    return {Path(result.path).stem: result for result in results}


def _cell_ids(result: FileResult, rule: str) -> list[str | None]:
    return [f.cell_id for f in result.findings if f.rule == rule]


@pytest.mark.parametrize("spec_path", SPECS, ids=[s.stem for s in SPECS])
def test_fixture_reproduction(spec_path: Path, fixture_results: dict[str, FileResult]) -> None:
    expected = yaml.safe_load(spec_path.read_text())["reproduce"]
    result = fixture_results[spec_path.stem]
    assert result.error is None
    assert _cell_ids(result, "not-reproducible") == expected["not-reproducible"]
    cannot = [f for f in result.findings if f.rule == "cannot-execute"]
    if "cannot-execute" in expected:
        assert len(cannot) == 1 and cannot[0].cell_index is None  # a notebook-level finding
        position = next(
            i + 1
            for i, cell in enumerate(json.loads(spec_path.with_suffix(".ipynb").read_text())["cells"])
            if cell.get("id") == expected["cannot-execute"]
        )
        assert f"cell {position}: " in cannot[0].message
    else:
        assert cannot == []
    for cell_id, rules in (expected.get("explained_by") or {}).items():
        finding = next(f for f in result.findings if f.rule == "not-reproducible" and f.cell_id == cell_id)
        links = finding.to_json()["explained_by"]
        assert {link["rule"] for link in links} & set(rules), links
        for link in links:
            assert set(link) == {"rule", "code", "cell_index", "cell_position", "line"}
        assert "explained by " + rules[0] in finding.message


def test_name_error_links_to_use_before_definition(fixture_results: dict[str, FileResult]) -> None:
    finding = next(f for f in fixture_results["out_of_order"].findings if f.rule == "not-reproducible")
    assert "NameError" in finding.message and "threshold" in finding.message
    assert "2 later code cell(s) did not run" in finding.message
    (link,) = finding.to_json()["explained_by"]
    assert link == {
        "rule": "use-before-definition",
        "code": "NBH003",
        "cell_index": 1,
        "cell_position": 2,
        "line": 1,
    }


def test_json_keys_are_the_contract_plus_links(fixture_results: dict[str, FileResult]) -> None:
    for result in fixture_results.values():
        for finding in result.findings:
            data = finding.to_json()
            if finding.rule == "not-reproducible" and data.get("explained_by"):
                assert set(data) == CONTRACT_KEYS | {"explained_by"}
            else:
                assert set(data) == CONTRACT_KEYS, finding


def test_static_check_is_silent() -> None:
    for spec in SPECS:
        result = check_file(str(spec.with_suffix(".ipynb")), _config())
        assert not [f for f in result.findings if f.rule in ("not-reproducible", "cannot-execute")]


def test_wine_quality_poc_matches_readme(tmp_path: Path) -> None:
    # README, "Fresh restart & run all" of wine_quality_poc: cells 2-7 reproduce; cell 9 `features` raises
    # NameError for FEATURES (its defining cell was deleted) and Run All stops there.
    readme = (EXAMPLES / "README.md").read_text()
    assert "Cell 9 `features` raises `NameError: name 'FEATURES' is not defined`, and Run All stops" in readme
    notebook = tmp_path / "wine_quality_poc.ipynb"  # a copy: its directory may receive files
    shutil.copy(EXAMPLES / "wine_quality_poc.ipynb", notebook)
    saved = tmp_path / "executed"
    (result,) = check_paths_executed([str(notebook)], _config(), jobs=1, timeout=180, save_dir=str(saved))
    flagged = [f for f in result.findings if f.rule in ("not-reproducible", "cannot-execute")]
    assert [(f.rule, f.cell_position, f.cell_id) for f in flagged] == [("not-reproducible", 9, "features")]
    assert "NameError" in flagged[0].message and "FEATURES" in flagged[0].message
    assert {link["rule"] for link in flagged[0].to_json()["explained_by"]} == {"undefined-name"}
    assert (saved / "wine_quality_poc.ipynb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["executed", "wine_quality_poc.ipynb"]


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", "--execute", "--no-cache", "--select", "not-reproducible,cannot-execute"]
    assert main([*args, "--format", "json", str(FIXTURES / "out_of_order.ipynb")]) == 1
    document = json.loads(capsys.readouterr().out)
    text = json.dumps(document)
    assert '"explained_by"' in text and "use-before-definition" in text
    assert main([*args, "--save-executed", str(tmp_path), str(FIXTURES / "timing.ipynb")]) == 0
    assert (tmp_path / "timing.ipynb").is_file()
    assert not list(FIXTURES.glob("*.executed*"))


def test_precommit_hook_is_declared() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    hook = hooks["nbhygiene-reproduce"]
    assert hook["entry"] == "nbhygiene check --execute --select not-reproducible,cannot-execute"
    assert hook["language"] == "system" and hook["types"] == ["jupyter"]


@pytest.mark.parametrize(
    ("saved", "fresh"),
    [
        ("CPU times: user 3 ms, sys: 0 ns, total: 3 ms\nWall time: 2.9 ms\n", "Wall time: 1.2 s\n"),
        (
            "12.3 µs ± 1.1 µs per loop (mean ± std. dev. of 7 runs, 100,000 loops each)\n",
            "9.8 ms ± 210 ns per loop (mean ± std. dev. of 2 runs, 5 loops each)\n",
        ),
        ("<object object at 0x7f3a2b1c9e40>", "<object object at 0x7ff00012ab30>"),
        ("  0%|          | 0/3\r 33%|###3      | 1/3\r100%|##########| 3/3\n", ""),
        (
            "/tmp/ipykernel_123/456.py:5: UserWarning: small\n  warnings.warn('small')\n",
            "/tmp/ipykernel_999/111.py:5: UserWarning: small\n  warnings.warn('small')\n",
        ),
        (
            "/usr/lib/python3/site-packages/sk/base.py:42: FutureWarning: renamed\n",
            "/opt/venv/lib/sk/base.py:57: FutureWarning: renamed\n",
        ),
        ("started 2024-05-01 12:03:44.123456", "started 2026-11-27 00:41:02.000001"),
        ("saved to /tmp/tmpab12cd/model.pkl", "saved to /tmp/tmpzz99yy/model.pkl"),
        ("\x1b[33mWARNING: Running pip as the 'root' user\x1b[0m\nRequirement already satisfied: x", ""),
    ],
)
def test_volatile_content_is_normalised(saved: str, fresh: str) -> None:
    assert normalize_text(saved) == normalize_text(fresh)


def test_real_changes_survive_normalisation() -> None:
    assert normalize_text("accuracy: 0.91") != normalize_text("accuracy: 0.87")
    assert normalize_text("Wall time of the model: high") == ["Wall time of the model: high"]


def _png(size: tuple[int, int], shade: int, square: bool = False) -> str:
    image_module = pytest.importorskip("PIL.Image")
    image: Any = image_module.new("L", size, shade)
    if square:
        image.paste(0, (0, 0, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_images_are_compared_by_structure_not_bytes() -> None:
    assert images_match(_png((60, 40), 200), _png((60, 40), 204))  # anti-aliasing-sized change
    assert not images_match(_png((60, 40), 200), _png((80, 40), 200))  # another size
    assert not images_match(_png((60, 40), 200), _png((60, 40), 200, square=True))  # another picture


def test_default_reprs_and_markup() -> None:
    assert normalize_text("<IPython.core.display.HTML at 0x7f00aabbcc>") == normalize_text(
        "<IPython.core.display.HTML object>"
    )
    assert normalize_text("<b>bold</b>") == ["<b>bold</b>"]
