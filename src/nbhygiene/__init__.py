"""nbhygiene: find and pay down the technical debt in machine-learning Jupyter notebooks.

The package root stays import-light: ``import nbhygiene`` inside a kernel (for ``nbhygiene.record``)
must not pull in the analyzer, papermill or Dask.
"""

from __future__ import annotations

from typing import Any

from nbhygiene.__about__ import __version__

__all__ = ["__version__", "record"]


def record(name: str, value: Any) -> None:
    """Record a metric (number, string, small JSON value or a matplotlib figure) for the current run.

    Inside ``nbhygiene run`` the value lands in the run store; elsewhere it is shown and kept in the
    notebook's outputs so that a later run can still read it.
    """
    from nbhygiene.jobs.metrics import record as _record

    _record(name, value)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbhygiene``: registers the ``%nbhygiene`` magic (imported only now)."""
    from nbhygiene.widgets.magics import load_ipython_extension as _load

    _load(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where `jupyter labextension develop` finds the built JupyterLab extension."""
    return [{"src": "labextension", "dest": "nbhygiene"}]
