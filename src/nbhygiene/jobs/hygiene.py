"""The bridge to nbhygiene's analyzer for "fail fast on blocking hygiene findings"."""

from __future__ import annotations

import os
from typing import Any

from nbhygiene.jobs.errors import UsageError


def blocking_findings(data: dict[str, Any], path: str, fail_on: str) -> list[str]:
    """One line per finding at or above ``fail_on`` (``error``, ``warning`` or ``info``), with the project's
    configuration (``[tool.nbhygiene]`` in the nearest ``pyproject.toml``) applied."""
    from nbhygiene.config import ConfigError, load_config
    from nbhygiene.engine import check_data
    from nbhygiene.findings import Severity

    try:
        threshold = Severity.parse(fail_on)
        config = load_config(os.path.dirname(path) or ".")
    except (ValueError, ConfigError) as exc:
        raise UsageError(str(exc)) from None
    result = check_data(data, path, config)
    if result.error is not None:
        return [f"{result.error.kind}: {result.error.message}"]
    lines = []
    for finding in sorted(result.findings, key=lambda f: f.sort_key()):
        if finding.severity.rank >= threshold.rank:
            where = f"cell {finding.cell_position}: " if finding.cell_position else ""
            lines.append(f"{where}{finding.code} {finding.rule}: {finding.message}")
    return lines
