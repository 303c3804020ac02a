"""record() payloads and reading metrics back from notebook outputs."""

from __future__ import annotations

import base64
import math

import pytest

from nbhygiene.jobs import metrics
from nbhygiene.jobs.metrics import METRIC_MIMETYPE, MetricError, encode_value, extract_metrics, record

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def output(data: dict, metadata: dict | None = None) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": metadata or {}}


def notebook(*outputs: dict) -> dict:
    return {"cells": [{"cell_type": "code", "source": "", "outputs": list(outputs), "metadata": {}}]}


def test_encoding_of_each_kind() -> None:
    np = pytest.importorskip("numpy")
    assert encode_value(3) == {"kind": "number", "value": 3}
    assert encode_value(np.float32(0.5)) == {"kind": "number", "value": 0.5}
    assert encode_value(np.int64(7)) == {"kind": "number", "value": 7}
    assert encode_value(math.inf) == {"kind": "number", "value": "inf"}
    assert encode_value("rf") == {"kind": "string", "value": "rf"}
    assert encode_value({"a": (1, np.float64(2.0))}) == {"kind": "json", "value": {"a": [1, 2.0]}}
    assert encode_value(np.array([1, 2])) == {"kind": "json", "value": [1, 2]}
    assert encode_value(True) == {"kind": "json", "value": True}


def test_figures_are_png() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure()
    figure.add_subplot().plot([1, 2])
    payload = encode_value(figure)
    assert payload["kind"] == "figure"
    assert base64.b64decode(payload["png"]).startswith(b"\x89PNG")


@pytest.mark.parametrize("value", [object(), b"bytes", {"x": object()}, "x" * 70_000, list(range(20_000))])
def test_values_that_cannot_be_recorded(value: object) -> None:
    with pytest.raises(MetricError):
        encode_value(value)


@pytest.mark.parametrize("name", ["", "x" * 200, "bad\nname", 5])
def test_bad_names(name: object) -> None:
    with pytest.raises(MetricError):
        record(name, 1)  # type: ignore[arg-type]


def test_record_outside_a_kernel_keeps_the_value() -> None:
    record("accuracy", 0.9)
    assert metrics.recorded_outside_kernel()["accuracy"] == 0.9


def test_extract_all_sources_in_order() -> None:
    nb = notebook(
        output(
            {METRIC_MIMETYPE: {"name": "loss", "kind": "number", "value": 0.5}, "text/plain": "loss = 0.5"}
        ),
        output({METRIC_MIMETYPE: {"name": "loss", "kind": "number", "value": 0.25}}),
        output({METRIC_MIMETYPE: {"name": "nan", "kind": "number", "value": "nan"}}),
        output({METRIC_MIMETYPE: {"name": "curve", "kind": "figure"}, "image/png": PNG}),
        output(
            {
                "application/scrapbook.scrap.json+json": {
                    "name": "auc",
                    "data": 0.93,
                    "encoder": "json",
                    "version": 1,
                }
            },
            {"scrapbook": {"name": "auc", "data": True, "display": False}},
        ),
        output(
            {
                "application/scrapbook.scrap.text+json": {
                    "name": "model",
                    "data": "rf",
                    "encoder": "text",
                    "version": 1,
                }
            }
        ),
        output(
            {
                "application/scrapbook.scrap.pandas+json": {
                    "name": "frame",
                    "data": "AAAA",
                    "encoder": "pandas",
                    "version": 1,
                }
            }
        ),
        output({"image/png": PNG}, {"scrapbook": {"name": "plot", "data": False, "display": True}}),
        output({"application/papermill.record+json": {"old": 1}}),
        output({"text/plain": "just output"}),
    )
    found = extract_metrics(nb)
    assert found.values["loss"] == 0.25
    assert found.history["loss"] == [0.5, 0.25]
    assert math.isnan(found.values["nan"])
    assert found.values["curve"] == {"figure": "figures/curve.png"}
    assert found.figures["curve"].startswith(b"\x89PNG")
    assert found.values["auc"] == 0.93
    assert found.values["model"] == "rf"
    assert "frame" not in found.values and any("frame" in p for p in found.problems)
    assert found.figures["plot"].startswith(b"\x89PNG")
    assert found.values["old"] == 1
    document = found.to_json()
    assert document["values"]["nan"] == "nan"  # metrics.json stays valid JSON
    assert document["sources"]["auc"] == "scrapbook"


def test_malformed_outputs_are_ignored() -> None:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "outputs": [
                    None,
                    {"output_type": "display_data", "data": "x"},
                    output({METRIC_MIMETYPE: "not a dict"}),
                ],
            },
            "not a cell",
            {"cell_type": "markdown"},
        ]
    }
    assert extract_metrics(nb).values == {}
