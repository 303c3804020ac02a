"""The progress display on stderr: runs done, running and failed, and the cell each running run is on.

On a terminal it is one line redrawn in place (at most ten times a second); otherwise (CI logs, pipes)
one line per finished run, so a log stays readable.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    def __init__(self, total: int, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interactive = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.failed = 0
        self.cached = 0
        self.running: dict[str, str] = {}  # run id -> label
        self.cell: dict[str, str] = {}  # run id -> "cell 3/7"
        self._last_draw = 0.0
        self._drawn = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        self._clear()
        self._write(text.rstrip("\n") + "\n")
        self._draw(force=True)

    def started(self, run_id: str, label: str) -> None:
        self.running[run_id] = label
        self._draw()

    def event(self, run_id: str, event: str, data: dict[str, Any]) -> None:
        if event == "cell":
            self.cell[run_id] = f"cell {data.get('code_cell')}/{data.get('code_cells')}"
            self._draw()

    def finished(self, run_id: str, label: str, status: str, detail: str = "") -> None:
        self.running.pop(run_id, None)
        self.cell.pop(run_id, None)
        self.done += 1
        if status == "cached":
            self.cached += 1
        elif status != "succeeded":
            self.failed += 1
        if self.enabled and not self.interactive:
            self._write(f"[{self.done}/{self.total}] {status:<11} {run_id}  {label}{detail}\n")
        self._draw(force=True)

    def _line(self) -> str:
        parts = [f"{self.done}/{self.total} done", f"{len(self.running)} running"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.cached:
            parts.append(f"{self.cached} cached")
        line = "[" + ", ".join(parts) + "]"
        if self.running:
            run_id, label = next(iter(self.running.items()))
            line += f" {label}: {self.cell.get(run_id, 'starting')}"
        return line

    def _draw(self, force: bool = False) -> None:
        if not self.interactive:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        line = self._line()
        width = 200
        try:
            import shutil

            width = shutil.get_terminal_size((200, 20)).columns - 1
        except (OSError, ValueError):
            pass
        self._write("\r\x1b[K" + line[:width])
        self._drawn = True

    def _clear(self) -> None:
        if self.interactive and self._drawn:
            self._write("\r\x1b[K")
            self._drawn = False

    def close(self) -> None:
        if self.enabled:
            self._clear()
