"""The nbhygiene sidebar, markers and commands in a real JupyterLab (see conftest.py for the setup).

Every test works on its own copy of ``example_notebooks/`` and saves a screenshot of each step under
``test-artifacts/ui/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

WINE = "wine_quality_poc.ipynb"
SIDEBAR = "#nbhygiene-sidebar"
FINDING = f"{SIDEBAR} .jp-nbhygiene-finding"


def finding(page: Page, rule: str, cell_id: str | None = None) -> Any:
    selector = f'{FINDING}[data-rule="{rule}"]'
    if cell_id:
        selector += f'[data-cell-id="{cell_id}"]'
    return page.locator(selector)


def open_notebook(page: Page, lab: Any, path: str) -> None:
    page.goto(f"{lab.url}/lab?reset&token={lab.token}")
    page.wait_for_function("() => window.jupyterapp !== undefined")
    page.evaluate("async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }")
    page.evaluate(
        "async path => { await window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Notebook'}); }",
        path,
    )
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    page.evaluate("async () => { await window.jupyterapp.commands.execute('nbhygiene:open-sidebar'); }")
    expect(page.locator(SIDEBAR)).to_be_visible()
    page.locator(FINDING).first.wait_for()


def notebook_state(page: Page) -> dict[str, Any]:
    """What the open notebook's model says: active cell, cursor, dirty flag, tags by cell id."""
    return page.evaluate(
        """() => {
          const panel = window.jupyterapp.shell.currentWidget;
          const notebook = panel.content;
          const active = notebook.activeCell;
          const cursor = active && active.editor ? active.editor.getCursorPosition() : null;
          const tags = {};
          for (const cell of notebook.widgets) {
            tags[cell.model.id] = cell.model.getMetadata('tags') || [];
          }
          return {activeIndex: notebook.activeCellIndex, activeId: active ? active.model.id : null,
                  cursor, dirty: panel.context.model.dirty, tags, path: panel.context.path};
        }"""
    )


def cell_ids(page: Page) -> list[str]:
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => c.model.id)")


def test_findings_appear_grouped_in_the_sidebar(page: Page, lab: Any, workdir: str, shoot: Any) -> None:
    open_notebook(page, lab, f"{workdir}/{WINE}")
    expect(finding(page, "undefined-name", "features")).to_have_count(1)
    expect(finding(page, "use-before-definition", "random-forest")).to_have_count(1)
    expect(finding(page, "execution-order", "knn")).to_have_count(1)
    row = finding(page, "use-before-definition", "random-forest")
    expect(row.locator(".jp-nbhygiene-where")).to_have_text("Cell 14, line 5")
    expect(row.locator(".jp-nbhygiene-message")).to_contain_text("`report` is read before it is defined")
    hidden_state = page.locator(f'{SIDEBAR} .jp-nbhygiene-group[data-family="hidden-state"]')
    expect(hidden_state.locator(".jp-nbhygiene-group-label")).to_have_text("Hidden state")
    count = hidden_state.locator(".jp-nbhygiene-finding").count()
    expect(hidden_state.locator(".jp-nbhygiene-count")).to_have_text(str(count))
    expect(page.locator(f"{SIDEBAR} .jp-nbhygiene-status")).to_contain_text("finding")
    shoot(page, "01-findings-in-sidebar")


def test_click_a_finding_lands_on_its_cell_and_line(page: Page, lab: Any, workdir: str, shoot: Any) -> None:
    open_notebook(page, lab, f"{workdir}/{WINE}")
    ids = cell_ids(page)
    finding(page, "use-before-definition", "random-forest").locator(".jp-nbhygiene-message").click()
    # The cell is selected at once; its editor may be created only once it is scrolled into view.
    page.wait_for_function(
        """index => {
          const notebook = window.jupyterapp.shell.currentWidget.content;
          const cell = notebook.activeCell;
          const cursor = cell && cell.editor ? cell.editor.getCursorPosition() : null;
          return notebook.activeCellIndex === index && cursor !== null && cursor.line === 4;
        }""",
        arg=ids.index("random-forest"),
    )
    state = notebook_state(page)
    assert state["activeId"] == "random-forest"
    assert state["cursor"] == {"line": 4, "column": 0}  # line 5, column 1 of the finding
    expect(page.locator(".jp-NotebookPanel .jp-Cell.jp-mod-active")).to_be_in_viewport()
    shoot(page, "02-clicked-finding-selects-cell")


def test_flagged_cells_carry_gutter_markers(page: Page, lab: Any, workdir: str, shoot: Any) -> None:
    open_notebook(page, lab, f"{workdir}/{WINE}")
    flagged = set(
        page.locator(f"{FINDING}[data-cell-id]").evaluate_all("rows => rows.map(r => r.dataset.cellId)")
    )
    ids = cell_ids(page)
    cells = page.locator(".jp-NotebookPanel .jp-Cell")
    markers = page.locator(".jp-NotebookPanel .jp-Cell > .jp-nbhygiene-marker")
    expect(markers).to_have_count(len(flagged))
    features = cells.nth(ids.index("features")).locator(":scope > .jp-nbhygiene-marker")
    expect(features).to_have_attribute("data-severity", "error")
    expect(features).to_have_attribute(
        "title", "error NBH004 undefined-name — line 1: " + _message(page, "features")
    )
    assert cells.nth(ids.index("title")).locator(":scope > .jp-nbhygiene-marker").count() == 0
    features.scroll_into_view_if_needed()
    features.hover()
    shoot(page, "03-gutter-markers")


def _message(page: Page, cell_id: str) -> str:
    return finding(page, "undefined-name", cell_id).locator(".jp-nbhygiene-message").inner_text()


def test_editing_updates_the_findings_without_saving(page: Page, lab: Any, workdir: str, shoot: Any) -> None:
    path = f"{workdir}/{WINE}"
    on_disk = (lab.root / path).read_text()
    open_notebook(page, lab, path)
    expect(finding(page, "undefined-name", "features")).to_have_count(1)
    finding(page, "undefined-name", "features").locator(".jp-nbhygiene-message").click()
    editor = page.locator(".jp-NotebookPanel .jp-Cell.jp-mod-active .cm-content")
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("FEATURES = list(df.columns[:-1])\n")
    expect(finding(page, "undefined-name", "features")).to_have_count(0)
    expect(finding(page, "use-before-definition", "random-forest")).to_have_count(1)
    assert notebook_state(page)["dirty"] is True
    assert (lab.root / path).read_text() == on_disk  # analysed from the browser, nothing saved
    shoot(page, "04-edit-updates-without-saving")


def test_ignore_here_tags_the_cell_and_hides_the_finding(
    page: Page, lab: Any, workdir: str, shoot: Any
) -> None:
    open_notebook(page, lab, f"{workdir}/{WINE}")
    row = finding(page, "execution-order", "knn")
    expect(row).to_have_count(1)
    row.locator(".jp-nbhygiene-ignore").click()
    expect(finding(page, "execution-order", "knn")).to_have_count(0)
    assert "nbhygiene-ignore:execution-order" in notebook_state(page)["tags"]["knn"]
    # Other rules on the same cell are still reported, and its marker no longer names the ignored rule.
    expect(finding(page, "stale-output", "knn")).to_have_count(1)
    marker = (
        page.locator(".jp-NotebookPanel .jp-Cell")
        .nth(cell_ids(page).index("knn"))
        .locator(":scope > .jp-nbhygiene-marker")
    )
    assert "execution-order" not in (marker.get_attribute("title") or "")
    shoot(page, "05-ignore-here")


def test_filters_by_severity_and_rule(page: Page, lab: Any, workdir: str, shoot: Any) -> None:
    open_notebook(page, lab, f"{workdir}/{WINE}")
    total = page.locator(FINDING).count()
    warnings = page.locator(f'{FINDING}[data-severity="warning"]').count()
    assert warnings > 0
    page.locator(f'{SIDEBAR} .jp-nbhygiene-chip[data-severity="warning"]').click()
    expect(page.locator(f'{FINDING}[data-severity="warning"]')).to_have_count(0)
    expect(page.locator(FINDING)).to_have_count(total - warnings)
    expect(page.locator(f"{SIDEBAR} .jp-nbhygiene-status")).to_contain_text(f"{warnings} hidden by filters")
    shoot(page, "06a-filter-severity")
    page.locator(f'{SIDEBAR} .jp-nbhygiene-chip[data-severity="warning"]').click()
    page.locator(f"{SIDEBAR} .jp-nbhygiene-rule-filter").select_option("execution-order")
    expect(page.locator(FINDING)).to_have_count(finding(page, "execution-order").count())
    assert {r for r in page.locator(FINDING).evaluate_all("rows => rows.map(r => r.dataset.rule)")} == {
        "execution-order"
    }
    shoot(page, "06b-filter-rule")


def test_rule_doc_opens_from_a_finding(page: Page, lab: Any, workdir: str, shoot: Any) -> None:
    open_notebook(page, lab, f"{workdir}/{WINE}")
    finding(page, "use-before-definition", "random-forest").locator(".jp-nbhygiene-doc").click()
    doc = page.locator(".jp-nbhygiene-ruledoc")
    expect(doc.locator("h1")).to_have_text("use-before-definition (NBH003)")
    expect(doc).to_contain_text("What it does")
    expect(doc).to_contain_text("What to do instead")
    shoot(page, "07-rule-doc")


def test_settings_hide_ignored_rules_and_severities(page: Page, lab: Any, workdir: str, shoot: Any) -> None:
    settings = {"ignoredRules": ["execution-order", "NBH1"], "severities": ["error", "warning"]}
    lab.api("PUT", "/lab/api/settings/nbhygiene:plugin", {"raw": json.dumps(settings)})
    try:
        open_notebook(page, lab, f"{workdir}/{WINE}")
        expect(finding(page, "undefined-name", "features")).to_have_count(1)
        expect(finding(page, "execution-order")).to_have_count(0)
        expect(page.locator(f'{FINDING}[data-code^="NBH1"]')).to_have_count(0)
        expect(page.locator(f'{FINDING}[data-severity="info"]')).to_have_count(0)
        expect(page.locator(f'{SIDEBAR} .jp-nbhygiene-chip[data-severity="info"]')).to_have_count(0)
        shoot(page, "08-settings")
    finally:
        lab.api("PUT", "/lab/api/settings/nbhygiene:plugin", {"raw": "{}"})


def test_extract_cells_rewrites_the_notebook_to_call_the_function(
    page: Page, lab: Any, workdir: str, shoot: Any
) -> None:
    path = f"{workdir}/{WINE}"
    on_disk = (lab.root / path).read_text()
    open_notebook(page, lab, path)
    ids = cell_ids(page)
    page.evaluate(
        """index => {
          const notebook = window.jupyterapp.shell.currentWidget.content;
          notebook.deselectAll();
          notebook.activeCellIndex = index;
          // Not awaited: the command waits for the dialogs this test clicks through.
          void window.jupyterapp.commands.execute('nbhygiene:extract-cells');
        }""",
        ids.index("split"),
    )
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-nbhygiene-extract-signature")).to_have_text(
        "def split(X, y) -> X_train, X_test, y_train, y_test"
    )
    dialog.locator(".jp-nbhygiene-extract-function").fill("split_data")
    expect(dialog.locator(".jp-nbhygiene-extract-signature")).to_have_text(
        "def split_data(X, y) -> X_train, X_test, y_train, y_test"
    )
    shoot(page, "09-extract-dialog")
    dialog.get_by_role("button", name="Extract").click()
    # Verification runs the original and the rewritten notebook in fresh kernels.
    result = page.locator(".jp-Dialog .jp-nbhygiene-extract-result")
    expect(result).to_be_visible(timeout=240_000)
    expect(result.locator(".jp-nbhygiene-extract-status")).to_contain_text("Verified")
    shoot(page, "10-extract-verified")
    page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()

    source = page.evaluate(
        """id => window.jupyterapp.shell.currentWidget.content.widgets
                 .find(c => c.model.id === id).model.sharedModel.getSource()""",
        "split",
    )
    assert "from wine_quality_poc_steps import split_data" in source
    assert "X_train, X_test, y_train, y_test = split_data(X, y)" in source
    module = (lab.root / workdir / "wine_quality_poc_steps.py").read_text()
    assert "def split_data(X, y):" in module
    expect(page.locator(".jp-NotebookPanel .jp-Cell.jp-mod-active .cm-content")).to_contain_text(
        "split_data(X, y)"
    )
    shoot(page, "11-notebook-calls-the-function")
    # The notebook changed through its document model: unsaved, and undo brings the cell back.
    state = notebook_state(page)
    assert state["dirty"] is True
    assert (lab.root / path).read_text() == on_disk
    page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.undo()")
    source = page.evaluate(
        """id => window.jupyterapp.shell.currentWidget.content.widgets
                 .find(c => c.model.id === id).model.sharedModel.getSource()""",
        "split",
    )
    assert source.startswith("X_train, X_test, y_train, y_test = train_test_split(")


def _metric_notebook(path: Path) -> None:
    """A small job: a `parameters` cell and a metric recorded with nbhygiene.record()."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell("alpha = 0.5\nlabel = 'baseline'", id="parameters")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        nbformat.v4.new_code_cell("import nbhygiene", id="imports"),
        parameters,
        nbformat.v4.new_code_cell(
            "score = round(1 - alpha / 2, 3)\nprint(label, score)\nnbhygiene.record('score', score)",
            id="score",
        ),
    ]
    nbformat.write(notebook, str(path))


def test_run_notebook_as_a_job_and_see_its_history(page: Page, lab: Any, workdir: str, shoot: Any) -> None:
    path = f"{workdir}/job.ipynb"
    _metric_notebook(lab.root / path)
    open_notebook(page, lab, path)
    for alpha in ("0.2", "0.6"):
        page.evaluate("() => { void window.jupyterapp.commands.execute('nbhygiene:run-notebook'); }")
        dialog = page.locator(".jp-Dialog")
        save = dialog.get_by_role("button", name="Save and Continue")
        expect(save.or_(dialog.locator(".jp-nbhygiene-run-form"))).to_be_visible()
        if save.is_visible():  # JupyterLab marks a freshly opened nbformat-written notebook as changed
            shoot(page, "12a-run-save-first")
            save.click()
        field = dialog.locator('.jp-nbhygiene-run-param[data-name="alpha"]')
        expect(field).to_have_value("0.5")
        expect(dialog.locator('.jp-nbhygiene-run-param[data-name="label"]')).to_have_value('"baseline"')
        field.fill(alpha)
        if alpha == "0.2":
            shoot(page, "12-run-parameters-form")
        dialog.get_by_role("button", name="Run").click()
        history = page.locator(".jp-nbhygiene-runs")
        expect(history).to_be_visible()
        expect(
            history.locator(".jp-nbhygiene-run-succeeded .jp-nbhygiene-run-params", has_text=f"alpha={alpha}")
        ).to_have_count(1, timeout=120_000)
    history = page.locator(".jp-nbhygiene-runs")
    expect(history.locator(".jp-nbhygiene-run-succeeded")).to_have_count(2)
    expect(history.locator(".jp-nbhygiene-run-metrics").first).to_contain_text("score=")
    expect(history.locator(".jp-nbhygiene-runs-metric")).to_have_value("score")
    expect(history.locator(".jp-nbhygiene-trend .jp-nbhygiene-trend-dot")).to_have_count(2)
    shoot(page, "13-run-history")
    history.locator(".jp-nbhygiene-run-succeeded .jp-nbhygiene-run-view").first.click()
    output = page.locator(".jp-nbhygiene-run-output")
    expect(output.locator(".jp-nbhygiene-run-stream")).to_contain_text("baseline 0.7")
    shoot(page, "14-run-output")
