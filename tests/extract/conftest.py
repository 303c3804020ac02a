from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "extract"
EXAMPLES = ROOT / "example_notebooks"


def load_spec(name: str) -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def copy_notebook(tmp_path: Path):
    """Copy a fixture or example notebook into a fresh directory; returns its path there."""

    def copy(source: Path) -> Path:
        target = tmp_path / source.name
        shutil.copy2(source, target)
        return target

    return copy
