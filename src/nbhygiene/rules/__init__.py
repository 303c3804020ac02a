"""The rule catalogue: one module per rule, and this single table mapping codes and names to rules.

Third-party rules register through the ``nbhygiene.rules`` entry point group (a ``Rule`` subclass);
the core rules are listed here directly so that a plain check needs no entry-point scan.
"""

from __future__ import annotations

from functools import cache

from nbhygiene.rule import Rule
from nbhygiene.rules.execution_count_gap import ExecutionCountGap
from nbhygiene.rules.execution_order import ExecutionOrder
from nbhygiene.rules.kernel_not_fresh import KernelNotFresh
from nbhygiene.rules.no_execution_history import NoExecutionHistory
from nbhygiene.rules.non_idempotent_cell import NonIdempotentCell
from nbhygiene.rules.notebook_schema import NotebookSchema
from nbhygiene.rules.python2_notebook import Python2Notebook
from nbhygiene.rules.stale_output import StaleOutput
from nbhygiene.rules.syntax_error import SyntaxErrorRule
from nbhygiene.rules.undefined_name import UndefinedName
from nbhygiene.rules.unexecuted_cell import UnexecutedCell
from nbhygiene.rules.use_before_definition import UseBeforeDefinition

CORE_RULES: tuple[type[Rule], ...] = (
    ExecutionOrder,
    UnexecutedCell,
    UseBeforeDefinition,
    UndefinedName,
    StaleOutput,
    NonIdempotentCell,
    SyntaxErrorRule,
    ExecutionCountGap,
    KernelNotFresh,
    Python2Notebook,
    NoExecutionHistory,
    NotebookSchema,
)


@cache
def all_rules() -> tuple[type[Rule], ...]:
    rules = list(CORE_RULES)
    try:
        from importlib.metadata import entry_points

        for entry in entry_points(group="nbhygiene.rules"):
            try:
                loaded = entry.load()
            except Exception:  # a broken plugin must not break the check
                continue
            if isinstance(loaded, type) and issubclass(loaded, Rule) and loaded not in rules:
                rules.append(loaded)
    except Exception:  # pragma: no cover - importlib.metadata failures
        pass
    return tuple(rules)


@cache
def rules_by_key() -> dict[str, type[Rule]]:
    table: dict[str, type[Rule]] = {}
    for rule in all_rules():
        table[rule.code.upper()] = rule
        table[rule.name.lower()] = rule
    return table


def find_rule(key: str) -> type[Rule] | None:
    key = key.strip()
    return rules_by_key().get(key.upper()) or rules_by_key().get(key.lower())


def history_rule_names() -> list[str]:
    return [r.name for r in all_rules() if r.needs_history]
