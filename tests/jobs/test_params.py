"""Typed parameters and grids."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.params import combine, expand_grid, load_grid, parse_value, user_parameters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.1", 0.1),
        ("1e-3", 0.001),
        ("42", 42),
        ("-5", -5),
        ("true", True),
        ("null", None),
        ("[1, 2.5, 'a']", [1, 2.5, "a"]),
        ("{depth: 3, kind: rf}", {"depth": 3, "kind": "rf"}),
        ('{"a": [1, {"b": null}]}', {"a": [1, {"b": None}]}),
        # strings stay strings (YAML 1.1 would turn these into False, a date, octal 10 and 80)
        ("no", "no"),
        ("2024-01-01", "2024-01-01"),
        ("012", "012"),
        ("1:20", "1:20"),
        ("hello world", "hello world"),
        ('"5"', "5"),
    ],
)
def test_values_are_typed_as_yaml_1_2(text: str, expected: object) -> None:
    value = parse_value(text, "x")
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("text", [".nan", ".inf", "[1, 2", "{a: [}", "!!binary aGVsbG8="])
def test_values_json_cannot_hold_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_value(text, "x")


def test_command_line_overrides_files(tmp_path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text("alpha: 0.1\nlayers: [64, 32]\n")
    second = tmp_path / "b.json"
    second.write_text('{"alpha": 0.5, "name": "run"}')
    params = user_parameters([["alpha", "0.9"]], [str(first), str(second)])
    assert params == {"alpha": 0.9, "layers": [64, 32], "name": "run"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- 1\n- 2\n", "must be a mapping"),
        ("1bad: 3\n", "not a valid parameter name"),
        ("class: 3\n", "not a valid parameter name"),
    ],
)
def test_bad_parameter_files(tmp_path, content: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        user_parameters(None, [str(path)])


def test_missing_parameter_file() -> None:
    with pytest.raises(UsageError, match="no such file"):
        user_parameters(None, ["/nonexistent/params.yaml"])


def test_grid_mapping_is_a_cartesian_product() -> None:
    runs = expand_grid({"n": [1, 2, 3], "depth": [None, 4], "seed": 7}, "grid")
    assert len(runs) == 6
    assert runs[0] == {"n": 1, "depth": None, "seed": 7}
    assert {(r["n"], r["depth"]) for r in runs} == {(n, d) for n in (1, 2, 3) for d in (None, 4)}


def test_grid_list_is_explicit_combinations(tmp_path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text("- {n: 1, layers: [8, 8]}\n- {n: 5}\n")
    assert load_grid(str(path)) == [{"n": 1, "layers": [8, 8]}, {"n": 5}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "empty"),
        ([], "empty list"),
        ({"n": []}, "empty list of values"),
        ([1, 2], "must be a mapping"),
        ("text", "must be a mapping"),
    ],
)
def test_bad_grids(value: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        expand_grid(value, "grid.yaml")


def test_grid_and_command_line_must_not_give_the_same_parameter() -> None:
    with pytest.raises(UsageError, match="both"):
        combine({"n": 1}, [{"n": 2}])
    assert combine({"seed": 1}, [{"n": 2}, {"n": 3}]) == [{"seed": 1, "n": 2}, {"seed": 1, "n": 3}]
    assert combine({"seed": 1}, None) == [{"seed": 1}]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@given(json_values)
@settings(max_examples=200, deadline=None)
def test_any_json_value_round_trips(value: object) -> None:
    import json

    assert parse_value(json.dumps(value), "x") == value
