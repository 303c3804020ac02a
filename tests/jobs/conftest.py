"""Fixtures for the run tests: a throw-away project with the fixture notebooks, and the CLI as a process.

Kernels started by the code under test must import the ``nbhygiene`` being tested (for
``nbhygiene.record``), not some other installed copy, so the source folder goes first on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import nbhygiene

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(nbhygiene.__file__)))


def _test_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [SOURCE_ROOT, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    env.pop("NBHYGIENE_STORE", None)
    env.pop("NBHYGIENE_FAIL_ON", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(autouse=True)
def _kernel_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _test_environment().items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("NBHYGIENE_STORE", raising=False)
    monkeypatch.delenv("NBHYGIENE_FAIL_ON", raising=False)


@dataclass
class Project:
    root: str

    @property
    def store(self) -> str:
        return os.path.join(self.root, ".nbhygiene")

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def write(self, name: str, text: str) -> str:
        path = self.path(name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def cli(self, *args: str, check_json: bool = False) -> CliResult:
        """The command in this process (fast: no interpreter start, papermill imported once)."""
        import contextlib
        import io

        from nbhygiene.jobs import cli as jobs_cli
        from nbhygiene.jobs.__main__ import main

        stdout, stderr = io.StringIO(), io.StringIO()
        previous = os.getcwd()
        os.chdir(self.root)
        # The CLI drops an optional slow import for its own process; the test process keeps it.
        original = jobs_cli._skip_slow_optional_imports
        jobs_cli._skip_slow_optional_imports = lambda: None
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse usage errors
                    code = exc.code if isinstance(exc.code, int) else 2
        finally:
            jobs_cli._skip_slow_optional_imports = original
            os.chdir(previous)
        result = CliResult(code, stdout.getvalue(), stderr.getvalue())
        if check_json:
            result.json()
        return result

    def cli_process(self, *args: str, timeout: float = 180, check_json: bool = False) -> CliResult:
        """The command as its own process: exit codes, stdout purity and signals as users see them."""
        completed = subprocess.run(
            [sys.executable, "-m", "nbhygiene.jobs", *args],
            cwd=self.root,
            env=_test_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result = CliResult(completed.returncode, completed.stdout, completed.stderr)
        if check_json:
            result.json()  # stdout must hold exactly one JSON document
        return result

    def status(self, run_id: str) -> dict[str, Any]:
        with open(os.path.join(self.store, "runs", run_id, "status.json"), encoding="utf-8") as handle:
            return json.load(handle)  # type: ignore[no-any-return]

    def run_file(self, run_id: str, name: str) -> str:
        return os.path.join(self.store, "runs", run_id, name)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@pytest.fixture
def project(tmp_path: Any) -> Iterator[Project]:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'fixture-project'\n", encoding="utf-8")
    for name in os.listdir(FIXTURES):
        if name.endswith((".ipynb", ".csv")):
            shutil.copy(os.path.join(FIXTURES, name), root / name)
    yield Project(str(root))


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


RUN_KEYS = {
    "id",
    "key",
    "status",
    "cached",
    "params",
    "metrics",
    "output_notebook",
    "started_at",
    "duration_s",
    "error",
}
