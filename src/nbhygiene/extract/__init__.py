"""``nbhygiene extract``: move notebook cells into a module function, rewrite the notebook to call it,
and prove by re-execution that nothing changed.

* :mod:`~nbhygiene.extract.plan` decides what moves (a pure planner over the core's data-flow model);
* :mod:`~nbhygiene.extract.codegen` writes the module, the calling cell and the generated tests;
* :mod:`~nbhygiene.extract.verify` runs original and rewritten notebooks in fresh kernels and compares;
* :func:`extract_cells` ties them together (the library API the CLI and the JupyterLab command call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbhygiene.extract.api import ExtractedFunction, ExtractionResult, ExtractUsageError, extract_cells

__all__ = ["ExtractUsageError", "ExtractedFunction", "ExtractionResult", "extract_cells"]


def __getattr__(name: str) -> Any:
    # Lazy: `nbhygiene check` registers the extract sub-command without paying for the planner.
    if name in __all__:
        from nbhygiene.extract import api

        return getattr(api, name)
    raise AttributeError(f"module 'nbhygiene.extract' has no attribute {name!r}")
