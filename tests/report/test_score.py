"""The debt score's arithmetic (nbhygiene.report.score): weights by severity, split by family."""

from __future__ import annotations

import pytest

from nbhygiene.findings import Family, Finding, Severity
from nbhygiene.report.score import (
    SEVERITY_WEIGHTS,
    combine,
    family_of,
    format_score,
    score_findings,
)


def finding(rule: str, severity: Severity, code: str = "NBH000") -> Finding:
    return Finding(code=code, rule=rule, severity=severity, message="m", path="nb.ipynb")


def test_weights_are_error_5_warning_2_info_half() -> None:
    assert SEVERITY_WEIGHTS == {Severity.ERROR: 5.0, Severity.WARNING: 2.0, Severity.INFO: 0.5}


def test_score_sums_weights_per_family() -> None:
    findings = [
        finding("undefined-name", Severity.ERROR),  # hidden state
        finding("execution-order", Severity.WARNING),  # hidden state
        finding("missing-parameters-cell", Severity.INFO),  # configuration
        finding("hardcoded-hyperparameter", Severity.WARNING),  # configuration
        finding("ruff:F401", Severity.WARNING, code="F401"),  # external
    ]
    score = score_findings(findings, code_cells=4)
    assert score.total == 5 + 2 + 0.5 + 2 + 2
    assert score.by_family[Family.HIDDEN_STATE] == 7
    assert score.by_family[Family.CONFIGURATION] == 2.5
    assert score.by_family[Family.EXTERNAL] == 2
    assert score.by_family[Family.ML_PITFALLS] == 0
    assert score.counts == {Severity.ERROR: 1, Severity.WARNING: 3, Severity.INFO: 1}
    assert score.findings == 5
    assert score.per_10_cells == pytest.approx(11.5 * 10 / 4)


def test_severity_overrides_count_as_reported() -> None:
    # A team that raised unused-definition to error pays the error weight for it.
    assert score_findings([finding("unused-definition", Severity.ERROR)]).total == 5


def test_empty_notebook_scores_zero_without_density() -> None:
    score = score_findings([], code_cells=0)
    assert score.total == 0 and score.per_10_cells is None
    assert set(score.by_family) >= {
        Family.HIDDEN_STATE,
        Family.GLUE_CODE,
        Family.CONFIGURATION,
        Family.ML_PITFALLS,
    }


def test_combine_adds_notebooks() -> None:
    a = score_findings([finding("undefined-name", Severity.ERROR)], code_cells=3)
    b = score_findings([finding("missing-parameters-cell", Severity.INFO)], code_cells=7)
    total = combine([a, b])
    assert total.total == 5.5 and total.code_cells == 10 and total.per_10_cells == 5.5
    assert total.by_family[Family.HIDDEN_STATE] == 5 and total.by_family[Family.CONFIGURATION] == 0.5


def test_family_of_rules() -> None:
    assert family_of(finding("undefined-name", Severity.ERROR)) is Family.HIDDEN_STATE
    assert family_of(finding("flake8:E501", Severity.WARNING, code="E501")) is Family.EXTERNAL
    assert family_of(finding("some-plugin-rule-not-installed", Severity.WARNING)) is Family.NOTEBOOK


@pytest.mark.parametrize(("value", "text"), [(0.0, "0"), (2.5, "2.5"), (27.0, "27"), (0.25, "0.2")])
def test_format_score(value: float, text: str) -> None:
    assert format_score(value) == text
