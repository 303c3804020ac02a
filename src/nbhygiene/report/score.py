"""The debt score: findings in, numbers out. No I/O, no HTML.

A notebook's debt score is the sum of its findings' weights, by severity:

    error = 5, warning = 2, info = 0.5

split by the family of the rule that reported each finding (hidden state, glue code, configuration,
ML pitfalls, notebook hygiene, and external linters when ``--external`` findings are included). The
score is not normalised by size: fixing a finding always lowers it and adding cells never does, so
the trend over commits shows debt paid or taken on. For comparing notebooks of different sizes the
report also shows the score per 10 code cells. Notebooks that could not be analysed get no score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from nbhygiene.findings import Family, Finding, Severity

SEVERITY_WEIGHTS: Mapping[Severity, float] = {Severity.ERROR: 5.0, Severity.WARNING: 2.0, Severity.INFO: 0.5}

# Report order: the families the issue names first, then hygiene and other tools.
FAMILIES: tuple[Family, ...] = (
    Family.HIDDEN_STATE,
    Family.GLUE_CODE,
    Family.CONFIGURATION,
    Family.ML_PITFALLS,
    Family.NOTEBOOK,
    Family.EXTERNAL,
)
FAMILY_LABELS: Mapping[Family, str] = {
    Family.HIDDEN_STATE: "hidden state",
    Family.GLUE_CODE: "glue code",
    Family.CONFIGURATION: "configuration",
    Family.ML_PITFALLS: "ML pitfalls",
    Family.NOTEBOOK: "notebook hygiene",
    Family.EXTERNAL: "external linters",
}


def family_of(finding: Finding) -> Family:
    """The family of the rule behind a finding; ``tool:CODE`` rules (``--external``) are external."""
    from nbhygiene.external import is_external
    from nbhygiene.rules import find_rule

    if is_external(finding):
        return Family.EXTERNAL

    rule = find_rule(finding.rule)
    return rule.family if rule is not None else Family.NOTEBOOK


def finding_weight(finding: Finding) -> float:
    return SEVERITY_WEIGHTS[finding.severity]


@dataclass(frozen=True, slots=True)
class DebtScore:
    total: float
    by_family: dict[Family, float] = field(default_factory=dict)
    counts: dict[Severity, int] = field(default_factory=dict)
    code_cells: int = 0

    @property
    def findings(self) -> int:
        return sum(self.counts.values())

    @property
    def per_10_cells(self) -> float | None:
        """Debt per 10 code cells, to compare notebooks of different sizes (None without code cells)."""
        return self.total * 10 / self.code_cells if self.code_cells else None


def score_findings(findings: Iterable[Finding], code_cells: int = 0) -> DebtScore:
    by_family = dict.fromkeys(FAMILIES, 0.0)
    counts = dict.fromkeys(Severity, 0)
    for finding in findings:
        family = family_of(finding)
        by_family[family] = by_family.get(family, 0.0) + finding_weight(finding)
        counts[finding.severity] += 1
    return DebtScore(sum(by_family.values()), by_family, counts, code_cells)


def combine(scores: Iterable[DebtScore]) -> DebtScore:
    """The sum of several notebooks' scores (the repository's debt)."""
    by_family = dict.fromkeys(FAMILIES, 0.0)
    counts = dict.fromkeys(Severity, 0)
    code_cells = 0
    for score in scores:
        for family, value in score.by_family.items():
            by_family[family] = by_family.get(family, 0.0) + value
        for severity, count in score.counts.items():
            counts[severity] += count
        code_cells += score.code_cells
    return DebtScore(sum(by_family.values()), by_family, counts, code_cells)


def format_score(value: float) -> str:
    """1 decimal, without a trailing ``.0`` (weights are multiples of 0.5)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
