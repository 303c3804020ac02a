"""glue-code (NBH113) against the labelled cells in tests/fixtures/glue_code/labelled_cells.yaml.

Precision and recall are computed here from the rule's verdicts and the labels, and must match the
figures the rule's documentation states (so the doc cannot drift from the rule).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from nbhygiene.config import Config
from nbhygiene.engine import check_data
from nbhygiene.rules.glue_code import GlueCode

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "tests" / "fixtures" / "glue_code" / "labelled_cells.yaml"
CORPUS = Path("/work/cache/corpus")
# "glue-code" as a selector also names the rule family; select the rule by its code.
CONFIG = Config(select=["NBH113"])


def _entries() -> list[dict[str, Any]]:
    return yaml.safe_load(LABELS.read_text())["cells"]


def _code_cell(source: str, cell_id: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def predicted_glue(entry: dict[str, Any]) -> bool:
    """Whether the rule reports the labelled cell, in a notebook made of its imports and the cell."""
    cells = [_code_cell(entry["imports"], "imports")] if entry.get("imports") else []
    cells.append(_code_cell(entry["source"], "labelled"))
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "cells": cells,
    }
    result = check_data(notebook, "labelled.ipynb", CONFIG)
    assert result.error is None, result.error
    return any(f.cell_id == "labelled" and f.rule == "glue-code" for f in result.findings)


@cache
def confusion(group: str | None = None) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) over the labelled cells of ``group`` ("development", "holdout"; None: all)."""
    tp = fp = fn = tn = 0
    for entry in _entries():
        if group is not None and entry["set"] != group:
            continue
        glue = entry["label"] == "glue"
        flagged = predicted_glue(entry)
        tp += glue and flagged
        fp += flagged and not glue
        fn += glue and not flagged
        tn += not glue and not flagged
    return tp, fp, fn, tn


def test_labelled_set_is_large_and_well_formed() -> None:
    entries = _entries()
    assert len(entries) >= 60
    origins = {(e["origin"], e["cell_index"]) for e in entries}
    assert len(origins) == len(entries), "a cell is labelled twice"
    for entry in entries:
        assert entry["label"] in ("glue", "analysis"), entry
        assert entry["set"] in ("development", "holdout"), entry
        assert entry["reason"].strip(), entry
        assert entry["origin"].startswith(("corpus/", "example_notebooks/")), entry
    glue = sum(e["label"] == "glue" for e in entries)
    assert 20 <= glue <= len(entries) - 20, "both labels need enough cells"
    assert sum(e["origin"].startswith("corpus/") for e in entries) >= len(entries) // 2


def test_sources_match_their_origin() -> None:
    checked = 0
    for entry in _entries():
        origin = entry["origin"]
        path = CORPUS / origin.removeprefix("corpus/") if origin.startswith("corpus/") else ROOT / origin
        if not path.exists():
            continue  # the corpus is not always fetched
        cell = json.loads(path.read_text())["cells"][entry["cell_index"]]
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        assert source == entry["source"], f"{origin} cell {entry['cell_index']} changed"
        checked += 1
    assert checked > 0


@pytest.mark.parametrize(
    ("group", "label"), [(None, "all"), ("development", "development"), ("holdout", "holdout")]
)
def test_precision_and_recall_match_the_documentation(group: str | None, label: str) -> None:
    tp, fp, fn, tn = confusion(group)
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    doc = " ".join(GlueCode.doc().split())
    documented = re.search(rf"{label} \((\d+)\): precision (\d\.\d\d), recall (\d\.\d\d)", doc)
    assert documented, f"the rule's doc must state precision and recall for {label}"
    assert int(documented.group(1)) == tp + fp + fn + tn
    assert round(precision, 2) == float(documented.group(2)), (
        f"{label}: precision {precision:.3f} (tp={tp}, fp={fp})"
    )
    assert round(recall, 2) == float(documented.group(3)), f"{label}: recall {recall:.3f} (tp={tp}, fn={fn})"
    if group is None:
        # Severity stays `info` unless the rule is precise.
        assert GlueCode.severity.value == "info" or precision > 0.9


def test_documented_counts_match_the_labelled_set() -> None:
    entries = _entries()
    doc = " ".join(GlueCode.doc().split())
    counts = re.search(
        r"on (\d+) labelled cells .*?: (\d+) from the PyPI corpus, (\d+) from the example", doc
    )
    assert counts, "the rule's doc must say how many labelled cells it was measured on"
    corpus = sum(e["origin"].startswith("corpus/") for e in entries)
    assert (int(counts.group(1)), int(counts.group(2)), int(counts.group(3))) == (
        len(entries),
        corpus,
        len(entries) - corpus,
    )
    glue = re.search(r"(\d+) labelled glue", doc)
    assert glue and int(glue.group(1)) == sum(e["label"] == "glue" for e in entries)


@pytest.mark.parametrize(
    ("source", "glue"),
    [
        ('df.to_csv("out.csv", index=False)', True),
        ('with open("m.json", "w") as fh:\n    json.dump(scores, fh)', True),
        ("X = frame[cols].to_numpy()\ny = frame['target'].to_numpy()", True),
        ("model.fit(X_train, y_train)\npred = model.predict(X_test)\nprint(r2_score(y_test, pred))", False),
        ('df.groupby("a")["b"].mean().plot()', False),
        ('print(", ".join(names))', False),
        ("X, y = load_wine(return_X_y=True)", False),
    ],
)
def test_small_cases(source: str, glue: bool) -> None:
    imports = "import json\nimport pandas as pd\nfrom sklearn.datasets import load_wine"
    assert predicted_glue({"imports": imports, "source": source}) is glue


def test_notebook_level_finding_over_the_share() -> None:
    glue_cells = ['df.to_csv("a.csv")', 'b = pd.read_csv("a.csv")', "c = b.to_dict()"]
    cells = [_code_cell("import pandas as pd", "imports"), _code_cell("df = make()\ndf.describe()", "make")]
    cells += [_code_cell(s, f"g{i}") for i, s in enumerate(glue_cells)]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    found = check_data(notebook, "nb.ipynb", CONFIG).findings
    assert {f.cell_id for f in found} == {"g0", "g1", "g2", None}  # 3 of 5 code cells > 0.5
    strict = Config(select=["NBH113"], options={"glue-code": {"notebook-share": 0.7}})
    assert None not in {f.cell_id for f in check_data(notebook, "nb.ipynb", strict).findings}
