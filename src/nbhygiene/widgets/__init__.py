"""Kernel-side views for every Jupyter front end: the findings panel, the live analysis, the run panel.

``%load_ext nbhygiene`` registers the ``%nbhygiene`` magic (:mod:`nbhygiene.widgets.magics`). The widget
classes are imported on first use, so that :mod:`nbhygiene.widgets.live` (pure logic) and
:mod:`nbhygiene.widgets.render` can be imported without ipywidgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbhygiene.widgets.panel import FindingsPanel
    from nbhygiene.widgets.run_panel import RunPanel

__all__ = ["FindingsPanel", "RunPanel"]


def __getattr__(name: str) -> Any:
    if name == "FindingsPanel":
        from nbhygiene.widgets.panel import FindingsPanel

        return FindingsPanel
    if name == "RunPanel":
        from nbhygiene.widgets.run_panel import RunPanel

        return RunPanel
    raise AttributeError(f"module 'nbhygiene.widgets' has no attribute {name!r}")
