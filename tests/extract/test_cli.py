"""``nbhygiene extract`` on the command line: flags, exit codes, the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nbhygiene.cli import main

from .conftest import FIXTURES

IRIS = FIXTURES / "iris_messy.ipynb"
REFUSALS = FIXTURES / "wine_refusals.ipynb"
KEYS = ["status", "function", "params", "returns", "module", "notebook", "reason", "differences"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["extract", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_for_an_unverified_extraction(copy_notebook: Any, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = copy_notebook(IRIS)
    module = notebook.parent / "steps.py"
    code, out, _err = _run(
        capsys, str(notebook), "--cells", "12", "--module", str(module), "--no-verify", "--format", "json"
    )
    assert code == 0
    document = json.loads(out)
    assert list(document) == KEYS
    assert document["status"] == "unverified"
    assert document["function"] == "center"
    assert document["params"] == ["X", "X_raw"]
    assert document["returns"] == ["X"]
    assert document["reason"] is None and document["differences"] == []
    assert module.exists()


def test_json_for_a_refusal(copy_notebook: Any, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = copy_notebook(REFUSALS)
    code, out, _err = _run(
        capsys,
        str(notebook),
        "--cells",
        "id:exec",
        "--module",
        str(notebook.parent / "m.py"),
        "--format",
        "json",
    )
    assert code == 1
    document = json.loads(out)
    assert list(document) == KEYS
    assert document["status"] == "refused"
    assert document["reason"].startswith("cell 5, line 1: exec()")
    assert sorted(p.name for p in notebook.parent.iterdir()) == [notebook.name]


def test_text_refusal_names_cell_and_line(copy_notebook: Any, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = copy_notebook(REFUSALS)
    code, out, _err = _run(capsys, str(notebook), "--cells", "4", "--module", str(notebook.parent / "m.py"))
    assert code == 1
    assert out.startswith("refused: cell 4, line 2: reads `accuracy_score`")


def test_dry_run_writes_nothing(copy_notebook: Any, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = copy_notebook(IRIS)
    code, out, _err = _run(
        capsys,
        str(notebook),
        "--cells",
        "5-6",
        "--module",
        str(notebook.parent / "steps.py"),
        "--no-verify",
        "--dry-run",
    )
    assert code == 0
    assert "dry run: nothing was written" in out
    assert "def cells_5_6(df):" in out
    assert sorted(p.name for p in notebook.parent.iterdir()) == [notebook.name]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cells", "99"], "outside 1-24"),
        (["--cells", "no-such-cell"], "no cell with id 'no-such-cell'"),
        (["--tag", "nothing-tagged"], "no cell carries the tag 'nothing-tagged'"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, copy_notebook: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy_notebook(IRIS)
    code, _out, err = _run(
        capsys, str(notebook), *args, "--module", str(notebook.parent / "m.py"), "--no-verify"
    )
    assert code == 2
    assert message in err


def test_output_elsewhere_is_a_usage_error(
    copy_notebook: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy_notebook(IRIS)
    (tmp_path / "sub").mkdir()
    code, _out, err = _run(
        capsys,
        str(notebook),
        "--cells",
        "5",
        "--module",
        str(notebook.parent / "m.py"),
        "--output",
        str(tmp_path / "sub" / "new.ipynb"),
    )
    assert code == 2
    assert "must stay in the notebook's directory" in err


def test_missing_module_flag_is_an_argparse_error(
    copy_notebook: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copy_notebook(IRIS)
    assert main(["extract", str(notebook), "--cells", "5"]) == 2
    assert "the following arguments are required: --module" in capsys.readouterr().err


def test_the_core_never_imports_nbclient_or_papermill() -> None:
    code = (
        "import sys, nbhygiene.cli, nbhygiene.extract, nbhygiene.extract.cli;"
        "nbhygiene.cli.build_parser();"
        "bad = [m for m in ('nbclient', 'papermill') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
