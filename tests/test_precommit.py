"""The pre-commit hook, through the real `pre-commit` program, on a machine without Node.js.

`pre-commit try-repo` installs this repository into its own isolated environment with pip (as it does
for users) and runs the `nbhygiene-check` hook on the staged notebooks of a temporary git repository.
Node.js is hidden from PATH, so the install must not need it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "example_notebooks"
NODE_TOOLS = {"node", "nodejs", "npm", "npx", "corepack", "yarn", "jlpm"}

pytestmark = pytest.mark.slow


def _path_without_node(tmp: Path) -> str:
    """PATH with every directory that holds node replaced by a copy of its links minus node."""
    parts: list[str] = []
    for index, directory in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        if not directory or not os.path.isdir(directory):
            continue
        if any(os.path.exists(os.path.join(directory, tool)) for tool in NODE_TOOLS):
            shadow = tmp / f"bin{index}"
            shadow.mkdir()
            for entry in os.listdir(directory):
                if entry not in NODE_TOOLS:
                    os.symlink(os.path.join(directory, entry), shadow / entry)
            parts.append(str(shadow))
        else:
            parts.append(directory)
    return os.pathsep.join(parts)


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("pre-commit") is None:
        pytest.skip("pre-commit is not installed")
    tmp = tmp_path_factory.mktemp("no-node")
    env = dict(os.environ)
    env["PATH"] = _path_without_node(tmp)
    env["PRE_COMMIT_HOME"] = str(tmp_path_factory.mktemp("pre-commit-home"))
    env.pop("SKIP_JUPYTER_BUILDER", None)
    env.pop("NBHYGIENE_SKIP_LABEXTENSION", None)
    check = subprocess.run(
        ["sh", "-c", "command -v node || echo none"], env=env, capture_output=True, text=True
    )
    assert check.stdout.strip() == "none", "node is still on PATH"
    return env


def _repo_with(tmp_path: Path, notebook: Path, env: dict[str, str]) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    shutil.copy(notebook, repo / notebook.name)
    subprocess.run(["git", "add", notebook.name], cwd=repo, check=True, env=env)
    return repo


def _try_repo(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    pre_commit = [sys.executable, "-m", "pre_commit"]
    return subprocess.run(
        [*pre_commit, "try-repo", str(ROOT), "nbhygiene-check", "--verbose"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_hook_fails_a_notebook_with_hidden_state(tmp_path: Path, hook_env: dict[str, str]) -> None:
    repo = _repo_with(tmp_path, EXAMPLES / "wine_quality_poc.ipynb", hook_env)
    result = _try_repo(repo, hook_env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "undefined-name" in output and "FEATURES" in output, output
    assert "wine_quality_poc.ipynb:cell 9" in output, output


def test_hook_passes_a_clean_notebook(tmp_path: Path, hook_env: dict[str, str]) -> None:
    repo = _repo_with(tmp_path, EXAMPLES / "clean_wine_pipeline.ipynb", hook_env)
    result = _try_repo(repo, hook_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout, result.stdout
