"""large-output (NBH108): sizes as stored, the two limits, their options, and speed on huge images."""

from __future__ import annotations

import time

from hygiene_cells import code, display, error, findings, notebook, stream

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.config import Config, config_from_mapping
from nbhygiene.loading import loaded_from_data
from nbhygiene.model import build_model
from nbhygiene.rule import Context
from nbhygiene.rules.large_output import LargeOutput, output_sizes


def test_sizes_by_kind() -> None:
    cell = build_model(
        loaded_from_data(
            notebook(
                [
                    code(
                        "x",
                        "a",
                        [
                            stream(["ab", "cd"]),
                            stream("e", "stderr"),
                            display({"image/png": "A" * 10, "text/plain": ["<Figure>"]}),
                            display({"application/json": {"k": [1, 2]}}),
                            error("E", "v", ["tb1", "tb2"]),
                        ],
                    )
                ]
            ),
            "m.ipynb",
        )
    ).cells[0]
    assert output_sizes(cell) == {
        "stdout": 4,
        "stderr": 1,
        "image/png": 10,
        "text/plain": 8,
        "application/json": len('{"k": [1, 2]}'),
        "error": 7,
    }


def test_cell_and_notebook_limits() -> None:
    big = [display({"image/png": "i" * 1_200_000, "text/plain": "<Figure>"})]
    medium = [stream("x" * 900_000)]
    cells = [code("a", "big", big)] + [code(str(i), f"m{i}", medium) for i in range(5)]
    found = findings(notebook(cells), "large-output")
    assert [f.cell_id for f in found] == [None, "big"]
    notebook_level, cell_level = found
    assert notebook_level.message == "All saved outputs take 5.7 MB (limit 5.0 MB)"
    assert cell_level.message.startswith(
        "Saved outputs take 1.2 MB (limit 1.0 MB), mostly image/png (1.2 MB)"
    )


def test_limits_are_options() -> None:
    cells = [code("a", "a", [stream("x" * 2_000)]), code("b", "b", [stream("y" * 500)])]
    config = config_from_mapping(
        {"options": {"large-output": {"max-bytes": 1_000, "max-total-bytes": 2_400}}}
    )
    assert [f.cell_id for f in findings(notebook(cells), "large-output", config)] == [None, "a"]
    assert findings(notebook(cells), "large-output", Config()) == []


def test_100_mb_of_images_is_fast() -> None:
    payload = "iVBORw0KGgo" + "A" * 10_000_000  # never decoded: only its length is read
    cells = [
        code(f"plot({i})", f"p{i}", [display({"image/png": payload, "text/plain": "<Figure>"})])
        for i in range(10)
    ]
    analysis = NotebookAnalysis.build(build_model(loaded_from_data(notebook(cells), "big.ipynb")))
    start = time.perf_counter()
    reports = list(LargeOutput().check(Context(analysis, dict(LargeOutput.options))))
    assert time.perf_counter() - start < 0.05
    assert len(reports) == 11
