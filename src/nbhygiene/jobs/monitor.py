"""``nbhygiene runs monitor``: does the latest successful run regress against its own history?

For each parameter set of a notebook, the latest successful run's metric is compared with the median of
the previous ``window`` successful runs with the same parameters. A metric where higher is better
regresses when it drops by more than ``max-drop``; one where lower is better (a loss, an error) when it
rises by more than ``max-rise``. Exit codes: 0 no regression, 1 regression, 2 usage error -- so a
scheduled CI job can alert.

Rules can live in ``pyproject.toml``::

    [tool.nbhygiene.monitor]
    window = 5
    [tool.nbhygiene.monitor.metrics]
    accuracy = { max-drop = 0.02 }
    rmse = { max-rise = 0.5 }
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from dataclasses import dataclass
from typing import Any

from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.history import notebook_filter
from nbhygiene.jobs.store import RunStore

DEFAULT_WINDOW = 5


@dataclass(slots=True)
class MonitorRule:
    metric: str
    max_drop: float | None = None  # higher is better
    max_rise: float | None = None  # lower is better


def load_monitor_config(start: str) -> tuple[list[MonitorRule], int | None]:
    """Rules and window from ``[tool.nbhygiene.monitor]`` in the nearest ``pyproject.toml``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    directory = os.path.abspath(start)
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            break
        parent = os.path.dirname(directory)
        if parent == directory:
            return [], None
        directory = parent
    try:
        with open(candidate, "rb") as handle:
            section = tomllib.load(handle).get("tool", {}).get("nbhygiene", {}).get("monitor", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{candidate}: cannot read [tool.nbhygiene.monitor]: {exc}") from None
    if not isinstance(section, dict):
        raise UsageError(f"{candidate}: [tool.nbhygiene.monitor] must be a table")
    window = section.get("window")
    if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window < 1):
        raise UsageError(f"{candidate}: [tool.nbhygiene.monitor] window must be a positive integer")
    rules = []
    metrics = section.get("metrics", {})
    if not isinstance(metrics, dict):
        raise UsageError(f"{candidate}: [tool.nbhygiene.monitor.metrics] must be a table")
    for name, spec in metrics.items():
        if not isinstance(spec, dict):
            raise UsageError(
                f"{candidate}: monitor metric {name!r} must be a table like {{ max-drop = 0.02 }}"
            )
        rule = MonitorRule(
            name, _limit(spec.get("max-drop"), candidate, name), _limit(spec.get("max-rise"), candidate, name)
        )
        if rule.max_drop is None and rule.max_rise is None:
            raise UsageError(f"{candidate}: monitor metric {name!r} needs max-drop or max-rise")
        rules.append(rule)
    return rules, window


def _limit(value: Any, where: str, name: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 0
        or not math.isfinite(value)
    ):
        raise UsageError(f"{where}: monitor metric {name!r}: limits must be non-negative numbers")
    return float(value)


def monitor(store: RunStore, notebook: str, rules: list[MonitorRule], window: int) -> dict[str, Any]:
    name = notebook_filter(store, notebook)
    rows = [r for r in store.rows(notebook=name, status="succeeded", newest_first=True)]
    if not rows:
        raise UsageError(f"no successful run of {notebook} in {store.path}")
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(row["params_digest"], []).append(row)
    checks = []
    for rule in rules:
        seen_anywhere = False
        for group_rows in groups.values():
            latest, previous = group_rows[0], group_rows[1 : 1 + window]
            latest_value = _number(json.loads(latest["metrics"]).get(rule.metric))
            history: list[tuple[str, float]] = []
            for row in previous:
                value = _number(json.loads(row["metrics"]).get(rule.metric))
                if value is not None:
                    history.append((str(row["id"]), value))
            if latest_value is not None or history:
                seen_anywhere = True
            check: dict[str, Any] = {
                "metric": rule.metric,
                "params": json.loads(latest["params"]),
                "latest_run": latest["id"],
                "latest": latest_value,
                "baseline_runs": [i for i, _ in history],
                "baseline_median": None,
                "change": None,
                "limit": {"max_drop": rule.max_drop, "max_rise": rule.max_rise},
                "regressed": False,
                "reason": None,
            }
            if not history:
                check["reason"] = "no earlier successful run with these parameters recorded it"
                if latest_value is not None:
                    checks.append(check)
                continue
            baseline = statistics.median(v for _, v in history)
            check["baseline_median"] = baseline
            if latest_value is None:
                check["regressed"] = True
                check["reason"] = "the latest run did not record it"
            else:
                change = latest_value - baseline
                check["change"] = change
                if rule.max_drop is not None and -change > rule.max_drop:
                    check["regressed"], check["reason"] = (
                        True,
                        f"dropped by {-change:.6g} (limit {rule.max_drop:g})",
                    )
                elif rule.max_rise is not None and change > rule.max_rise:
                    check["regressed"], check["reason"] = (
                        True,
                        f"rose by {change:.6g} (limit {rule.max_rise:g})",
                    )
            checks.append(check)
        if not seen_anywhere:
            raise UsageError(f"no successful run of {notebook} recorded the metric {rule.metric!r}")
    return {
        "notebook": name,
        "window": window,
        "checks": checks,
        "regressed": any(c["regressed"] for c in checks),
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def format_monitor(document: dict[str, Any]) -> str:
    lines = []
    for check in document["checks"]:
        params = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(check["params"].items())) or "defaults"
        if check["baseline_median"] is None:
            lines.append(f"ok          {check['metric']} [{params}]: {check['reason']}")
            continue
        verdict = "REGRESSION" if check["regressed"] else "ok"
        latest = "missing" if check["latest"] is None else f"{check['latest']:.6g}"
        lines.append(
            f"{verdict:<11} {check['metric']} [{params}]: latest {latest} (run {check['latest_run']}) vs median "
            f"{check['baseline_median']:.6g} of {len(check['baseline_runs'])} earlier run(s)"
            + (f": {check['reason']}" if check["regressed"] else "")
        )
    lines.append("regression detected" if document["regressed"] else "no regression")
    return "\n".join(lines)
