"""`nbhygiene report`: exit codes, output file, notebooks that cannot be analysed."""

from __future__ import annotations

import os
import shutil
import stat
import threading
from pathlib import Path

import pytest

from nbhygiene.cli import main

EXAMPLES = Path(__file__).parent.parent.parent / "example_notebooks"


def test_report_is_registered_in_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["report", "--help"])
    except SystemExit as exc:  # argparse's --help, unless main() turns it into a return value
        code = int(exc.code or 0)
    assert code == 0
    assert "--history" in capsys.readouterr().out


def test_writes_a_readable_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(EXAMPLES / "wine_quality_poc.ipynb", tmp_path / "poc.ipynb")
    out = tmp_path / "out.html"
    assert main(["report", str(tmp_path), "-o", str(out), "--no-cache", "--title", "Team <debt>"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<title>Team &lt;debt&gt;</title>" in page
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()
    assert "wrote" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_unanalysable_notebook_is_listed_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(EXAMPLES / "clean_wine_pipeline.ipynb", tmp_path / "good.ipynb")
    (tmp_path / "broken.ipynb").write_text("{ not json <b>", encoding="utf-8")
    out = tmp_path / "out.html"
    assert main(["report", str(tmp_path), "-o", str(out), "--no-cache"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "not analysed" in page and "not json <b>" not in page
    assert "broken.ipynb: not analysed" in capsys.readouterr().err


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "r.html")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["report", str(EXAMPLES), "-o", str(tmp_path / "no-dir" / "r.html"), "--no-cache"]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["report", str(EXAMPLES), "-o", str(tmp_path / "r.html"), "--history", "-1"]) == 2


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_output_to_a_pipe_is_written_not_replaced(tmp_path: Path) -> None:
    # `-o /dev/stdout` or a named pipe: an atomic rename would replace the device with a plain file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    try:
        code = main(["report", str(EXAMPLES / "clean_wine_pipeline.ipynb"), "-o", str(fifo), "--no-cache"])
    finally:
        reader.join(timeout=10)
        if reader.is_alive():  # the report never opened the pipe: let the reader finish
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(timeout=10)
    assert code == 0
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received and received[0].startswith("<!DOCTYPE html>")
