from __future__ import annotations

import ast
from collections.abc import Iterator

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.dataflow import nested_statements
from nbhygiene.findings import Family, Fix, Severity
from nbhygiene.rule import Context, Report, Rule
from nbhygiene.rules.hardcoded_hyperparameter import PARAMETER_TAGS
from nbhygiene.source import ipython_call

# A notebook is a data or ML job when it imports one of these and fits a model or reads/writes data.
DATA_LIBRARIES = frozenset(
    {
        "pandas",
        "polars",
        "pyspark",
        "sklearn",
        "statsmodels",
        "torch",
        "tensorflow",
        "keras",
        "xgboost",
        "lightgbm",
        "catboost",
        "jax",
        "transformers",
        "imblearn",
    }
)
_JOB_CALLS = frozenset(
    {
        "fit",
        "fit_transform",
        "fit_predict",
        "train",
        "read_csv",
        "read_parquet",
        "read_excel",
        "read_json",
        "read_sql",
        "read_feather",
        "read_pickle",
        "read_table",
        "to_csv",
        "to_parquet",
        "to_excel",
        "to_pickle",
        "to_sql",
    }
)


class MissingParametersCell(Rule):
    """No cell is tagged `parameters`, so papermill cannot run the notebook as a parameterised job.

    ## What it does
    Reports, once per notebook, a data or machine-learning notebook without a code cell tagged
    `parameters` (papermill's `injected-parameters` counts too). A notebook counts as a data/ML job
    when it imports pandas, scikit-learn, statsmodels, PyTorch, TensorFlow/Keras, XGBoost, LightGBM,
    CatBoost, polars, Spark, ... *and* fits a model or reads or writes a data file
    (`fit`, `train`, `read_csv`, `to_parquet`, ...). Notebooks without code, and notebooks that only
    demonstrate a tool, are left alone: a parameters cell is a job's interface, not every notebook's.

    The safe fix tags the first code cell that only assigns literal constants
    (`data: action=add-tag, cell_index, tag`). When there is no such cell it inserts an empty cell
    tagged `parameters` after the import cell(s) at the top
    (`data: action=insert-cell, after_index, source, tags`; `after_index` -1 means before every cell).

    ## Why it matters
    Without a `parameters` cell, `papermill -p alpha 0.5` has nowhere to inject values: every run
    with other settings means editing the notebook by hand, and nobody can see which values are
    inputs. Scheduling, grids and reproducible reruns all start from that cell.

    ## Example
    ```python
    # Cell 2: constants mixed into the code, no cell tagged "parameters"
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    ```

    ## What to do instead
    Gather the values a run may change into one cell right after the imports and tag it `parameters`
    (JupyterLab: Property Inspector -> Cell Tags):
    ```python
    # parameters
    test_size = 0.2
    random_state = 42
    ```
    """

    code = "NBH202"
    name = "missing-parameters-cell"
    summary = "No cell is tagged 'parameters', so papermill cannot run the notebook as a parameterised job."
    severity = Severity.INFO
    family = Family.CONFIGURATION

    def check(self, ctx: Context) -> Iterator[Report]:
        analysis = ctx.analysis
        if any(cell.tags & PARAMETER_TAGS for cell in analysis.code_cells):
            return
        if not looks_like_data_job(analysis):
            return
        yield Report(
            "No cell is tagged 'parameters': papermill cannot inject values, so this notebook cannot run "
            "as a parameterised job",
            fix=parameters_fix(analysis),
        )


def looks_like_data_job(analysis: NotebookAnalysis) -> bool:
    roots = {path.split(".", 1)[0] for path in analysis.import_paths.values()}
    if not roots & DATA_LIBRARIES:
        return False
    for calls in analysis.calls.values():
        for call in calls:
            func = call.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else None
            )
            if name in _JOB_CALLS:
                return True
    return False


def is_constant(node: ast.AST) -> bool:
    """A literal: number, string, bool, None, `-1`, or a tuple/list/set/dict of literals."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return is_constant(node.operand)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(is_constant(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and is_constant(k) for k in node.keys) and all(
            is_constant(v) for v in node.values
        )
    return False


def constant_assignments(tree: ast.Module, modules: frozenset[str] = frozenset()) -> dict[str, bool]:
    """Names the cell assigns at module level (also inside if/for/with/try), each with whether every
    one of those assignments is ``name = <literal>`` (or ``name = module.attribute`` for a name in
    ``modules``: `tfd = tfp.distributions`, `dtype = np.float32`)."""
    result: dict[str, bool] = {}
    for statement in _module_statements(tree.body):
        if isinstance(statement, ast.Assign):
            targets: list[ast.expr] = list(statement.targets)
            value: ast.expr | None = statement.value
        elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
            targets, value = [statement.target], statement.value
        else:
            continue
        constant = (
            value is not None
            and not isinstance(statement, ast.AugAssign)
            and (is_constant(value) or (bool(modules) and _module_attribute(value, modules)))
        )
        for target in targets:
            if isinstance(target, ast.Name):
                result[target.id] = result.get(target.id, True) and constant
            else:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        result[sub.id] = False
    return result


def _module_attribute(node: ast.AST, modules: frozenset[str]) -> bool:
    if not isinstance(node, ast.Attribute):
        return False
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in modules


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at module level: the cell's, and those nested in if/for/while/with/try."""
    return nested_statements(body, into_definitions=False)


def only_assigns_constants(tree: ast.Module | None) -> bool:
    if tree is None or not tree.body:
        return False
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            if not all(isinstance(t, ast.Name) for t in statement.targets) or not is_constant(
                statement.value
            ):
                return False
        elif isinstance(statement, ast.AnnAssign):
            if not isinstance(statement.target, ast.Name) or statement.value is None:
                return False
            if not is_constant(statement.value):
                return False
        elif not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)):
            return False  # a docstring-like string is fine, anything else is code
    return True


def parameters_fix(analysis: NotebookAnalysis) -> Fix:
    code_cells = [c for c in analysis.code_cells if c.index in analysis.parsed]
    for cell in code_cells:
        if only_assigns_constants(analysis.parsed[cell.index].tree):
            return Fix(
                f"Tag cell {cell.position} as 'parameters'",
                safe=True,
                data=(("action", "add-tag"), ("cell_index", cell.index), ("tag", "parameters")),
            )
    after = _after_imports(analysis)
    where = f"after cell {after + 1}" if after >= 0 else "at the top of the notebook"
    return Fix(
        f"Insert an empty cell tagged 'parameters' {where}",
        safe=True,
        data=(
            ("action", "insert-cell"),
            ("after_index", after),
            ("source", "# parameters\n"),
            ("tags", ["parameters"]),
        ),
    )


def _after_imports(analysis: NotebookAnalysis) -> int:
    """Index of the last import cell of the notebook's opening cells; the cell before the first code
    cell (-1 for the very top) when the first code cell imports nothing."""
    cells = [c for c in analysis.code_cells if c.has_source]
    if not cells:
        return -1
    after = cells[0].index - 1
    seen_imports = False
    for cell in cells:
        flow = analysis.flows.get(cell.index)
        tree = analysis.parsed[cell.index].tree
        if not (flow and flow.imports):
            if not seen_imports and tree is not None and all(_is_magic(s) for s in tree.body):
                after = cell.index  # `%matplotlib inline` before the imports
                continue
            break
        seen_imports = True
        after = cell.index
        if tree is None or not all(
            isinstance(s, (ast.Import, ast.ImportFrom)) or _is_magic(s) for s in tree.body
        ):
            break  # imports mixed with setup code: the parameters go right after this cell
    return after if seen_imports else cells[0].index - 1


def _is_magic(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and ipython_call(statement.value) is not None
