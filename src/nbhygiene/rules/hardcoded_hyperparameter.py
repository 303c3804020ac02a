from __future__ import annotations

import ast
from collections.abc import Iterator

from nbhygiene.findings import Family, Fix, Severity
from nbhygiene.model import Cell
from nbhygiene.rule import Context, Report, Rule

PARAMETER_TAGS = frozenset({"parameters", "injected-parameters"})

# Libraries whose classes are estimators (or optimisers) configured by their constructor arguments.
_ESTIMATOR_LIBRARIES = ("sklearn", "xgboost", "lightgbm", "catboost", "imblearn")
# scikit-learn modules whose classes set up an experiment or container, not a model.
_NOT_ESTIMATOR_MODULES = (
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.metrics",
    "sklearn.datasets",
    "sklearn.utils",
    "sklearn.inspection",
    "sklearn.base",
    "sklearn.exceptions",
    "sklearn.experimental",
)
# Data containers of the boosting libraries (not models).
_DATA_CLASSES = frozenset(
    {"DMatrix", "DeviceQuantileDMatrix", "QuantileDMatrix", "Dataset", "Pool", "Booster"}
)
# Class-name endings that mark an estimator even when its import cannot be resolved (star imports).
_ESTIMATOR_SUFFIXES = (
    "Classifier",
    "Regressor",
    "Regression",
    "SVC",
    "SVR",
    "Lasso",
    "Ridge",
    "ElasticNet",
    "KMeans",
    "Clustering",
    "NB",
)
_OPTIMIZER_NAMES = frozenset(
    {
        "Adam",
        "AdamW",
        "Adamax",
        "Nadam",
        "SGD",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Ftrl",
        "LBFGS",
        "RAdam",
        "NAdam",
    }
)
_OPTIMIZER_MODULES = frozenset({"optim", "optimizers", "optimizer", "lr_scheduler", "schedules", "optax"})
# Keyword arguments of `fit` that are training hyperparameters.
FIT_HYPERPARAMETERS = frozenset(
    {
        "epochs",
        "nb_epoch",
        "num_epochs",
        "n_epochs",
        "batch_size",
        "learning_rate",
        "lr",
        "early_stopping_rounds",
    }
)
# Arguments that configure how a model runs, not what it learns; never reported.
OPERATIONAL_ARGUMENTS = frozenset(
    {
        "random_state",
        "seed",
        "random_seed",
        "n_jobs",
        "nthread",
        "thread_count",
        "num_threads",
        "verbose",
        "verbosity",
        "silent",
        "max_iter",
        "tol",
        "cache_size",
        "gpu_id",
        "device",
        "copy",
        "copy_X",
        "cv",
        "n_splits",
        "test_size",
        "train_size",
        "params",
    }
)
_SCORE_WORDS = ("prob", "score", "pred", "confidence", "logit", "likelihood", "threshold")
_SCORE_CALLS = frozenset({"predict_proba", "decision_function", "sigmoid", "softmax", "predict"})


class HardcodedHyperparameter(Rule):
    """Hyperparameters are literal numbers in the code instead of coming from the parameters cell.

    ## What it does
    Reports, outside a cell tagged `parameters`, each call that passes literal numbers to:

    * an estimator: a class imported from scikit-learn (not its splitters, pipelines, metrics or
      datasets), XGBoost, LightGBM, CatBoost or imbalanced-learn, or whose name ends in `Classifier`,
      `Regressor`, `Regression`, `SVC`, `SVR`, ... when its import cannot be seen (`Ridge(alpha=0.37)`);
    * an optimiser or learning-rate schedule (`torch.optim.Adam(params, lr=0.001)`,
      `keras.optimizers.Adam(learning_rate=1e-3)`, `StepLR(opt, step_size=30, gamma=0.1)`);
    * `fit` as `epochs`, `batch_size`, `learning_rate`/`lr` or `early_stopping_rounds`;
    * a decision threshold on a score (`proba > 0.7`, `y_pred >= 0.35`).

    Each call is reported once, naming the literal arguments. Only numbers (and tuples/lists of numbers)
    count: strings and booleans (`solver="liblinear"`, `shuffle=True`) choose a variant rather than tune
    it. Arguments that control how a model runs rather than what it learns are never reported:
    `random_state`/`seed`, `n_jobs`, `verbose`, `max_iter` and `tol` (convergence budgets), `cv`,
    `test_size`, `device`, .... A threshold of exactly 0.5 is the neutral default and is not reported.

    ## Why it matters
    Numbers buried in cells cannot be changed from outside: papermill cannot run a grid over them, and
    nobody reviewing the notebook knows which values were tuned, which were copied from a tutorial, and
    which must stay in sync between cells (the same `alpha` typed twice).

    ## Example
    ```python
    ridge = Ridge(alpha=0.37)
    gbr = GradientBoostingRegressor(n_estimators=300, learning_rate=0.05, random_state=42)
    ```

    ## What to do instead
    Put the values in one cell tagged `parameters` near the top and pass them by name:
    ```python
    # parameters
    alpha = 0.37
    n_estimators = 300
    ```
    `Ridge(alpha=alpha)`. The suggested fix describes this move; it is not applied automatically.
    """

    code = "NBH201"
    name = "hardcoded-hyperparameter"
    summary = (
        "Literal hyperparameters are passed to estimators, optimisers or fit outside the parameters cell."
    )
    severity = Severity.WARNING
    family = Family.CONFIGURATION

    def check(self, ctx: Context) -> Iterator[Report]:
        analysis = ctx.analysis
        imports = analysis.import_paths
        calls = analysis.calls
        for index, parsed in sorted(analysis.parsed.items()):
            cell = parsed.cell
            if parsed.tree is None or cell.tags & PARAMETER_TAGS:
                continue
            reports: list[tuple[int, int, Report]] = []
            for call in calls.get(index, ()):
                found = _call_literals(call, imports)
                if found is None:
                    continue
                callee, literals = found
                shown = ", ".join(literals)
                plural = "s" if len(literals) > 1 else ""
                report = _at(
                    call,
                    cell,
                    f"Hard-coded hyperparameter{plural} in `{callee}(...)`: {shown}",
                    Fix(f"Move {shown} to the cell tagged 'parameters' and pass the value{plural} by name"),
                )
                reports.append((call.lineno, call.col_offset, report))
            if "<" in cell.source or ">" in cell.source:
                # Thresholds are the one pattern this rule needs beyond calls.
                for node in ast.walk(parsed.tree):
                    if isinstance(node, ast.Compare):
                        threshold = _threshold(node)
                        if threshold is not None:
                            report = _at(
                                node,
                                cell,
                                f"Hard-coded decision threshold {threshold} in `{_short(node)}`",
                                Fix(f"Move the threshold {threshold} to the cell tagged 'parameters'"),
                            )
                            reports.append((node.lineno, node.col_offset, report))
            reports.sort(key=lambda r: (r[0], r[1]))
            for _line, _column, report in reports:
                yield report


def _at(node: ast.expr, cell: Cell, message: str, fix: Fix) -> Report:
    return Report(
        message,
        cell,
        node.lineno,
        node.col_offset + 1,
        node.end_lineno,
        (node.end_col_offset or 0) + 1,
        fix=fix,
    )


def dotted_name(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    return parts


def resolve(node: ast.AST, imports: dict[str, str]) -> tuple[str, bool] | None:
    """The dotted path a callee refers to, and whether its root was imported."""
    parts = dotted_name(node)
    if parts is None:
        return None
    root = imports.get(parts[0])
    if root is None:
        return ".".join(parts), False
    return ".".join([root, *parts[1:]]), True


def numeric_literal(node: ast.AST) -> bool:
    """A number, `-number`, or a tuple/list of those (`hidden_layer_sizes=(100, 50)`)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return numeric_literal(node.operand)
    if isinstance(node, (ast.Tuple, ast.List)):
        return bool(node.elts) and all(numeric_literal(e) for e in node.elts)
    return False


def _is_class_name(name: str) -> bool:
    """`Ridge`, `SVC`, `SGD`; not a constant such as `MAX_ITER`."""
    return name[:1].isupper() and not (name.isupper() and "_" in name)


def _call_kind(call: ast.Call, imports: dict[str, str]) -> tuple[str, str] | None:
    """("estimator" | "optimizer" | "fit", the callee as written) or None."""
    func = call.func
    if isinstance(func, ast.Attribute):
        if func.attr in ("fit", "fit_generator"):
            return "fit", ast.unparse(func)
        if not call.args and not call.keywords:
            return None
        if func.attr[:1].islower() and not _from_optax(func, imports):
            return None  # a method or function call: not an estimator class
    elif (
        not isinstance(func, ast.Name)
        or not (call.args or call.keywords)
        or (func.id[:1].islower() and not imports.get(func.id, "").startswith("optax"))
    ):
        return None
    resolved = resolve(func, imports)
    if resolved is None:
        return None
    path, imported = resolved
    parts = path.split(".")
    last = parts[-1]
    written = ".".join(dotted_name(func) or [last])
    if parts[0] == "optax" or (
        len(parts) > 1 and _OPTIMIZER_MODULES & set(parts[:-1]) and _is_class_name(last)
    ):
        return "optimizer", written
    if not _is_class_name(last) or last in _DATA_CLASSES:
        return None
    if not imported and last in _OPTIMIZER_NAMES:
        return "optimizer", written
    if parts[0] in _ESTIMATOR_LIBRARIES and imported:
        if path.startswith(_NOT_ESTIMATOR_MODULES):
            return None
        return "estimator", written
    if not imported and last.endswith(_ESTIMATOR_SUFFIXES):
        return "estimator", written
    return None


def _from_optax(func: ast.Attribute, imports: dict[str, str]) -> bool:
    node: ast.AST = func
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and imports.get(node.id, node.id).startswith("optax")


def _call_literals(call: ast.Call, imports: dict[str, str]) -> tuple[str, list[str]] | None:
    kind = _call_kind(call, imports)
    if kind is None:
        return None
    what, callee = kind
    literals: list[str] = []
    if what == "fit":
        for keyword in call.keywords:
            if keyword.arg in FIT_HYPERPARAMETERS and numeric_literal(keyword.value):
                literals.append(f"{keyword.arg}={ast.unparse(keyword.value)}")
    else:
        for position, argument in enumerate(call.args, 1):
            if numeric_literal(argument):
                literals.append(f"{ast.unparse(argument)} (argument {position})")
        for keyword in call.keywords:
            if keyword.arg and keyword.arg not in OPERATIONAL_ARGUMENTS and numeric_literal(keyword.value):
                literals.append(f"{keyword.arg}={ast.unparse(keyword.value)}")
    return (callee, literals) if literals else None


def _looks_like_score(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            name = sub.id.lower()
        elif isinstance(sub, ast.Attribute):
            name = sub.attr.lower()
        else:
            continue
        if sub.__class__ is ast.Attribute and name in _SCORE_CALLS:
            return True
        if any(word in name for word in _SCORE_WORDS) or name in _SCORE_CALLS:
            return True
    return False


def _threshold(node: ast.Compare) -> str | None:
    if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Gt, ast.GtE, ast.Lt, ast.LtE)):
        return None
    left, right = node.left, node.comparators[0]
    for constant, other in ((right, left), (left, right)):
        if (
            isinstance(constant, ast.Constant)
            and isinstance(constant.value, float)
            and 0.0 < constant.value < 1.0
            and constant.value != 0.5
            and _looks_like_score(other)
        ):
            return repr(constant.value)
    return None


def _short(node: ast.AST, limit: int = 40) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."
