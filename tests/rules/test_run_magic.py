"""run-magic (NBH104): `%run` in its forms, and what is not `%run`."""

from __future__ import annotations

import pytest
from hygiene_cells import findings, flagged, notebook


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("%run helpers.py", "`%run helpers.py`"),
        ("%run -i setup.ipynb", "`%run setup.ipynb`"),
        ("%run -t -N4 bench.py --epochs 3", "`%run bench.py`"),
        ("%run -m pkg.module", "`%run -m pkg.module`"),
        ("%run './my notebooks/prep.ipynb'", "`%run ./my notebooks/prep.ipynb`"),
        ('get_ipython().run_line_magic("run", "helpers.py")', "`%run helpers.py`"),
        ("if True:\n    %run helpers.py", "`%run helpers.py`"),
        ("%time %run helpers.py", "`%run helpers.py`"),  # the timed statement is IPython syntax too
    ],
)
def test_run_is_reported(source: str, shown: str) -> None:
    [finding] = findings(notebook([source]), "run-magic")
    assert finding.message.startswith(shown)


@pytest.mark.parametrize(
    "source",
    [
        "# %run helpers.py",
        'print("%run helpers.py")',
        "!python helpers.py",
        "%load helpers.py",
        "%timeit run()",
    ],
)
def test_not_run(source: str) -> None:
    assert flagged([source], "run-magic") == []
