"""The comparison of runs, on recorded runs (no kernels): nondeterminism is excluded, not reported;
values that became locals are expected to be gone; aliasing, timing lines and warning locations."""

from __future__ import annotations

from typing import Any

from nbhygiene.extract.verify import Run, compare


def _cell(
    stdout: str = "", stderr: str = "", displays: list[dict[str, str]] | None = None
) -> dict[str, list[Any]]:
    return {"stdout": [stdout], "stderr": [stderr], "display": displays or [], "error": []}


def _run(
    cells: list[dict[str, list[Any]]], values: dict[str, Any], aliases: dict[str, list[str]] | None = None
) -> Run:
    return Run(cells, values, aliases or {}, [], {})


def test_identical_runs_verify() -> None:
    cells = [_cell("a\n"), _cell("b\n")]
    values = {"x": ["value", "int", "1"]}
    result = compare(
        [_run(cells, values), _run(cells, values)],
        _run(cells, values),
        [[0], [1]],
        ["c1", "c2"],
        set(),
        set(),
        set(),
    )
    assert result.status == "verified"
    assert result.compared_cells == 2 and result.compared_values == 1


def test_calling_cell_shows_what_the_moved_cells_showed() -> None:
    original = _run([_cell("a\n"), _cell("b\n", displays=[{"text/plain": "1"}])], {})
    rewritten = _run([_cell("a\nb\n", displays=[{"text/plain": "1"}])], {})
    result = compare([original, original], rewritten, [[0, 1]], ["cell 1"], set(), set(), set())
    assert result.status == "verified", result.differences


def test_a_changed_line_is_the_first_difference() -> None:
    original = _run([_cell("accuracy: 0.95\n")], {})
    rewritten = _run([_cell("accuracy: 0.93\n")], {})
    result = compare([original, original], rewritten, [[0]], ["cell 3 (fit)"], set(), set(), set())
    assert result.status == "failed"
    assert result.reason == "cell 3 (fit): stdout line 1: expected 'accuracy: 0.95', got 'accuracy: 0.93'"


def test_nondeterministic_lines_and_values_are_excluded() -> None:
    first = _run(
        [_cell("n=5\nrandom: 0.41\n")],
        {"guess": ["ndarray", "int64", [3], "aaa"], "n": ["value", "int", "5"]},
    )
    second = _run(
        [_cell("n=5\nrandom: 0.57\n")],
        {"guess": ["ndarray", "int64", [3], "bbb"], "n": ["value", "int", "5"]},
    )
    rewritten = _run(
        [_cell("n=5\nrandom: 0.49\n")],
        {"guess": ["ndarray", "int64", [3], "ccc"], "n": ["value", "int", "5"]},
    )
    result = compare([first, second], rewritten, [[0]], ["cell 1"], set(), set(), set())
    assert result.status == "verified", result.differences
    assert "`guess` varies between runs of the original" in result.excluded
    assert result.nondeterministic == {"guess"}


def test_locals_of_the_function_may_disappear_but_nothing_else() -> None:
    original = _run([_cell()], {"tmp": ["value", "int", "1"], "kept": ["value", "int", "2"]})
    rewritten = _run([_cell()], {"kept": ["value", "int", "2"], "f": ["callable"]})
    assert compare([original, original], rewritten, [[0]], ["c"], set(), {"tmp"}, {"f"}).status == "verified"
    result = compare([original, original], rewritten, [[0]], ["c"], set(), set(), {"f"})
    assert result.reason == "`tmp` exists after the original run but not after the rewritten one"


def test_lost_aliasing_is_a_difference() -> None:
    values = {"X": ["ndarray", "float64", [2], "h"], "X_raw": ["ndarray", "float64", [2], "h"]}
    original = _run([_cell()], values, {"X": ["X", "X_raw"], "X_raw": ["X", "X_raw"]})
    rewritten = _run([_cell()], values, {})
    result = compare([original, original], rewritten, [[0]], ["c"], set(), set(), set())
    assert result.status == "failed"
    assert "are the same object after the original run but not after the rewritten one" in str(result.reason)


def test_timing_lines_of_moved_time_magics_are_ignored() -> None:
    original = _run([_cell("CPU times: user 1 ms, sys: 0 ns, total: 1 ms\nWall time: 2 ms\nok\n")], {})
    rewritten = _run([_cell("ok\n")], {})
    assert compare([original, original], rewritten, [[0]], ["c"], {0}, set(), set()).status == "verified"
    assert compare([original, original], rewritten, [[0]], ["c"], set(), set(), set()).status == "failed"


def test_warning_locations_are_normalised() -> None:
    original = _run(
        [_cell(stderr="/tmp/ipykernel_1/2.py:1: FutureWarning: old\n  df.dropna(inplace=True)\n")], {}
    )
    rewritten = _run(
        [_cell(stderr="/home/u/steps.py:9: FutureWarning: old\n  df.dropna(inplace=True)\n")], {}
    )
    assert compare([original, original], rewritten, [[0]], ["c"], set(), set(), set()).status == "verified"


def test_a_third_original_run_reveals_a_coincidence() -> None:
    first = _run([_cell("random: 0.509\n")], {})
    second = _run([_cell("random: 0.509\n")], {})
    third = _run([_cell("random: 0.544\n")], {})
    rewritten = _run([_cell("random: 0.605\n")], {})
    assert compare([first, second], rewritten, [[0]], ["c"], set(), set(), set()).status == "failed"
    assert compare([first, second, third], rewritten, [[0]], ["c"], set(), set(), set()).status == "verified"
