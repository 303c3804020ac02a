"""Reading a notebook for a run: the parameters cell, defaults and the normalised code digest."""

from __future__ import annotations

import copy
import os

import nbformat
import pytest

from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.notebook_info import MissingParametersCell, describe_notebook, load_notebook_info

from .conftest import FIXTURES


def iris() -> dict:
    return nbformat.read(os.path.join(FIXTURES, "iris_job.ipynb"), as_version=4)


def test_parameters_cell_and_defaults() -> None:
    info = load_notebook_info(os.path.join(FIXTURES, "iris_job.ipynb"))
    assert info.parameters_cell_index == 1
    assert info.defaults == {"n_estimators": 20, "max_depth": 3, "seed": 0}
    assert info.kernel_name == "python3"
    assert info.is_python


def test_computed_defaults_are_code_not_parameters() -> None:
    nb = iris()
    nb.cells[
        1
    ].source = "from pathlib import Path\ndata_dir = Path('data')\nrate: float = 0.5\nsizes = (1, 2)"
    info = describe_notebook(nb, "x.ipynb")
    assert info.defaults == {"rate": 0.5, "sizes": [1, 2]}
    assert info.computed_defaults == {"data_dir": "Path('data')"}
    other = copy.deepcopy(nb)
    other.cells[1].source = other.cells[1].source.replace("'data'", "'other'")
    assert describe_notebook(other, "x.ipynb").code_digest != info.code_digest


def test_digest_ignores_outputs_comments_and_formatting_but_not_code() -> None:
    base = describe_notebook(iris(), "x.ipynb")
    cosmetic = iris()
    cosmetic.cells[3].source = "# a comment\n\n" + cosmetic.cells[3].source.replace("=", " = ") + "   \n"
    cosmetic.cells[3].outputs = [nbformat.v4.new_output("stream", text="noise")]
    cosmetic.cells[3].execution_count = 12
    cosmetic.cells[0].source = "# A different title"
    assert describe_notebook(cosmetic, "x.ipynb").code_digest == base.code_digest
    changed = iris()
    changed.cells[3].source = changed.cells[3].source.replace("test_size=0.3", "test_size=0.4")
    changed_info = describe_notebook(changed, "x.ipynb")
    assert changed_info.code_digest != base.code_digest
    assert [c.digest for c in changed_info.cells if c.cell_id == "cell-4"] != [
        c.digest for c in base.cells if c.cell_id == "cell-4"
    ]
    new_default = iris()
    new_default.cells[1].source = "n_estimators = 50\nmax_depth = 3\nseed = 0\n"
    info = describe_notebook(new_default, "x.ipynb")
    assert info.code_digest == base.code_digest  # a default is a parameter, not code
    assert info.defaults["n_estimators"] == 50


def test_magics_do_not_break_the_digest() -> None:
    nb = iris()
    nb.cells.append(nbformat.v4.new_code_cell("%matplotlib inline\n!pip list | head -1"))
    assert describe_notebook(nb, "x.ipynb").code_digest


def test_missing_parameters_cell_names_the_rule_and_the_fix() -> None:
    info = load_notebook_info(os.path.join(FIXTURES, "no_parameters.ipynb"))
    with pytest.raises(MissingParametersCell) as raised:
        info.require_parameters_cell()
    message = str(raised.value)
    assert "missing-parameters-cell" in message
    assert "Property Inspector" in message and "Cell Tags" in message
    assert "nbhygiene check --fix" in message


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"{not json", "JSON"), (b"[1, 2]", "not a notebook"), (b"\x00\x01binary", "binary")],
)
def test_files_that_are_not_notebooks(tmp_path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_notebook_info(str(path))


def test_missing_file(tmp_path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load_notebook_info(str(tmp_path / "nope.ipynb"))
