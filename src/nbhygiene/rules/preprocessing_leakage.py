from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.ml_facts import Fit, MLFacts, Site
from nbhygiene.model import Notebook
from nbhygiene.rule import Context, Report, Rule

LEAKY_KINDS = frozenset({"transformer", "selector", "resampler"})
_WHAT_LEAKS = {
    "transformer": "statistics of the {rows} leak into training",
    "selector": "the features were chosen by looking at the {rows}",
    "resampler": "resampled (synthetic or duplicated) rows end up in the {rows} too",
    "pipeline": "statistics of the {rows} leak into training",
}


class PreprocessingLeakage(Rule):
    """A transformer, selector or resampler learns from data that is split into train and test later.

    ## What it does
    Follows the data from cell to cell (`X_scaled = scaler.fit_transform(X)` in one cell,
    `train_test_split(X_scaled, y)` three cells later) and reports a `fit`, `fit_transform` or
    `fit_resample` of a preprocessing step — scalers, imputers, PCA/SVD, TF-IDF and count
    vectorizers, target encoders, `ColumnTransformer`, feature selectors (`SelectKBest`, `RFE`, ...) and
    resamplers (`SMOTE`, `RandomOverSampler`, ...) — when

    * what it produced (its `fit_transform`/`fit_resample` result, or a `transform` made with this
      fit) is later split by `train_test_split` or a splitter's `.split`, or cross-validated by
      `cross_val_score`/`cross_validate`/`cross_val_predict`/`GridSearchCV`/`RandomizedSearchCV`
      (fitting on the training split and then cross-validating that split leaks between folds too); or
    * it was fitted on the whole data set (the data that is split, or data derived from it) and is then
      applied, with that fit, to a part of the split (`scaler.fit(X)`, `train_test_split(X, y)`,
      `scaler.transform(X_test)`).

    A fit on `X_train` followed by `transform(X_test)`, the same steps inside a `Pipeline` /
    `make_pipeline` handed to cross-validation or a search, and a fit on data that is never split
    are not reported. Neither are stateless transformers (`Normalizer`, `PolynomialFeatures`) or
    label encoders.

    ## Why it matters
    A scaler fitted on every row knows the test rows' means and variances, a selector fitted on every
    row picked the features that work best *on the test rows*, and oversampling before the split puts
    copies of test rows into the training set. The test score then overstates how the model does on
    data it has never seen, sometimes by a lot.

    ## Example
    ```python
    X_scaled = StandardScaler().fit_transform(X)       # cell 3: learns from every row
    X_train, X_test, y_train, y_test = train_test_split(X_scaled, y)   # cell 5
    ```

    ## What to do instead
    Split first and fit the preprocessing on the training part only, or put every step in a pipeline
    so that cross-validation refits it on each training fold:
    ```python
    model = make_pipeline(StandardScaler(), SelectKBest(k=10), LogisticRegression())
    cross_val_score(model, X, y)
    ```
    """

    code = "NBH301"
    name = "preprocessing-leakage"
    summary = (
        "A transformer, selector or resampler is fitted on data that is split into train and test later."
    )
    severity = Severity.WARNING
    family = Family.ML_PITFALLS

    def check(self, ctx: Context) -> Iterator[Report]:
        ml = ctx.analysis.ml
        if not ml.fits:
            return
        notebook = ctx.notebook
        applied = {id(a.fit) for a in ml.applies if a.fit is not None}
        for fit in ml.fits:
            estimator = fit.estimator
            if not fit.features:
                continue
            kind = estimator.kind
            if kind not in LEAKY_KINDS and not (
                kind == "pipeline" and (fit.method == "fit_transform" or id(fit) in applied)
            ):
                continue
            found = _leak(ml, fit, notebook)
            if found is None:
                continue
            message, where, rows = found
            cell = notebook.cells[fit.site.cell]
            consequence = _WHAT_LEAKS.get(kind, _WHAT_LEAKS["transformer"]).format(rows=rows)
            yield Report(
                f"`{fit.text}` {message}: {consequence}",
                cell,
                fit.site.line,
                fit.site.column,
                fit.site.end_line,
                fit.site.end_column,
                related=(_related(notebook, where),),
            )


def _leak(ml: MLFacts, fit: Fit, notebook: Notebook) -> tuple[str, Site, str] | None:
    """Why the fit leaks, where the data is split, and which rows it saw that it should not have."""
    outputs = ml.outputs_of(fit)
    if outputs:
        # 1. What it produced is split or cross-validated afterwards.
        for split in ml.splits:
            if split.order > fit.order and any(ml.derives_from(data, outputs) for data in split.inputs):
                return (
                    f"learns from every row that `{split.function}` ({_cell(notebook, split.site)}) splits later",
                    split.site,
                    "test rows",
                )
        for cv in ml.cross_validations:
            if cv.order > fit.order and any(ml.derives_from(data, outputs) for data in cv.data):
                return (
                    f"learns from every row that `{cv.function}` ({_cell(notebook, cv.site)}) cross-validates "
                    "later, outside a pipeline",
                    cv.site,
                    "validation folds",
                )
    # 2. Fitted on the data before it was split, then applied to the parts of the split.
    for split in ml.splits:
        if not ml.fitted_on_whole(fit, split):
            continue
        for apply in ml.applies:
            if apply.fit is fit and ml.derives_from(apply.data, split.parts):
                name = apply.argument or "a part of the split"
                return (
                    f"learns from every row that `{split.function}` ({_cell(notebook, split.site)}) splits, and "
                    f"then transforms `{name}` ({_cell(notebook, apply.site)})",
                    apply.site,
                    "test rows",
                )
    return None


def _cell(notebook: Notebook, site: Site) -> str:
    return f"cell {notebook.cells[site.cell].position}"


def _related(notebook: Notebook, site: Site) -> dict[str, int]:
    return {"cell_index": site.cell, "cell_position": notebook.cells[site.cell].position, "line": site.line}
