"""Run keys: stable, sensitive to each part, and explainable part by part."""

from __future__ import annotations

import os

from nbhygiene.jobs.runkey import compute_run_key, explain_key_difference, hash_input_files, relative_to


def key(**overrides: object):  # type: ignore[no-untyped-def]
    parts: dict = {
        "code_digest": "c1",
        "params": {"a": 1, "b": [1, 2]},
        "environment_digest": "e1",
        "inputs": [],
        "location": {"notebook": "nb.ipynb", "cwd": "."},
    }
    parts.update(overrides)
    return compute_run_key(**parts)


def test_key_is_stable_and_order_independent() -> None:
    assert key().key == key(params={"b": [1, 2], "a": 1}).key
    assert key().key == key().key


def test_each_part_changes_the_key() -> None:
    base = key()
    variants = {
        "code": key(code_digest="c2"),
        "params": key(params={"a": 2, "b": [1, 2]}),
        "environment": key(environment_digest="e2"),
        "inputs": key(inputs=[{"path": "d.csv", "sha256": "x"}]),
        "location": key(location={"notebook": "nb.ipynb", "cwd": "data"}),
    }
    for part, variant in variants.items():
        assert variant.key != base.key
        assert [p for p in base.parts if base.parts[p] != variant.parts[p]] == [part]
    assert key(params={"a": 1.0, "b": [1, 2]}).key != base.key  # 1 and 1.0 are different parameters


def test_explanations() -> None:
    before = {
        "key_parts": key().parts,
        "params": {"a": 1, "b": [1, 2]},
        "cells": [{"index": 1, "id": "x", "digest": "d1"}, {"index": 2, "id": "y", "digest": "d2"}],
        "environment": {"python": "3.11.7", "packages": {"numpy": "2.0", "pandas": "2.2"}},
        "inputs": [{"path": "d.csv", "sha256": "1"}],
        "location": {"notebook": "nb.ipynb", "cwd": "."},
    }
    after = {
        "key_parts": {"code": "c2", "params": "p2", "environment": "e2", "inputs": "i2", "location": "l2"},
        "params": {"a": 2, "b": [1, 2], "c": "new"},
        "cells": [
            {"index": 1, "id": "x", "digest": "d1"},
            {"index": 2, "id": "y", "digest": "D2"},
            {"index": 3, "id": "z", "digest": "d3"},
        ],
        "environment": {"python": "3.11.7", "packages": {"numpy": "2.1", "scipy": "1.14"}},
        "inputs": [{"path": "d.csv", "sha256": "2"}, {"path": "e.csv", "sha256": "3"}],
        "location": {"notebook": "nb.ipynb", "cwd": "data"},
    }
    changes = {c["part"]: c["details"] for c in explain_key_difference(after, before)}
    assert changes["code"] == ["cell 3 (id y): changed", "cell 4 (id z): added"]
    assert changes["params"] == ["a: 1 -> 2", 'c: (unset) -> "new"']
    assert changes["environment"] == ["numpy 2.0 -> 2.1", "-pandas 2.2", "+scipy 1.14"]
    assert changes["inputs"] == ["d.csv: content changed", "+e.csv (newly declared)"]
    assert changes["location"] == ["cwd: . -> data"]


def test_input_digests_are_cached_by_stat(tmp_path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    cache = str(tmp_path / "cache")
    first = hash_input_files([str(data)], str(tmp_path), cache)
    assert first[0]["path"] == "data.csv" and len(first[0]["sha256"]) == 64
    assert hash_input_files([str(data)], str(tmp_path), cache) == first
    data.write_text("a\n2\n")
    assert hash_input_files([str(data)], str(tmp_path), cache)[0]["sha256"] != first[0]["sha256"]


def test_paths_outside_the_project_stay_absolute(tmp_path) -> None:
    assert relative_to(str(tmp_path / "a" / "b.ipynb"), str(tmp_path)) == "a/b.ipynb"
    outside = os.path.abspath(os.path.join(str(tmp_path), "..", "other.ipynb"))
    assert relative_to(outside, str(tmp_path)) == outside
