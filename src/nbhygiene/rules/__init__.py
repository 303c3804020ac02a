"""The rule catalogue: one module per rule, and this single table mapping codes and names to rules.

Third-party rules register through the ``nbhygiene.rules`` entry point group (a ``Rule`` subclass);
the core rules are listed here directly so that a plain check needs no entry-point scan.
"""

from __future__ import annotations

from functools import cache

from nbhygiene.rule import Rule
from nbhygiene.rules.cannot_execute import CannotExecute
from nbhygiene.rules.duplicate_code import DuplicateCode
from nbhygiene.rules.edited_after_run import EditedAfterRun
from nbhygiene.rules.evaluation_on_training_data import EvaluationOnTrainingData
from nbhygiene.rules.execution_count_gap import ExecutionCountGap
from nbhygiene.rules.execution_order import ExecutionOrder
from nbhygiene.rules.global_in_function import GlobalInFunction
from nbhygiene.rules.glue_code import GlueCode
from nbhygiene.rules.hardcoded_hyperparameter import HardcodedHyperparameter
from nbhygiene.rules.hardcoded_path import HardcodedPath
from nbhygiene.rules.import_not_at_top import ImportNotAtTop
from nbhygiene.rules.kernel_not_fresh import KernelNotFresh
from nbhygiene.rules.large_output import LargeOutput
from nbhygiene.rules.long_cell import LongCell
from nbhygiene.rules.missing_parameters_cell import MissingParametersCell
from nbhygiene.rules.no_execution_history import NoExecutionHistory
from nbhygiene.rules.non_idempotent_cell import NonIdempotentCell
from nbhygiene.rules.not_reproducible import NotReproducible
from nbhygiene.rules.notebook_schema import NotebookSchema
from nbhygiene.rules.pip_install_in_notebook import PipInstallInNotebook
from nbhygiene.rules.preprocessing_leakage import PreprocessingLeakage
from nbhygiene.rules.python2_notebook import Python2Notebook
from nbhygiene.rules.run_magic import RunMagic
from nbhygiene.rules.saved_error_output import SavedErrorOutput
from nbhygiene.rules.secret_in_notebook import SecretInNotebook
from nbhygiene.rules.stale_output import StaleOutput
from nbhygiene.rules.star_import import StarImport
from nbhygiene.rules.syntax_error import SyntaxErrorRule
from nbhygiene.rules.test_data_in_training import TestDataInTraining
from nbhygiene.rules.undefined_name import UndefinedName
from nbhygiene.rules.unexecuted_cell import UnexecutedCell
from nbhygiene.rules.unseeded_randomness import UnseededRandomness
from nbhygiene.rules.unused_definition import UnusedDefinition
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
    EditedAfterRun,  # live-only: silent unless the live analysis attaches the kernel's history
    NotReproducible,  # execution-only: silent unless `check --execute` attaches a fresh run
    CannotExecute,  # execution-only, like not-reproducible
    StarImport,
    ImportNotAtTop,
    PipInstallInNotebook,
    RunMagic,
    HardcodedPath,
    SecretInNotebook,
    SavedErrorOutput,
    LargeOutput,
    LongCell,
    DuplicateCode,
    UnusedDefinition,
    GlobalInFunction,
    GlueCode,
    HardcodedHyperparameter,
    MissingParametersCell,
    PreprocessingLeakage,
    TestDataInTraining,
    EvaluationOnTrainingData,
    UnseededRandomness,
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
