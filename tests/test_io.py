from __future__ import annotations

import os
import threading
from pathlib import Path

from nbhygiene.io import atomic_write_text


def test_replaces_a_regular_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write_text(str(target), "new")
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]  # no temp file left behind


def test_writes_into_a_named_pipe_instead_of_replacing_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    atomic_write_text(str(fifo), "through the pipe")
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert fifo.is_fifo()


def test_dev_null_stays_a_device() -> None:
    atomic_write_text(os.devnull, "discarded")
    assert not os.path.isfile(os.devnull)
