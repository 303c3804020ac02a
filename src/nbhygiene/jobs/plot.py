"""``nbhygiene runs plot``: a metric's history as a PNG, one line per parameter set.

:func:`metric_history_png` returns the PNG bytes so that the debt report can embed the plot
(``data:image/png;base64,...``) without writing a file.
"""

from __future__ import annotations

import base64
import io
import json
import math
from typing import Any, cast

from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.files import atomic_write_bytes, parse_iso
from nbhygiene.jobs.history import notebook_filter
from nbhygiene.jobs.store import RunStore

MAX_LINES = 8


def metric_history(store: RunStore, notebook: str, metric: str) -> dict[str, Any]:
    """The series behind the plot: successful runs that recorded ``metric``, grouped by parameters."""
    name = notebook_filter(store, notebook)
    series: dict[str, dict[str, Any]] = {}
    for row in store.rows(notebook=name, status="succeeded", newest_first=False):
        value = json.loads(row["metrics"]).get(metric)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        entry = series.setdefault(row["params_digest"], {"params": json.loads(row["params"]), "points": []})
        entry["points"].append({"run": row["id"], "started_at": row["started_at"], "value": value})
    if not series:
        raise UsageError(f"no successful run of {notebook} recorded a numeric metric {metric!r}")
    return {"notebook": name, "metric": metric, "series": list(series.values())}


def _label(params: dict[str, Any], varying: set[str]) -> str:
    shown = {k: v for k, v in params.items() if k in varying} or params
    text = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(shown.items())) or "defaults"
    return text if len(text) <= 48 else text[:45] + "..."


def metric_history_png(history: dict[str, Any]) -> bytes:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("runs plot needs matplotlib: pip install 'nbhygiene[jobs]'") from None
    series = sorted(history["series"], key=lambda s: -len(s["points"]))
    keys = [set(s["params"]) for s in series]
    all_keys = set().union(*keys) if keys else set()
    varying = {k for k in all_keys if len({json.dumps(s["params"].get(k)) for s in series}) > 1}
    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    for entry in series[:MAX_LINES]:
        times = [parse_iso(p["started_at"]) for p in entry["points"]]
        values = [p["value"] for p in entry["points"]]
        axes.plot(cast(Any, times), values, marker="o", label=_label(entry["params"], varying))
    if len(series) > MAX_LINES:
        axes.set_title(
            f"{history['metric']} — {history['notebook']} (the {MAX_LINES} longest of "
            f"{len(series)} parameter sets)"
        )
    else:
        axes.set_title(f"{history['metric']} — {history['notebook']}")
    axes.set_xlabel("run started (UTC)")
    axes.set_ylabel(history["metric"])
    axes.grid(True, alpha=0.3)
    if len(series) > 1:
        axes.legend(fontsize="small", loc="best")
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def metric_history_data_uri(store: RunStore, notebook: str, metric: str) -> str:
    """For the debt report: the plot as an ``<img src=...>`` value."""
    png = metric_history_png(metric_history(store, notebook, metric))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def write_plot(history: dict[str, Any], path: str) -> str:
    atomic_write_bytes(path, metric_history_png(history))
    return path
