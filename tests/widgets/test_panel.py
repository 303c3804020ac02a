"""The findings panel: grouping, filters, rule docs on demand, and the display bundle (widget view plus
readable, HTML-escaped renderings), in this process and through a real kernel."""

from __future__ import annotations

from pathlib import Path

from nbhygiene.findings import Finding, Severity
from nbhygiene.rules import all_rules
from nbhygiene.widgets import FindingsPanel
from nbhygiene.widgets.render import markdown_html, rule_doc_html

from .conftest import KernelSession, assert_no_error, bundles

SCRIPT = "<script>alert('owned')</script>"


def _finding(rule: str, code: str, severity: Severity, message: str, position: int | None) -> Finding:
    return Finding(
        code=code,
        rule=rule,
        severity=severity,
        message=message,
        path="nb.ipynb",
        cell_index=None if position is None else position - 1,
        cell_id=None if position is None else f"c{position}",
        cell_position=position,
        line=None if position is None else 1,
    )


FINDINGS = [
    _finding("glue-code", "NBH123", Severity.INFO, "Glue code: 2 of 2 operations", 4),
    _finding("stale-output", "NBH005", Severity.WARNING, "Output is stale", 3),
    _finding("undefined-name", "NBH004", Severity.ERROR, f"`x` is not defined {SCRIPT}", 2),
    _finding("missing-parameters-cell", "NBH201", Severity.WARNING, "No cell is tagged 'parameters'", None),
    _finding("some-plugin-rule", "NBH999", Severity.INFO, "from a plugin", 1),
]


def test_groups_follow_the_sidebar_order_and_sort_by_severity() -> None:
    panel = FindingsPanel(FINDINGS, title="nbhygiene", subtitle="nb.ipynb")
    families = list(panel.group_views)
    assert families[0] == "hidden-state" and families[-1] == "other"
    hidden = panel.group_views["hidden-state"].value
    assert hidden.index("undefined-name") < hidden.index("stale-output")  # error before warning
    assert "some-plugin-rule" in panel.group_views["other"].value


def test_filters_by_severity_and_rule() -> None:
    panel = FindingsPanel(FINDINGS, title="nbhygiene")
    panel.filter(severities=["error", "warning"])
    assert {f.rule for f in panel.shown} == {"undefined-name", "stale-output", "missing-parameters-cell"}
    assert "Showing 3 of 5" in panel.summary.value
    panel.filter(rule="stale-output")
    assert [f.rule for f in panel.shown] == ["stale-output"]
    assert list(panel.group_views) == ["hidden-state"]
    panel.filter(severities=["error", "warning", "info"], rule="")
    assert len(panel.shown) == 5 and panel.summary.value == ""
    assert panel.severity_toggles["info"].description == "info (2)"


def test_rule_docs_on_demand() -> None:
    panel = FindingsPanel(FINDINGS, title="nbhygiene")
    assert panel.doc_view.value == ""  # nothing read until asked
    doc = panel.show_doc("stale-output")
    assert "NBH005" in doc and "<h5>What it does</h5>" in doc and "<pre><code>" in doc
    assert "unknown rule" in panel.show_doc("some-plugin-rule")
    for rule in all_rules():  # every doc renders with its four sections
        assert rule_doc_html(rule.name).count("<h5>") == 4, rule.name


def test_bundle_carries_widget_view_and_escaped_renderings() -> None:
    panel = FindingsPanel(FINDINGS, title="nbhygiene", subtitle=f"nb{SCRIPT}.ipynb")
    bundle = panel._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "text/html", "text/plain"} <= set(bundle)
    html = bundle["text/html"]
    assert "<script" not in html and "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in html
    assert all(f.rule in html and f.rule in bundle["text/plain"] for f in FINDINGS)
    assert SCRIPT in bundle["text/plain"]  # plain text is shown as text: nothing to escape
    assert "<script" not in panel.group_views["hidden-state"].value
    assert "<script" not in panel.header.value


def test_markdown_subset_escapes_everything() -> None:
    html = markdown_html(f"## Head {SCRIPT}\ntext `a<b>`\n\n```python\nx = '{SCRIPT}'\n```\n- item <i>")
    assert "<script" not in html and "<i>" not in html
    assert "<code>a&lt;b&gt;</code>" in html and "<li>item &lt;i&gt;</li>" in html


def test_an_empty_panel_says_so() -> None:
    panel = FindingsPanel([], title="nbhygiene", notes=["a note"])
    assert "no findings" in panel.to_text() and "a note" in panel.to_html()
    assert panel.children == (panel.header, panel.notes_view)


def test_error_text_with_script_is_escaped_in_the_kernel(kernel: KernelSession, tmp_path: Path) -> None:
    kernel.run("value = 1", "ok")
    kernel.run(f'raise ValueError("{SCRIPT}")', "boom", allow_errors=True)
    path = kernel.save(str(tmp_path / "errors.ipynb"), ["ok", "boom"])
    kernel.run("%load_ext nbhygiene")
    cell = kernel.run(f"%nbhygiene {path}")
    assert_no_error(cell)
    [bundle] = bundles(cell)
    assert "saved-error-output" in bundle["text/html"] and "saved-error-output" in bundle["text/plain"]
    assert "<script" not in bundle["text/html"] and "&lt;script&gt;" in bundle["text/html"]
    widget_html = kernel.value(
        "[w.value for w in __import__('nbhygiene.widgets.magics', fromlist=['x']).last_panel().groups.children]"
    )
    assert any("saved-error-output" in value for value in widget_html)
    assert all("<script" not in value for value in widget_html)
    assert any("&lt;script&gt;" in value for value in widget_html)
