"""The jupyter_server extension: nbhygiene's REST endpoints under ``/nbhygiene/`` and its JupyterLab extension.

jupyter_server enables ``nbhygiene.server`` from the config shipped in
``etc/jupyter/jupyter_server_config.d/nbhygiene.json`` and looks the two hooks below up on this module.
Only :mod:`nbhygiene.server.handlers` imports jupyter_server; the core never does.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbhygiene.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # The bundle is built into src/nbhygiene/labextension (see hatch_build.py), next to this package.
    return [{"src": "../labextension", "dest": "nbhygiene"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from nbhygiene.server.handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("nbhygiene: endpoints registered under %snbhygiene/", server_app.base_url)
