"""The report page: escaped (no notebook HTML or JavaScript survives), secrets masked, well formed.

Uses the real notebook tests/fixtures/report/hostile.ipynb (built by tools/nbbuild.py): JavaScript in a
markdown cell, in cell source and in a saved text/html output, and credentials in a code cell.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nbhygiene.cli import main
from nbhygiene.findings import Finding, Severity
from nbhygiene.report.excerpt import MASK, cell_excerpt, redact_source
from nbhygiene.report.html import NotebookReport, ReportPage, axis_ticks, render_page
from nbhygiene.report.score import score_findings

FIXTURE = Path(__file__).parent.parent / "fixtures" / "report" / "hostile.ipynb"
HOSTILE_NAME = "<img src=x onerror=alert(1)>.ipynb"
SECRETS = ("q8Zr3LmV0xKp7TnW2sYbUe5", "hunter2-Xq9")
VOID = {"meta", "br", "img", "hr", "link", "input", "wbr", "source", "area", "base", "col", "embed", "track"}


class StrictChecker(HTMLParser):
    """Every element closed in order; records every start tag and attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def check_well_formed(page: str) -> StrictChecker:
    checker = StrictChecker()
    checker.feed(page)
    checker.close()
    assert checker.doctype
    assert checker.problems == []
    assert checker.stack == []
    return checker


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    target = tmp_path / HOSTILE_NAME
    shutil.copy(FIXTURE, target)
    return target


def write_report(paths: list[Path], out: Path, *args: str) -> str:
    assert main(["report", *map(str, paths), "-o", str(out), "--no-cache", *args]) == 0
    return out.read_text(encoding="utf-8")


def test_notebook_html_and_javascript_never_reach_the_page_unescaped(hostile: Path, tmp_path: Path) -> None:
    page = write_report([hostile], tmp_path / "report.html")
    checker = check_well_formed(page)
    assert not any(tag == "script" for tag, _ in checker.tags)
    assert not any(name.startswith("on") for _, attrs in checker.tags for name, _ in attrs)
    assert not any(tag == "img" for tag, _ in checker.tags)
    assert "<script" not in page.lower() and "<b>bold</b>" not in page
    # The source excerpt is there, as text.
    assert "&lt;script&gt;alert(&#x27;output&#x27;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    assert "# &quot;&lt;script&gt;alert(&#x27;source&#x27;)&lt;/script&gt;&quot;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;.ipynb" in page  # the file name, escaped
    assert 'http-equiv="Content-Security-Policy"' in page and "default-src &#x27;none&#x27;" in page


def test_secrets_are_masked_in_excerpts_and_messages(hostile: Path, tmp_path: Path) -> None:
    page = write_report([hostile], tmp_path / "report.html")
    for secret in SECRETS:
        assert secret not in page
    assert f"api_key = &quot;{MASK}&quot;" in page
    assert f"db_password = &quot;{MASK}&quot;" in page
    assert "secret-in-notebook" in page  # the findings themselves are shown


def test_secrets_are_masked_even_when_the_secret_rule_is_off(hostile: Path, tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.nbhygiene]\nignore = ["secret-in-notebook"]\n', encoding="utf-8")
    page = write_report([hostile], tmp_path / "report.html", "--config", str(config))
    assert "secret-in-notebook" not in page
    assert "unused-definition" in page  # so the credentials cell is shown...
    for secret in SECRETS:
        assert secret not in page  # ...masked


def test_private_key_body_is_masked_through_its_end_marker() -> None:
    body = "\n".join(["MIIEowIBAAKCAQEA7bq9" + "Qx3f" * 14] * 3)
    header, footer = "-----BEGIN " + "RSA PRIVATE KEY-----", "-----END " + "RSA PRIVATE KEY-----"
    source = f'key = """{header}\n{body}\n{footer}"""\nprint(len(key))'
    redacted = redact_source(source)
    assert "MIIEow" not in redacted and "BEGIN" not in redacted
    assert redacted.splitlines()[-1] == "print(len(key))"
    assert len(redacted.splitlines()) == len(source.splitlines())  # line numbers unchanged


def test_flagged_lines_are_masked_when_the_detector_misses() -> None:
    finding = Finding("NBH106", "secret-in-notebook", Severity.ERROR, "secret", "nb.ipynb", 0, None, 1, 2, 5)
    excerpt = cell_excerpt("x = 1\nweird = opaque-value-123\ny = 2", [finding])
    assert [line.text for line in excerpt] == ["x = 1", f"weird = {MASK}", "y = 2"]
    assert [line.marked for line in excerpt] == [False, True, False]


def test_messages_and_paths_are_escaped_by_the_renderer() -> None:
    evil = "<script>alert(1)</script>"
    finding = Finding("NBH004", "undefined-name", Severity.ERROR, f"`{evil}` x", f"{evil}.ipynb")
    page = render_page(
        ReportPage(
            title=evil,
            generated="now",
            version="0",
            notebooks=[NotebookReport(f"{evil}.ipynb", score_findings([finding]), [finding])],
        )
    )
    check_well_formed(page)
    assert "<script" not in page
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code> x" in page


def test_page_has_scores_breakdown_and_bar_chart(tmp_path: Path) -> None:
    examples = Path(__file__).parent.parent.parent / "example_notebooks"
    page = write_report([examples], tmp_path / "report.html")
    check_well_formed(page)
    assert page.count('<details class="notebook"') == len(list(examples.glob("*.ipynb")))
    svg = re.search(r"<svg[^>]*aria-label=\"Debt score by notebook\".*?</svg>", page, re.S)
    assert svg is not None and "<rect" in svg.group(0)
    for label in ("hidden state", "configuration", "ML pitfalls"):
        assert label in page
    assert "Debt over time" not in page  # only with --history


def test_cell_excerpt_windows_merge_and_mark() -> None:
    source = "\n".join(f"line{i}" for i in range(1, 21))
    findings = [
        Finding("NBH004", "undefined-name", Severity.ERROR, "m", "nb", 0, None, 1, line, 1)
        for line in (3, 5, 15)
    ]
    excerpt = cell_excerpt(source, findings)
    assert [line.number for line in excerpt] == [1, 2, 3, 4, 5, 6, 7, 13, 14, 15, 16, 17]
    assert [line.number for line in excerpt if line.gap_before] == [13]
    assert {line.number for line in excerpt if line.marked} == {3, 5, 15}


@pytest.mark.parametrize(
    ("value", "ticks"),
    [
        (0.0, [0.0, 1.0]),
        (3.0, [0, 1, 2, 3]),
        (40.5, [0, 10, 20, 30, 40, 50]),
        (85.0, [0, 20, 40, 60, 80, 100]),
    ],
)
def test_axis_ticks_are_round(value: float, ticks: list[float]) -> None:
    assert axis_ticks(value) == pytest.approx(ticks)
