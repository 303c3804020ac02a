"""Every rule's fixture notebooks: specs under tests/fixtures/rules/<rule>/ built by tools/nbbuild.py
in a real kernel. ``expect`` maps a rule to the exact cell ids (or "notebook") where it must fire;
``absent`` lists rules that must not fire anywhere in that notebook (the traps)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nbhygiene.config import Config
from nbhygiene.engine import check_file
from nbhygiene.rules import all_rules

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
EXAMPLES = Path(__file__).parent.parent / "example_notebooks" / "specs"
SPECS = sorted(FIXTURES.glob("*/*.yaml"))


def _notebook_for(spec_path: Path, spec: dict) -> Path:
    if spec.get("output"):
        return (spec_path.parent / spec["output"]).resolve()
    return spec_path.with_suffix(".ipynb")


def _found(path: Path) -> dict[str, set[str]]:
    result = check_file(str(path), Config())
    assert result.error is None, result.error
    found: dict[str, set[str]] = {}
    for finding in result.findings:
        where = "notebook" if finding.cell_index is None else (finding.cell_id or f"#{finding.cell_position}")
        found.setdefault(finding.rule, set()).add(where)
    return found


def _check_spec(spec_path: Path, exact: bool) -> None:
    spec = yaml.safe_load(spec_path.read_text())
    notebook = _notebook_for(spec_path, spec)
    assert notebook.exists(), f"{notebook} missing: run python tools/nbbuild.py {spec_path}"
    found = _found(notebook)
    for rule, cells in (spec.get("expect") or {}).items():
        expected = {str(c) for c in (cells if isinstance(cells, list) else [cells])}
        got = found.get(rule, set())
        if exact:
            assert got == expected, f"{rule}: expected at {sorted(expected)}, found at {sorted(got)}"
        else:
            assert expected <= got, f"{rule}: expected at {sorted(expected)}, found at {sorted(got)}"
    for rule in spec.get("absent") or []:
        assert rule not in found, f"{rule} must not fire, but fired at {sorted(found[rule])}"


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_rule_fixture(spec_path: Path) -> None:
    _check_spec(spec_path, exact=True)


@pytest.mark.parametrize("spec_path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_example_notebook_expectations(spec_path: Path) -> None:
    implemented = {rule.name for rule in all_rules()}
    spec = yaml.safe_load(spec_path.read_text())
    spec["expect"] = {k: v for k, v in (spec.get("expect") or {}).items() if k in implemented}
    spec["absent"] = [r for r in spec.get("absent") or [] if r in implemented]
    notebook = _notebook_for(spec_path, spec)
    found = _found(notebook)
    for rule, cells in spec["expect"].items():
        expected = {str(c) for c in (cells if isinstance(cells, list) else [cells])}
        assert found.get(rule, set()) == expected, (
            f"{rule}: expected {sorted(expected)}, got {sorted(found.get(rule, set()))}"
        )
    for rule in spec["absent"]:
        assert rule not in found, f"{rule} must not fire, but fired at {sorted(found[rule])}"


def test_every_rule_has_a_trigger_and_a_trap() -> None:
    triggers: set[str] = set()
    traps: set[str] = set()
    for spec_path in [*SPECS, *sorted(EXAMPLES.glob("*.yaml"))]:
        spec = yaml.safe_load(spec_path.read_text())
        triggers.update((spec.get("expect") or {}).keys())
        traps.update(spec.get("absent") or [])
    loading_only = {"python2-notebook", "notebook-schema"}  # covered by tests/test_loading.py
    # Live-only: it reads the kernel's execution history, which no saved fixture holds; its trigger and
    # trap are live kernel sessions in tests/widgets/test_live.py.
    live_only = {"edited-after-run"}
    # Execution-only: they report what `check --execute` saw in a fresh kernel run, which no static check
    # does; their triggers and traps are the executed notebooks of tests/test_reproduce.py.
    live_only |= {"not-reproducible", "cannot-execute"}
    for rule in all_rules():
        if rule.name in loading_only | live_only:
            continue
        assert rule.name in triggers, f"no fixture triggers {rule.name}"
        assert rule.name in traps, f"no trap fixture for {rule.name}"
