"""Debt scores at past git commits, read from git's object store: nothing is checked out or written.

The commits are the last N that changed a notebook under the given paths (``git log -N -- PATHSPEC``):
a commit that touches no notebook changes no score. At each one, every notebook under the paths is
listed (``git ls-tree``), its blob read into memory (``git cat-file --batch``, one process for all
blobs) and analysed with :func:`nbhygiene.engine.check_data`; identical blobs are analysed once. When
the working tree differs from the newest commit, a last point "working tree" shows the files as they
are now. Only read-only git commands are used.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from nbhygiene.config import Config
from nbhygiene.engine import SKIPPED_DIRECTORIES, check_data
from nbhygiene.report.score import DebtScore, score_findings

WORKING_TREE = "working tree"


class HistoryError(Exception):
    """The paths are not in a git repository, or git failed."""


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str  # WORKING_TREE for the uncommitted state
    timestamp: int
    subject: str

    @property
    def short(self) -> str:
        return self.sha if self.sha == WORKING_TREE else self.sha[:7]


@dataclass(slots=True)
class History:
    root: str
    commits: list[Commit] = field(default_factory=list)  # oldest first
    # repository-relative path -> score at each commit (None: the notebook did not exist there, or
    # could not be analysed)
    scores: dict[str, list[float | None]] = field(default_factory=dict)

    def totals(self) -> list[float]:
        return [sum(series[i] or 0.0 for series in self.scores.values()) for i in range(len(self.commits))]


def _git(root: str, *args: str, input_text: str | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", root, *args],
            capture_output=True,
            text=True,
            errors="replace",
            input=input_text,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"},
            check=False,
        )
    except OSError as exc:
        raise HistoryError(f"--history needs git: {exc}") from None
    if done.returncode != 0:
        raise HistoryError(f"git {args[0]} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def repository_root(path: str) -> str:
    directory = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        return os.path.realpath(_git(directory, "rev-parse", "--show-toplevel").strip())
    except HistoryError:
        raise HistoryError(f"--history: {path} is not in a git repository") from None


def _pathspecs(root: str, paths: Sequence[str]) -> list[tuple[str, bool]]:
    """(repository-relative path, is a directory) for each path; "" is the repository's top."""
    specs: list[tuple[str, bool]] = []
    for path in paths:
        relative = os.path.relpath(os.path.realpath(path), root)
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):
            raise HistoryError(f"--history: {path} is outside the git repository {root}")
        relative = "" if relative == os.curdir else relative.replace(os.sep, "/")
        specs.append((relative, os.path.isdir(path)))
    return specs


def recent_commits(root: str, specs: Sequence[tuple[str, bool]], count: int) -> list[Commit]:
    """The last ``count`` commits that changed a notebook under ``specs``, oldest first."""
    pathspecs = [
        f":(glob){path + '/' if path else ''}**/*.ipynb" if is_dir else path for path, is_dir in specs
    ]
    text = _git(root, "log", f"-{count}", "--format=%H%x1f%ct%x1f%s%x1e", "--", *pathspecs)
    commits = []
    for record in text.split("\x1e"):
        parts = record.strip().split("\x1f")
        if len(parts) == 3:
            commits.append(Commit(parts[0], int(parts[1]), parts[2]))
    return commits[::-1]


def notebooks_at(root: str, commit: str, specs: Sequence[tuple[str, bool]], config: Config) -> dict[str, str]:
    """repository-relative notebook path -> blob id, at ``commit``, under ``specs``."""
    prefixes = [path for path, is_dir in specs if is_dir]
    files = {path for path, is_dir in specs if not is_dir}
    listed = _git(root, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *[p for p, _ in specs if p])
    found: dict[str, str] = {}
    for entry in listed.split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) != 3 or parts[1] != "blob":
            continue
        if path not in files:
            inside = any(not prefix or path.startswith(prefix + "/") for prefix in prefixes)
            if not inside or not path.endswith(".ipynb"):
                continue
            if any(part in SKIPPED_DIRECTORIES for part in path.split("/")[:-1]):
                continue
            if config.is_excluded(os.path.join(root, path)):
                continue
        found[path] = parts[2]
    return found


class _BlobReader:
    """One ``git cat-file --batch`` process for every blob."""

    def __init__(self, root: str) -> None:
        self.process = subprocess.Popen(
            ["git", "-C", root, "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )

    def read(self, blob: str) -> bytes | None:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(blob.encode() + b"\n")
        stdin.flush()
        header = stdout.readline().split()
        if len(header) != 3:
            return None  # "<id> missing"
        data = _read_exactly(stdout, int(header[2]))
        stdout.read(1)  # the newline after the contents
        return data

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def blob_id(data: bytes, length: int = 40) -> str:
    """git's id of a blob with these contents (to tell whether a file changed without asking git)."""
    header = b"blob %d\0" % len(data)
    digest = hashlib.sha1 if length == 40 else hashlib.sha256
    return digest(header + data).hexdigest()


def score_blob(data: bytes, path: str, config: Config) -> DebtScore | None:
    try:
        notebook = json.loads(data)
    except ValueError:
        return None
    result = check_data(notebook, path, config)
    if result.error is not None:
        return None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    code_cells = sum(1 for c in cells or () if isinstance(c, dict) and c.get("cell_type") == "code")
    return score_findings(result.findings, code_cells)


def score_history(
    paths: Sequence[str],
    count: int,
    config: Config,
    current: Callable[[str], float | None] | None = None,
) -> History:
    """Scores of the notebooks under ``paths`` at the last ``count`` commits that changed one.

    ``current(path)`` gives the working tree's score of a notebook (the report has already computed
    it); when the working tree differs from the newest commit, it adds a last point.
    """
    if not paths:
        raise HistoryError("--history: no paths")
    root = repository_root(paths[0])
    specs = _pathspecs(root, paths)
    history = History(root)
    commits = recent_commits(root, specs, count)
    listings = [notebooks_at(root, commit.sha, specs, config) for commit in commits]
    cache: dict[str, float | None] = {}
    reader = _BlobReader(root)
    try:
        for index, listing in enumerate(listings):
            for path, blob in listing.items():
                if blob not in cache:
                    data = reader.read(blob)
                    score = score_blob(data, os.path.join(root, path), config) if data is not None else None
                    cache[blob] = score.total if score is not None else None
                series = history.scores.setdefault(path, [None] * len(commits))
                series[index] = cache[blob]
    finally:
        reader.close()
    history.commits = list(commits)
    if current is not None:
        _add_working_tree(history, specs, listings[-1] if listings else {}, config, current)
    return history


def _add_working_tree(
    history: History,
    specs: Sequence[tuple[str, bool]],
    newest: dict[str, str],
    config: Config,
    current: Callable[[str], float | None],
) -> None:
    from nbhygiene.engine import collect_paths

    root = history.root
    now: dict[str, str] = {}
    for path in collect_paths([os.path.join(root, p) if p else root for p, _ in specs], config):
        relative = os.path.relpath(path, root).replace(os.sep, "/")
        try:
            with open(path, "rb") as handle:
                now[relative] = blob_id(handle.read(), len(next(iter(newest.values()), "x" * 40)))
        except OSError:
            continue
    if now == newest and history.commits:
        return
    import time

    history.commits.append(Commit(WORKING_TREE, int(time.time()), "uncommitted changes"))
    for series in history.scores.values():
        series.append(None)
    for relative in now:
        series = history.scores.setdefault(relative, [None] * len(history.commits))
        series[-1] = current(os.path.join(root, relative))
