"""``%nbhygiene live`` in a real kernel: a session with a deleted cell, an edited cell and a value changed
by code that is no longer in the notebook; the findings are read back from the displayed bundle and from
the panel object in the kernel. Plus the live rule's contract without a kernel: silent in a static
check, and silent when the saved counts come from another session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nbhygiene.config import Config
from nbhygiene.engine import check_file
from nbhygiene.widgets.live import analyze_live

from .conftest import KernelSession, assert_no_error, bundles, stream_text

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@dataclass
class MessySession:
    kernel: KernelSession
    path: str
    counts: dict[str, int]  # cell id -> the execution it ran as


@pytest.fixture(scope="module")
def messy(module_kernel: KernelSession, tmp_path_factory: pytest.TempPathFactory) -> MessySession:
    """Run cells as a person would, then save the notebook as the front end shows it now."""
    kernel = module_kernel
    kernel.run('FEATURES = ["sepal", "petal"]', "features")  # this cell gets deleted
    kernel.run("threshold = 0.5", "threshold")  # edited to 0.7 afterwards, never re-run
    kernel.run("print(len(FEATURES) * threshold)", "use")
    kernel.run("print('report', threshold)", "report")
    kernel.run("threshold = 0.9", "scratch")  # a scratch cell, deleted too
    counts = {c["id"]: c["execution_count"] for c in kernel.nb.cells}
    path = str(tmp_path_factory.mktemp("saved") / "analysis.ipynb")
    kernel.save(path, ["threshold", "use", "report"], edits={"threshold": "threshold = 0.7"})
    assert_no_error(kernel.run("%load_ext nbhygiene"))
    return MessySession(kernel, path, counts)


LAST_PANEL = "__import__('nbhygiene.widgets.magics', fromlist=['x']).last_panel()"


def test_live_finds_deleted_definition_edited_cell_and_stale_outputs(messy: MessySession) -> None:
    kernel, counts = messy.kernel, messy.counts
    cell = kernel.run(f"%nbhygiene live {messy.path}")
    assert_no_error(cell)
    assert stream_text(cell, "stderr") == ""

    # What the kernel's panel holds: the same Finding records as the static analyzer, same rule names.
    findings = kernel.value(f"[(f.rule, f.code, f.cell_id, f.message) for f in {LAST_PANEL}.findings]")
    by_rule: dict[str, set[str]] = {}
    for rule, _code, cell_id, _message in findings:
        by_rule.setdefault(rule, set()).add(cell_id)
    assert by_rule == {
        "undefined-name": {"use"},
        "edited-after-run": {"threshold"},
        "stale-output": {"use", "report"},
    }
    codes = {rule: code for rule, code, _cell, _message in findings}
    assert codes == {"undefined-name": "NBH004", "edited-after-run": "NBH014", "stale-output": "NBH005"}
    messages = {(rule, cell_id): message for rule, _code, cell_id, message in findings}
    undefined = messages[("undefined-name", "use")]
    assert f"In[{counts['features']}]" in undefined and "no longer in any cell" in undefined
    assert f"In[{counts['threshold']}]" in messages[("edited-after-run", "threshold")]
    stale = messages[("stale-output", "report")]
    assert f"In[{counts['scratch']}]" in stale and "`threshold`" in stale

    # The displayed bundle: the widget view plus readable HTML and text, each naming the rules.
    [bundle] = bundles(cell)
    assert {WIDGET_MIME, "text/html", "text/plain"} <= set(bundle)
    for rule in by_rule:
        assert rule in bundle["text/plain"]
        assert rule in bundle["text/html"]
    assert f"In[{counts['features']}]" in bundle["text/plain"]

    # The widget state: groups by family (all three rules are hidden-state), filters, docs on demand.
    state = kernel.value(
        "(lambda p: {'groups': list(p.group_views), 'html': [w.value for w in p.groups.children], "
        f"'rules': [v for _l, v in p.rule_filter.options]}})({LAST_PANEL})"
    )
    assert state["groups"] == ["hidden-state"]
    assert all(rule in state["html"][0] for rule in by_rule)
    assert set(state["rules"]) == {"", *by_rule}
    filtered = kernel.value(
        "(lambda p: (p.filter(rule='edited-after-run'), [f.rule for f in p.shown], "
        f"p.show_doc('edited-after-run'))[1:])({LAST_PANEL})"
    )
    assert filtered[0] == ["edited-after-run"]
    assert "What it does" in filtered[1] and "NBH014" in filtered[1]


def test_static_check_never_reports_edited_after_run(messy: MessySession) -> None:
    result = check_file(messy.path, Config())
    assert result.error is None
    rules = {f.rule for f in result.findings}
    assert "edited-after-run" not in rules  # the trap: the saved file cannot show an edit after a run
    assert "undefined-name" in rules  # the static view of the deleted cell (without saying which In[n])

    # The same saved notebook through %nbhygiene (the static check) shows the static findings.
    cell = messy.kernel.run(f"%nbhygiene {messy.path}")
    assert_no_error(cell)
    [bundle] = bundles(cell)
    assert "undefined-name" in bundle["text/plain"] and "edited-after-run" not in bundle["text/plain"]


def test_live_without_changes_reports_nothing(messy: MessySession, tmp_path: Path) -> None:
    kernel = messy.kernel  # the messy history above does not touch these names
    kernel.run("data = [3, 1, 2]", "load")
    kernel.run("print(sorted(data))", "show")
    path = kernel.save(str(tmp_path / "clean.ipynb"), ["load", "show"])
    cell = kernel.run(f"%nbhygiene live {path}")
    assert_no_error(cell)
    assert kernel.value(f"len({LAST_PANEL}.findings)") == 0
    [bundle] = bundles(cell)
    assert "no findings" in bundle["text/plain"]


# -- without a kernel: the rule's contract ---------------------------------------------------------------
def _cell(cell_id: str, source: str, count: int | None, printed: bool = False) -> dict[str, Any]:
    outputs = [{"output_type": "stream", "name": "stdout", "text": "1\n"}] if printed else []
    return {
        "id": cell_id,
        "cell_type": "code",
        "source": source,
        "execution_count": count,
        "metadata": {},
        "outputs": outputs,
    }


def _notebook(*cells: dict[str, Any]) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": list(cells),
    }


def _rules(findings: list[Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in findings:
        found.setdefault(finding.rule, set()).add(finding.cell_id)
    return found


def test_counts_from_another_session_are_not_compared() -> None:
    # Saved before a restart: counts 7 and 8 do not exist in this kernel's history of 3 executions.
    notebook = _notebook(_cell("a", "x = 1", 7), _cell("b", "print(x)", 8, printed=True))
    result = analyze_live(
        ["", "y = 2", "print(y)", "%nbhygiene live"], notebook, ["x", "y"], path="n.ipynb", current=3
    )
    assert "edited-after-run" not in _rules(result.findings)
    assert result.notes and "another kernel" in result.notes[0]


def test_a_count_two_cells_share_is_not_compared() -> None:
    # Count 2 appears twice: one of the two cells kept it from an earlier session.
    notebook = _notebook(
        _cell("old", "a = 1", 2), _cell("new", "b = 2", 2), _cell("c", "print(1)", 1, printed=True)
    )
    result = analyze_live(["", "print(1)", "b = 2", "x"], notebook, ["a", "b"], path="n.ipynb", current=3)
    assert "edited-after-run" not in _rules(result.findings)


def test_ipython_transformed_history_matches_magic_cells() -> None:
    # `In` holds IPython's transformed code; the saved cell holds what was typed.
    notebook = _notebook(_cell("t", "%time total = 1 + 1", 1), _cell("s", "print(total)", 2, printed=True))
    history = ["", "get_ipython().run_line_magic('time', 'total = 1 + 1')", "print(total)", "x"]
    result = analyze_live(history, notebook, ["total"], path="n.ipynb", current=3)
    assert result.findings == []


def test_a_cell_below_changing_a_name_is_not_stale_but_a_cell_above_is() -> None:
    notebook = _notebook(
        _cell("above", "a = 2", 4),
        _cell("show", "print(a)", 2, printed=True),
        _cell("below", "a = 3", 3),
    )
    history = ["", "a = 1", "print(a)", "a = 3", "a = 2", "%nbhygiene live"]
    result = analyze_live(history, notebook, ["a"], path="n.ipynb", current=5)
    found = _rules(result.findings)
    assert found == {"stale-output": {"show"}}
    [finding] = result.findings
    assert "In[4]" in finding.message and "cell 1 above" in finding.message


def test_suppressions_apply_to_live_findings() -> None:
    cell = _cell("use", "print(FEATURES)", 2, printed=True)
    cell["metadata"] = {"tags": ["nbhygiene-ignore:undefined-name"]}
    result = analyze_live(
        ["", "FEATURES = 1", "print(FEATURES)", "x"], _notebook(cell), ["FEATURES"], path="n.ipynb", current=3
    )
    assert "undefined-name" not in _rules(result.findings)


@pytest.mark.parametrize("namespace", [["other"], None])
def test_a_name_gone_from_the_kernel_is_left_to_the_static_rule(namespace: list[str] | None) -> None:
    notebook = _notebook(_cell("use", "print(FEATURES)", 2, printed=True))
    history = ["", "FEATURES = 1", "print(FEATURES)", "x"]
    result = analyze_live(history, notebook, namespace, path="n.ipynb", current=3)
    live = "undefined-name" in _rules(result.findings)
    assert live is (namespace is None)  # unknown namespace: the history alone decides


def test_core_imports_no_ipywidgets(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, nbhygiene, nbhygiene.cli, nbhygiene.engine, nbhygiene.rules, nbhygiene.widgets, "
        "nbhygiene.widgets.live, nbhygiene.widgets.render, nbhygiene.widgets.locate\n"
        "from nbhygiene.rules import all_rules; all_rules()\n"
        "assert 'ipywidgets' not in sys.modules, 'the core imported ipywidgets'\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[2] / "src")])),
    }
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)
