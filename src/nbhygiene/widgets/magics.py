"""``%load_ext nbhygiene``, then the ``%nbhygiene`` line magic::

    %nbhygiene [PATH]          check the notebook as last saved; show the findings panel
    %nbhygiene live [PATH]     the kernel's own history against the saved notebook (hidden state)
    %nbhygiene runs [PATH]     the run panel: parameters, grids, runs and their metrics

Without PATH the notebook is found through the front end's session information
(:mod:`nbhygiene.widgets.locate`). What is displayed is always one bundle with the widget view and readable
HTML and plain-text renderings of the same findings.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from nbhygiene.findings import Finding
from nbhygiene.widgets.locate import Located, NotebookNotFound, find_notebook

USAGE = """\
%nbhygiene [PATH]        check this notebook (as last saved) and show the findings
%nbhygiene live [PATH]   compare the kernel's execution history with the saved notebook:
                         names only deleted code defined, cells edited after they ran, stale outputs
%nbhygiene runs [PATH]   parameters form, grid builder, runs and their metrics (the run store)
Without PATH the notebook is found through the front end (JupyterLab, Notebook 7, VS Code, Colab)."""

_last_panel: Any = None
_last_located: Located | None = None


def last_panel() -> Any:
    """The panel the last ``%nbhygiene`` displayed in this kernel (None before the first)."""
    return _last_panel


def last_location() -> Located | None:
    """Which notebook the last ``%nbhygiene`` analysed, and how it was found."""
    return _last_located


def _connection_file() -> str | None:
    try:
        from ipykernel.connect import get_connection_file

        return get_connection_file()
    except Exception:  # not an ipykernel (a terminal IPython, another kernel)
        return None


def _shown_path(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def _error(message: str) -> None:
    print(f"nbhygiene: {message}", file=sys.stderr)


def show_findings(
    findings: Sequence[Finding], *, title: str, subtitle: str | None = None, notes: Sequence[str] = ()
) -> Any:
    """Display findings as a panel (or, without ipywidgets, as its HTML and text renderings)."""
    global _last_panel
    from IPython.display import display

    try:
        from nbhygiene.widgets.panel import FindingsPanel
    except ImportError:
        from nbhygiene.widgets import render

        notes = [*notes, "Install ipywidgets (pip install 'nbhygiene[widget]') for the interactive panel."]
        display(
            {
                "text/html": render.findings_html(findings, title=title, subtitle=subtitle, notes=notes),
                "text/plain": render.findings_text(findings, title=title, subtitle=subtitle, notes=notes),
            },
            raw=True,
        )
        _last_panel = None
        return None
    panel = FindingsPanel(findings, title=title, subtitle=subtitle, notes=notes)
    display(panel)
    _last_panel = panel
    return panel


@magics_class
class NbhygieneMagics(Magics):
    @line_magic
    def nbhygiene(self, line: str) -> None:
        """Notebook hygiene for this notebook: findings, live hidden state, runs (see %nbhygiene help)."""
        global _last_located
        try:
            words = shlex.split(line)
        except ValueError as exc:
            _error(f"cannot read the arguments: {exc}")
            return
        mode = "check"
        if words and words[0] in ("live", "runs", "check"):
            mode = words.pop(0)
        if words and words[0] in ("help", "-h", "--help"):
            print(USAGE)
            return
        argument = " ".join(words) or None
        try:
            located = self._locate(argument)
        except NotebookNotFound as exc:
            _error(str(exc))
            return
        _last_located = located
        if mode == "live":
            self._live(located)
        elif mode == "runs":
            self._runs(located)
        else:
            self._check(located)

    def _locate(self, argument: str | None) -> Located:
        user_ns = self.shell.user_ns if self.shell is not None else {}
        return find_notebook(argument, user_ns=user_ns, connection_file=_connection_file())

    @staticmethod
    def _config(located: Located) -> Any:
        from nbhygiene.config import ConfigError, load_config

        start = os.path.dirname(located.path) if located.how != "colab" else os.getcwd()
        try:
            return load_config(start or ".")
        except ConfigError as exc:
            _error(str(exc))
            return None

    def _check(self, located: Located) -> None:
        from nbhygiene.engine import check_data, check_file

        config = self._config(located)
        if config is None:
            return
        if located.data is not None:
            result = check_data(located.data, located.path, config)
        else:
            result = check_file(located.path, config)
        if result.error is not None:
            _error(result.error.message)
            return
        show_findings(
            result.findings,
            title="nbhygiene",
            subtitle=f"{_shown_path(located.path)} (as last saved)",
        )

    def _live(self, located: Located) -> None:
        from nbhygiene.loading import NotebookLoadError, load_notebook
        from nbhygiene.widgets.live import analyze_live

        shell = self.shell
        if shell is None:
            _error("the live analysis needs an IPython kernel")
            return
        config = self._config(located)
        if config is None:
            return
        try:
            data = located.data if located.data is not None else load_notebook(located.path).data
        except NotebookLoadError as exc:
            _error(exc.message)
            return
        # The raw input history is what was typed (the saved cells hold the same); `In` is IPython's
        # transformed form, which the analysis also understands.
        history = getattr(shell.history_manager, "input_hist_raw", None) or shell.user_ns.get("In") or []
        hidden = getattr(shell, "user_ns_hidden", {})
        namespace = [name for name in shell.user_ns if name not in hidden]
        try:
            result = analyze_live(
                list(history),
                data,
                namespace,
                path=located.path,
                current=shell.execution_count,
                config=config,
            )
        except NotebookLoadError as exc:
            _error(exc.message)
            return
        show_findings(
            result.findings,
            title="nbhygiene live",
            subtitle=(
                f"{_shown_path(located.path)}: this kernel's {result.executions} executions against the "
                "notebook as last saved"
            ),
            notes=result.notes,
        )

    def _runs(self, located: Located) -> None:
        global _last_panel
        from IPython.display import display

        if located.data is not None:
            _error("runs need the notebook as a file; pass its path: %nbhygiene runs path/to/notebook.ipynb")
            return
        try:
            from nbhygiene.jobs.errors import StoreError, UsageError
            from nbhygiene.widgets.run_panel import RunPanel
        except ImportError as exc:
            _error(f"the run panel needs the 'jobs' and 'widget' extras ({exc})")
            return
        try:
            panel = RunPanel(located.path)
        except (UsageError, StoreError) as exc:  # e.g. no parameters cell: say it, no traceback
            _error(str(exc))
            return
        display(panel)
        _last_panel = panel


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(NbhygieneMagics)
