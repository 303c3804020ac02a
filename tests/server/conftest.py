"""pytest-jupyter's server fixtures, for the tests in this folder only.

Importing them here (rather than through a root ``pytest_plugins``) keeps pytest-jupyter's event-loop
fixtures away from the rest of the suite; the browser tests live in ``ui-tests/`` and run as their own
pytest invocation because Playwright's sync API and these fixtures do not mix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403

EXAMPLES = Path(__file__).resolve().parents[2] / "example_notebooks"


@pytest.fixture
def jp_server_config() -> dict:
    return {"ServerApp": {"jpserver_extensions": {"nbhygiene.server": True}}}


@pytest.fixture
def jp_root_dir(tmp_path: Path) -> Path:
    root = tmp_path / "root_dir"
    root.mkdir()
    for notebook in EXAMPLES.glob("*.ipynb"):
        shutil.copy(notebook, root / notebook.name)
    return root
