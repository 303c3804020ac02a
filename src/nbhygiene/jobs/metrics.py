"""Metrics: ``nbhygiene.record(name, value)`` inside a notebook, and reading them back from its outputs.

``record`` publishes a display output with the MIME type ``application/vnd.nbhygiene.metric+json`` (plus a
``text/plain`` line, so a person reading the notebook sees the value). The output travels with the
notebook like any other, so the executor, the papermill engine, a remote Dask worker and a later reader
all find it in the same place -- the way scrapbook's ``glue`` works, whose outputs are read too.

This module is imported inside user kernels: it uses the standard library only (matplotlib is used when
the recorded value is a figure, and IPython when running inside a kernel).
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from typing import Any

METRIC_MIMETYPE = "application/vnd.nbhygiene.metric+json"
SCRAPBOOK_MIME = re.compile(r"^application/scrapbook\.scrap\.(?P<encoder>[a-z0-9_-]+)\+json$")
PAPERMILL_RECORD_MIME = "application/papermill.record+json"
MAX_JSON_BYTES = 64 * 1024
NAME = re.compile(r"^[A-Za-z0-9_.:/ -]{1,128}$")
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}

# Values recorded outside a kernel (a plain script, a test): kept here, in recording order.
_recorded_outside_kernel: dict[str, Any] = {}


class MetricError(ValueError):
    """The value cannot be recorded (wrong type, too large)."""


def record(name: str, value: Any) -> None:
    """Record a metric for the current run.

    ``value`` may be a number (``bool``, ``int``, ``float``, NumPy scalars), a string, small JSON data
    (lists and dicts up to 64 KiB) or a matplotlib figure. Recording a name again replaces the value (the
    earlier ones are kept as the metric's history). Inside ``nbhygiene run`` (or papermill with
    ``--engine nbhygiene``) the value lands in the run store; in an interactive notebook it is shown and
    kept in the cell's outputs.
    """
    if not isinstance(name, str) or not NAME.match(name):
        raise MetricError(f"metric name {name!r}: use 1-128 letters, digits, spaces or any of _ . : / -")
    payload = encode_value(value)
    payload["name"] = name
    shell = _ipython_shell()
    if shell is None:
        _recorded_outside_kernel[name] = decode_payload(payload)
        return
    bundle: dict[str, Any] = {METRIC_MIMETYPE: payload, "text/plain": _text_line(name, payload)}
    if payload["kind"] == "figure":
        bundle["image/png"] = payload.pop("png")
    from IPython.display import display

    display(bundle, raw=True, metadata={METRIC_MIMETYPE: {"name": name}})


def recorded_outside_kernel() -> dict[str, Any]:
    """What ``record`` kept when it ran outside a Jupyter kernel."""
    return dict(_recorded_outside_kernel)


def _ipython_shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    # A terminal IPython has no display pipe a reader could find later: treat it as "outside".
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def _text_line(name: str, payload: dict[str, Any]) -> str:
    if payload["kind"] == "figure":
        return f"{name} = <figure>"
    return f"{name} = {json.dumps(payload['value'], ensure_ascii=False)}"


def encode_value(value: Any) -> dict[str, Any]:
    """``{"kind": "number"|"string"|"json"|"figure", "value": ...}``; non-finite floats travel as the strings
    ``"nan"``, ``"inf"``, ``"-inf"`` because JSON has no such numbers."""
    if _is_figure(value):
        return {"kind": "figure", "png": _figure_png(value)}
    value = _plain(value)
    if isinstance(value, bool) or value is None:
        return {"kind": "json", "value": value}
    if isinstance(value, int):
        return {"kind": "number", "value": value}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"kind": "number", "value": value}
        return {"kind": "number", "value": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, str):
        if len(value.encode("utf-8")) > MAX_JSON_BYTES:
            raise MetricError(f"the string is longer than {MAX_JSON_BYTES} bytes; save it as a file instead")
        return {"kind": "string", "value": value}
    if isinstance(value, (list, dict)):
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MetricError(f"the value is not JSON data ({exc})") from None
        if len(text.encode("utf-8")) > MAX_JSON_BYTES:
            raise MetricError(
                f"the JSON value is larger than {MAX_JSON_BYTES} bytes; record summaries, save data as files"
            )
        return {"kind": "json", "value": json.loads(text)}
    raise MetricError(
        f"cannot record a {type(value).__module__}.{type(value).__qualname__}: record numbers, strings, "
        "small JSON data (lists, dicts) or a matplotlib figure"
    )


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays, tuples and nested containers as plain Python values."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in value.items()}
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, pandas Series
    if callable(tolist) and type(value).__module__.split(".")[0] in ("numpy", "pandas"):
        return _plain(tolist())
    return value


def _is_figure(value: Any) -> bool:
    return type(value).__module__.startswith("matplotlib") and callable(getattr(value, "savefig", None))


def _figure_png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_payload(payload: dict[str, Any]) -> Any:
    value = payload.get("value")
    if payload.get("kind") == "number" and isinstance(value, str):
        return _NON_FINITE.get(value, value)
    return value


# ---------------------------------------------------------------------- reading outputs
class ExtractedMetrics:
    """Metrics found in an executed notebook: the last value per name, earlier values as history, and
    figures as PNG bytes."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.history: dict[str, list[Any]] = {}
        self.figures: dict[str, bytes] = {}
        self.sources: dict[str, str] = {}  # name -> "nbhygiene" | "scrapbook" | "papermill"
        self.problems: list[str] = []

    def add(self, name: str, value: Any, source: str) -> None:
        if name in self.values:
            self.history.setdefault(name, [self.values[name]]).append(value)
        self.values[name] = value
        self.sources[name] = source

    def add_figure(self, name: str, png: bytes, source: str) -> None:
        self.figures[name] = png
        self.add(name, {"figure": f"figures/{_file_stem(name)}.png"}, source)

    def to_json(self) -> dict[str, Any]:
        """The ``metrics.json`` document: JSON-safe (non-finite numbers as strings)."""
        return {
            "values": {k: _json_safe(v) for k, v in self.values.items()},
            "history": {k: [_json_safe(v) for v in vs] for k, vs in self.history.items()},
            "sources": dict(self.sources),
            "problems": list(self.problems),
        }


def _file_stem(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80] or "figure"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def extract_metrics(notebook: dict[str, Any]) -> ExtractedMetrics:
    """Read ``record`` outputs, scrapbook ``glue`` outputs and papermill's old ``record`` outputs, in
    execution order (cell order; a notebook runs top to bottom)."""
    found = ExtractedMetrics()
    for cell in notebook.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs") or []:
            if not isinstance(output, dict) or output.get("output_type") not in (
                "display_data",
                "execute_result",
            ):
                continue
            data = output.get("data")
            if isinstance(data, dict):
                _read_bundle(found, data, output.get("metadata") or {})
    return found


def _read_bundle(found: ExtractedMetrics, data: dict[str, Any], metadata: dict[str, Any]) -> None:
    payload = data.get(METRIC_MIMETYPE)
    if isinstance(payload, dict) and isinstance(payload.get("name"), str):
        name = payload["name"]
        if payload.get("kind") == "figure":
            png = _b64(data.get("image/png"))
            if png is not None:
                found.add_figure(name, png, "nbhygiene")
            else:
                found.problems.append(f"{name}: figure output without image/png data")
        else:
            found.add(name, decode_payload(payload), "nbhygiene")
        return
    for mimetype, value in data.items():
        match = SCRAPBOOK_MIME.match(mimetype)
        if match and isinstance(value, dict) and isinstance(value.get("name"), str):
            _read_scrap(found, match.group("encoder"), value)
            return
    scrap_meta = metadata.get("scrapbook") if isinstance(metadata, dict) else None
    if isinstance(scrap_meta, dict) and scrap_meta.get("display") and isinstance(scrap_meta.get("name"), str):
        png = _b64(data.get("image/png"))  # glue(name, figure, encoder="display")
        if png is not None:
            found.add_figure(scrap_meta["name"], png, "scrapbook")
        return
    legacy = data.get(PAPERMILL_RECORD_MIME)
    if isinstance(legacy, dict):
        for name, value in legacy.items():
            found.add(str(name), value, "papermill")


def _read_scrap(found: ExtractedMetrics, encoder: str, payload: dict[str, Any]) -> None:
    name = payload["name"]
    if "data" not in payload:
        found.problems.append(f"{name}: scrapbook scrap stored outside the notebook ({payload.get('store')})")
        return
    value = payload["data"]
    if encoder == "json":
        found.add(name, value, "scrapbook")
    elif encoder == "text":
        found.add(name, value if isinstance(value, str) else str(value), "scrapbook")
    else:
        # pandas/arrow scraps hold a parquet blob: not a metric, and reading it needs pyarrow
        found.problems.append(f"{name}: scrapbook encoder {encoder!r} is not read as a metric")


def _b64(value: Any) -> bytes | None:
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value)
    except ValueError:
        return None
