"""The findings panel: an ipywidgets view of :class:`~nbhygiene.findings.Finding` records.

It shows what the JupyterLab sidebar shows, for every front end that runs a kernel: findings grouped by
family (with counts per severity), ordered by severity then cell, filterable by severity and by rule, and
a rule's documentation on demand (``Rule.doc()``). It renders records, never computes them: the same
records come from ``nbhygiene check``, the server and the live analysis.

The panel is always displayed as one bundle holding the widget view *and* a readable ``text/html`` and
``text/plain`` rendering (see :mod:`nbhygiene.widgets.render`), so a front end without widget support, or
the saved notebook opened later, still shows the findings. No front end is detected or guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from nbhygiene.findings import Finding, Severity
from nbhygiene.widgets import render

ALL_RULES = ""


class FindingsPanel(widgets.VBox):
    """A filterable, grouped view of findings.

    ``findings``: the records; ``title``/``subtitle``: what they are about (``subtitle`` usually names the
    notebook); ``notes``: sentences the user should read before the findings (for example why part of an
    analysis was skipped).
    """

    def __init__(
        self,
        findings: Sequence[Finding],
        *,
        title: str = "nbhygiene",
        subtitle: str | None = None,
        notes: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        self.findings: list[Finding] = list(findings)
        self.title = title
        self.subtitle = subtitle
        self.notes = list(notes)

        self.header = widgets.HTML(render.header_html(title, subtitle, self.findings))
        self.notes_view = widgets.HTML(render.notes_html(self.notes))
        self.notes_view.layout.display = None if self.notes else "none"

        counts = render.severity_counts(self.findings)
        self.severity_toggles: dict[str, widgets.ToggleButton] = {}
        for severity in render.SEVERITIES:
            toggle = widgets.ToggleButton(
                value=True,
                description=f"{severity.value} ({counts[severity]})",
                tooltip=f"Show or hide {severity.value} findings",
                layout=widgets.Layout(width="auto"),
            )
            toggle.observe(self._refresh, names="value")
            self.severity_toggles[severity.value] = toggle
        by_rule: dict[str, int] = {}
        for finding in self.findings:
            by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
        self.rule_filter = widgets.Dropdown(
            options=[(f"All rules ({len(self.findings)})", ALL_RULES)]
            + [(f"{rule} ({count})", rule) for rule, count in sorted(by_rule.items())],
            value=ALL_RULES,
            description="Rule",
            layout=widgets.Layout(width="auto"),
        )
        self.rule_filter.observe(self._refresh, names="value")
        self.filters = widgets.HBox([*self.severity_toggles.values(), self.rule_filter])
        self.summary = widgets.HTML()
        self.groups = widgets.VBox()
        self.group_views: dict[str, widgets.HTML] = {}

        self.doc_select = widgets.Dropdown(
            options=[("Rule doc…", "")] + [(rule, rule) for rule in sorted(by_rule)],
            value="",
            description="Docs",
            layout=widgets.Layout(width="auto"),
        )
        self.doc_select.observe(self._show_selected_doc, names="value")
        self.doc_view = widgets.HTML()
        self.doc_view.layout.display = "none"

        children: list[widgets.Widget] = [self.header, self.notes_view]
        if self.findings:
            children += [self.filters, self.summary, self.groups, self.doc_select, self.doc_view]
        super().__init__(children, **kwargs)
        self.add_class("nbhygiene-panel")
        self._refresh()

    # -- state ------------------------------------------------------------------------------------------
    @property
    def hidden_severities(self) -> set[str]:
        return {name for name, toggle in self.severity_toggles.items() if not toggle.value}

    @property
    def shown(self) -> list[Finding]:
        """The findings the filters let through."""
        hidden = self.hidden_severities
        rule = self.rule_filter.value
        return [f for f in self.findings if f.severity.value not in hidden and (not rule or f.rule == rule)]

    def filter(self, *, severities: Sequence[str | Severity] | None = None, rule: str | None = None) -> None:
        """Show only these severities and/or this rule (``rule=""`` for all rules)."""
        if severities is not None:
            wanted = {Severity(s).value for s in severities}
            for name, toggle in self.severity_toggles.items():
                toggle.value = name in wanted
        if rule is not None:
            self.rule_filter.value = rule

    def show_doc(self, rule: str) -> str:
        """Show a rule's documentation in the panel and return it (as HTML)."""
        if rule not in [value for _label, value in self.doc_select.options]:
            self.doc_select.options = [*self.doc_select.options, (rule, rule)]
        self.doc_select.value = rule
        return str(self.doc_view.value)

    # -- rendering --------------------------------------------------------------------------------------
    def _refresh(self, _change: Any = None) -> None:
        shown = self.shown
        views: dict[str, widgets.HTML] = {}
        for family, label, members in render.group_findings(shown):
            view = widgets.HTML(render.group_html(label, members))
            view.add_class(f"nbhygiene-group-{family}")
            views[family] = view
        for old in self.group_views.values():
            old.close()
        self.group_views = views
        self.groups.children = tuple(views.values())
        if len(shown) == len(self.findings):
            self.summary.value = ""
        else:
            self.summary.value = render.escape(f"Showing {len(shown)} of {len(self.findings)} findings")

    def _show_selected_doc(self, change: Any) -> None:
        rule = change["new"]
        if not rule:
            self.doc_view.value = ""
            self.doc_view.layout.display = "none"
            return
        self.doc_view.value = render.rule_doc_html(rule)  # on demand: Rule.doc() is read here
        self.doc_view.layout.display = None

    # -- the display bundle -----------------------------------------------------------------------------
    def to_html(self) -> str:
        return render.findings_html(self.findings, title=self.title, subtitle=self.subtitle, notes=self.notes)

    def to_text(self) -> str:
        return render.findings_text(self.findings, title=self.title, subtitle=self.subtitle, notes=self.notes)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # The widget view, plus readable renderings in the same bundle: a front end shows the richest
        # type it can render, so no front end needs to be detected.
        data: dict[str, Any] = dict(super()._repr_mimebundle_(**kwargs) or {})
        data["text/plain"] = self.to_text()
        data["text/html"] = self.to_html()
        return data
