"""--history over a real git repository with real notebooks: scores per commit, never a checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nbhygiene.cli import main
from nbhygiene.config import Config
from nbhygiene.engine import check_file
from nbhygiene.report.history import WORKING_TREE, HistoryError, blob_id, score_history
from nbhygiene.report.score import score_findings

EXAMPLES = Path(__file__).parent.parent.parent / "example_notebooks"
CLEAN = EXAMPLES / "clean_wine_pipeline.ipynb"
MESSY = EXAMPLES / "wine_quality_poc.ipynb"
OTHER = EXAMPLES / "diabetes_regression.ipynb"
WORSE = EXAMPLES / "breast_cancer_screening.ipynb"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo: Path, *args: str, when: str = "2026-01-01T00:00:00") -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def score_of(path: Path) -> float:
    result = check_file(str(path), Config())
    assert result.error is None
    return score_findings(result.findings).total


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Three commits that change notebooks, and one that does not.

    1. analysis.ipynb = the clean pipeline
    2. analysis.ipynb = the messy proof of concept; other.ipynb added
    3. README only (no notebook changed: not a point)
    4. other.ipynb deleted
    """
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    shutil.copy(CLEAN, repo / "notebooks" / "analysis.ipynb")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "clean start", when="2026-01-01T00:00:00")
    shutil.copy(MESSY, repo / "notebooks" / "analysis.ipynb")
    shutil.copy(OTHER, repo / "notebooks" / "other.ipynb")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "quick experiments <script>alert(1)</script>", when="2026-01-02T00:00:00")
    (repo / "README.md").write_text("notes\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "readme", when="2026-01-03T00:00:00")
    git(repo, "rm", "-q", "notebooks/other.ipynb")
    git(repo, "commit", "-q", "-m", "drop other", when="2026-01-04T00:00:00")
    return repo


def test_scores_at_each_commit_that_changed_a_notebook(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    status = git(repo, "status", "--porcelain")
    history = score_history([str(repo / "notebooks")], 10, Config())
    assert [c.subject for c in history.commits] == [
        "clean start",
        "quick experiments <script>alert(1)</script>",
        "drop other",
    ]
    clean, messy, other = score_of(CLEAN), score_of(MESSY), score_of(OTHER)
    assert messy > clean and other > 0
    assert history.scores == {
        "notebooks/analysis.ipynb": [clean, messy, messy],
        "notebooks/other.ipynb": [None, other, None],
    }
    assert history.totals() == [clean, messy + other, messy]
    # Nothing was checked out or changed.
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert git(repo, "status", "--porcelain") == status
    assert (repo / "notebooks" / "analysis.ipynb").read_bytes() == MESSY.read_bytes()


def test_last_n_commits_only(repo: Path) -> None:
    history = score_history([str(repo)], 2, Config())
    assert [c.subject for c in history.commits] == [
        "quick experiments <script>alert(1)</script>",
        "drop other",
    ]


def test_working_tree_point_when_notebooks_changed(repo: Path) -> None:
    assert (
        score_history([str(repo)], 5, Config(), current=lambda path: 99.0).commits[-1].subject == "drop other"
    )
    shutil.copy(WORSE, repo / "notebooks" / "analysis.ipynb")
    seen: list[str] = []

    def current(path: str) -> float:
        seen.append(path)
        return 42.0

    history = score_history([str(repo)], 5, Config(), current=current)
    assert history.commits[-1].sha == WORKING_TREE
    assert history.scores["notebooks/analysis.ipynb"][-1] == 42.0
    assert seen == [str(repo / "notebooks" / "analysis.ipynb")]


def test_blob_id_matches_git(repo: Path) -> None:
    path = repo / "notebooks" / "analysis.ipynb"
    assert blob_id(path.read_bytes()) == git(repo, "hash-object", str(path)).strip()


def test_outside_a_repository_is_an_error(tmp_path: Path) -> None:
    shutil.copy(CLEAN, tmp_path / "a.ipynb")
    with pytest.raises(HistoryError, match="not in a git repository"):
        score_history([str(tmp_path)], 3, Config())
    assert (
        main(["report", str(tmp_path), "-o", str(tmp_path / "r.html"), "--history", "3", "--no-cache"]) == 2
    )
    assert not (tmp_path / "r.html").exists()


def test_report_plots_history(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(repo), "-o", str(out), "--history", "5", "--no-cache"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Debt over time" in page
    chart = page[page.index('aria-label="Debt score over commits"') :]
    chart = chart[: chart.index("</svg>")]
    assert chart.count("<polyline") >= 2  # the total and analysis.ipynb
    shas = git(repo, "log", "--format=%H").split()
    assert len(shas) == 4
    for sha in (shas[0], shas[2], shas[3]):  # not the README commit
        assert f">{sha[:7]}</text>" in chart
    assert f">{shas[1][:7]}</text>" not in chart
    assert "<script" not in page and "quick experiments &lt;script&gt;" in page
