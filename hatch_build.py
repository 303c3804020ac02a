"""Build the JupyterLab extension into the wheel when Node.js can build it; install without it otherwise.

``pip install .`` runs ``jlpm install && jlpm build:prod`` in ``labextension/`` (jlpm comes from the
``jupyter-builder`` build requirement); the bundle lands in ``src/nbhygiene/labextension/`` and is shipped
as ``share/jupyter/labextensions/nbhygiene``. The CLI, the pre-commit hook and the server extension never
need it, so the build is skipped, with a message saying why, when

* ``NBHYGIENE_SKIP_LABEXTENSION`` or ``SKIP_JUPYTER_BUILDER`` is set (to anything but ``0``/``false``);
* pre-commit is installing the hook: pre-commit cannot set environment variables for that install, but it
  always installs into a virtualenv named ``py_env-*`` inside the repository it cloned;
* ``node`` is not on ``PATH``, or is older than the bundler (rspack) supports;
* ``jlpm`` is not installed in the build environment.

A bundle built earlier (say by ``jlpm build:prod`` in CI) is still shipped when the build is skipped. When
Node.js is usable and the build itself fails, the install fails: shipping a wheel without its UI
silently would be worse.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LABEXTENSION_SOURCE = "labextension"
BUNDLE = "src/nbhygiene/labextension"
INSTALLED_AS = "share/jupyter/labextensions/nbhygiene"
SKIP_VARIABLES = ("NBHYGIENE_SKIP_LABEXTENSION", "SKIP_JUPYTER_BUILDER")


def node_supports_rspack(version: str) -> bool:
    """rspack needs Node.js ^20.19.0 or >=22.12.0."""
    match = re.match(r"v?(\d+)\.(\d+)", version.strip())
    if not match:
        return False
    major, minor = int(match.group(1)), int(match.group(2))
    return (major == 20 and minor >= 19) or (major == 22 and minor >= 12) or major > 22


def installing_for_pre_commit(root: Path) -> bool:
    for prefix in (sys.prefix, os.environ.get("VIRTUAL_ENV", "")):
        if (
            prefix
            and Path(prefix).name.startswith("py_env-")
            and Path(prefix).resolve().parent == root.resolve()
        ):
            return True
    return False


class LabExtensionBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        reason = self.skip_reason(root)
        if reason is None:
            self.build(root)
        else:
            self.app.display_info(f"nbhygiene: not building the JupyterLab extension: {reason}")
        bundle = root / BUNDLE
        if (bundle / "package.json").is_file():
            build_data["shared_data"][str(bundle)] = INSTALLED_AS
            if reason is not None:
                self.app.display_info(
                    f"nbhygiene: shipping the JupyterLab extension built earlier in {BUNDLE}"
                )
        elif reason is not None:
            self.app.display_info(
                "nbhygiene: installed without the JupyterLab extension (the CLI and the server endpoints work)"
            )

    def skip_reason(self, root: Path) -> str | None:
        for variable in SKIP_VARIABLES:
            if os.environ.get(variable, "").strip().lower() not in ("", "0", "false", "no"):
                return f"{variable} is set"
        if not (root / LABEXTENSION_SOURCE / "package.json").is_file():
            return f"no {LABEXTENSION_SOURCE}/package.json (an sdist without the extension sources?)"
        if installing_for_pre_commit(root):
            return "installing for pre-commit, which needs only the CLI"
        node = shutil.which("node", path=self.search_path())
        if node is None:
            return "Node.js (node) is not on PATH"
        try:
            node_version = subprocess.run(
                [node, "--version"], capture_output=True, text=True, check=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot run {node}: {exc}"
        if not node_supports_rspack(node_version):
            return f"Node.js {node_version} is too old (the bundler needs ^20.19.0 or >=22.12.0)"
        if shutil.which("jlpm", path=self.search_path()) is None:
            return "jlpm is not installed (pip install jupyter-builder)"
        return None

    def search_path(self) -> str:
        # The build environment's scripts (jlpm, jupyter-builder) may not be on PATH yet.
        return os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", os.defpath)])

    def build(self, root: Path) -> None:
        env = {**os.environ, "PATH": self.search_path()}
        jlpm = shutil.which("jlpm", path=env["PATH"])
        assert jlpm is not None
        source = root / LABEXTENSION_SOURCE
        for step in (["install"], ["build:prod"]):
            self.app.display_info(f"nbhygiene: jlpm {' '.join(step)} (in {LABEXTENSION_SOURCE}/)")
            result = subprocess.run([jlpm, *step], cwd=source, env=env, check=False)
            if result.returncode != 0:
                raise RuntimeError(
                    f"nbhygiene: `jlpm {' '.join(step)}` failed in {source} (exit {result.returncode}). "
                    "Fix the build, or install without the JupyterLab extension: "
                    "NBHYGIENE_SKIP_LABEXTENSION=1 pip install ."
                )
