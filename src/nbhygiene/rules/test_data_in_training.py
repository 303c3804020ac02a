from __future__ import annotations

import re
from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.ml_facts import Evaluation, Fit, MLFacts, Prediction, Value
from nbhygiene.rule import Context, Report, Rule


class TestDataInTraining(Rule):
    """Test data reaches `fit`: the model is trained on the rows it is later tested on.

    ## What it does
    Follows the outputs of `train_test_split` by position (`X_train, X_test, y_train, y_test`: every
    second output is a test side; for a splitter's `.split`, the second index array) and everything
    derived from them, across cells, and reports a `fit`, `fit_transform`, `fit_resample` or
    `partial_fit` when

    * its data comes from the test side of a split: `model.fit(X_test, y_test)`,
      `scaler.fit_transform(X_test)`, `model.fit(np.vstack([X_train, X_test]), ...)`; or
    * the model is fitted on all the rows that were split (`model.fit(X, y)` after
      `train_test_split(X, y)`) and then, with that fit, predicts or is scored on the test side.

    The nearest split decides: the training part of a second split of the held-out rows
    (`X_val, X_test = train_test_split(X_rest)`) is training data. Retraining on all rows for a final
    model is fine as long as that model is not evaluated on the test rows. Data passed only as
    `eval_set`/`validation_data` keywords is not training data here.

    ## Why it matters
    A model that has seen the test rows scores well on them for the wrong reason. The test score no
    longer says anything about new data, and decisions made on it (this model is good enough, ship it)
    are made on a number that cannot be trusted.

    ## Example
    ```python
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    final_model = LogisticRegression().fit(X, y)            # all rows, test rows included
    print(accuracy_score(y_test, final_model.predict(X_test)))
    ```

    ## What to do instead
    Fit only on the training side and keep the test side for the final evaluation. When you retrain on
    all the data for deployment, report the score measured before retraining, not a new score on rows
    the model has now seen.
    """

    __test__ = False  # not a pytest test class, despite its name

    code = "NBH302"
    name = "test-data-in-training"
    summary = (
        "Data from the test side of a split reaches fit, or a model fitted on all rows is tested on them."
    )
    severity = Severity.ERROR
    family = Family.ML_PITFALLS

    def check(self, ctx: Context) -> Iterator[Report]:
        ml = ctx.analysis.ml
        if not ml.fits or not ml.splits:
            return
        notebook = ctx.notebook
        for fit in ml.fits:
            if fit.estimator.kind in ("unsupervised", "splitter"):
                continue  # clustering the test rows trains nothing that is tested on them
            message = _test_rows_in_fit(ml, fit) or _tested_on_training_rows(ml, fit)
            if message is None:
                continue
            text, part = message
            split_cell = notebook.cells[part.site.cell] if part.site else None
            where = f" (cell {split_cell.position})" if split_cell else ""
            cell = notebook.cells[fit.site.cell]
            yield Report(
                text.replace("{where}", where),
                cell,
                fit.site.line,
                fit.site.column,
                fit.site.end_line,
                fit.site.end_column,
                related=(
                    ({"cell_index": split_cell.index, "cell_position": split_cell.position},)
                    if split_cell
                    else ()
                ),
            )


def _test_rows_in_fit(ml: MLFacts, fit: Fit) -> tuple[str, Value] | None:
    for data in fit.data:
        for vid in sorted(data):
            part = ml.test_part((vid,))
            if part is None or part.split is None:
                continue
            if is_validation_name(part.name) and not _evaluated_on(ml, fit, part):
                continue  # retraining on train + validation rows once tuning is done is fine
            name = ml.values[vid].name or part.name or "its data"
            return (
                f"`{fit.text}` trains on `{name}`, which comes from the test side of `{part.split.function}`"
                "{where}: rows held out for testing must never reach fit",
                part,
            )
    return None


_VALIDATION = re.compile(r"(?:^|_)(?:val|valid|validation|dev)(?:_|\d|$)|^[xy]_?val", re.IGNORECASE)


def is_validation_name(name: str | None) -> bool:
    """`X_val`, `y_valid`, `X_dev`, `xval`: a validation set, split off for tuning, not for the final test."""
    return bool(name) and _VALIDATION.search(name or "") is not None


def _evaluated_on(ml: MLFacts, fit: Fit, part: Value) -> bool:
    return any(
        use.estimator is fit.estimator and use.fit is fit and ml.derives_from(use.data, (part.id,))
        for use in _uses(ml)
    )


def _uses(ml: MLFacts) -> list[Prediction | Evaluation]:
    """Predictions and evaluations: what a model was tested on."""
    return [*ml.predictions, *ml.evaluations]


def _tested_on_training_rows(ml: MLFacts, fit: Fit) -> tuple[str, Value] | None:
    if not fit.features:
        return None
    uses = _uses(ml)
    for split in ml.splits:
        if not ml.fitted_on_whole(fit, split):
            continue
        for use in uses:
            if use.estimator is not fit.estimator or use.fit is not fit:
                continue
            part = ml.test_part(use.data)
            if part is None or part.split is not split:
                continue
            fitted = fit.argument or "all rows"
            tested = use.argument or "the test side"
            return (
                f"`{fit.text}` trains on `{fitted}`, every row that `{split.function}`{{where}} splits, and the "
                f"model is then tested on `{tested}`, rows it was trained on",
                part,
            )
    return None
