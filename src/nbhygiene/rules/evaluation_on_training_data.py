from __future__ import annotations

from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.ml_facts import Estimator, Evaluation, MLFacts
from nbhygiene.rule import Context, Report, Rule

# Models judged on their own data by design, or not models at all.
_NOT_JUDGED = frozenset({"transformer", "selector", "resampler", "splitter", "unsupervised", "search"})


class EvaluationOnTrainingData(Rule):
    """A model is scored only on the data it was fitted on.

    ## What it does
    Reports the first evaluation of a supervised model (`fit(X, y)`) that uses the very data the
    model was fitted on — `model.score(X_train, y_train)`, `accuracy_score(y_train,
    model.predict(X_train))` or any other metric of its predictions, `model.evaluate(...)`,
    `Display.from_estimator(model, X_train, y_train)` — when nothing in the notebook evaluates that
    model on other data: no `predict`/`score` on held-out rows, no cross-validation of it, and the model
    is not handed to a function we cannot see into (`report(model, X_test, y_test)`). Clustering and
    density models, which are judged on their own data by design, are not reported.

    ## Why it matters
    A training score says how well the model memorised its data. Flexible models (trees, boosting,
    neural networks) reach ~100% there while doing much worse on new data, so a notebook that only
    prints the training score reports a number nobody should act on.

    ## Example
    ```python
    clf.fit(X_train, y_train)
    print("accuracy:", accuracy_score(y_train, clf.predict(X_train)))
    ```

    ## What to do instead
    Evaluate on the held-out split (`accuracy_score(y_test, clf.predict(X_test))`) or with
    cross-validation (`cross_val_score(clf, X, y)`). Print the training score next to it if you want to
    see over-fitting, not instead of it.
    """

    code = "NBH303"
    name = "evaluation-on-training-data"
    summary = "A model is scored only on the data it was fitted on, never on held-out data."
    severity = Severity.WARNING
    family = Family.ML_PITFALLS

    def check(self, ctx: Context) -> Iterator[Report]:
        ml = ctx.analysis.ml
        if not ml.evaluations:
            return
        notebook = ctx.notebook
        cross_validated = {id(cv.estimator) for cv in ml.cross_validations if cv.estimator is not None}
        by_model: dict[int, list[Evaluation]] = {}
        for evaluation in ml.evaluations:
            by_model.setdefault(id(evaluation.estimator), []).append(evaluation)
        for evaluations in by_model.values():
            model = evaluations[0].estimator
            if model.contained or model.escaped or model.kind in _NOT_JUDGED or id(model) in cross_validated:
                continue
            on_training = [e for e in evaluations if _on_training_data(ml, e)]
            if not on_training or _held_out_anywhere(ml, model, on_training):
                continue
            first = on_training[0]
            assert first.fit is not None
            name = ml.estimator_name(model) or model.cls
            fitted_on = first.fit.argument or ml.name_of(first.fit.features) or "its training data"
            fit_cell = notebook.cells[first.fit.site.cell]
            cell = notebook.cells[first.site.cell]
            yield Report(
                f"`{name}` is evaluated only on `{fitted_on}`, the data it was fitted on (cell {fit_cell.position}): "
                f"`{first.text}` measures memorisation, and the notebook never evaluates it on held-out data",
                cell,
                first.site.line,
                first.site.column,
                first.site.end_line,
                first.site.end_column,
                related=({"cell_index": fit_cell.index, "cell_position": fit_cell.position},),
            )


def _on_training_data(ml: MLFacts, evaluation: Evaluation) -> bool:
    fit = evaluation.fit
    return fit is not None and fit.supervised and ml.same_data(evaluation.data, fit.features)


def _held_out_anywhere(ml: MLFacts, model: Estimator, on_training: list[Evaluation]) -> bool:
    """Any prediction or evaluation of the model on data other than its training data."""
    training = {id(e) for e in on_training}
    for evaluation in ml.evaluations:
        if evaluation.estimator is model and id(evaluation) not in training and evaluation.data:
            return True
    for prediction in ml.predictions:
        if prediction.estimator is not model or not prediction.data:
            continue
        fit = prediction.fit
        if fit is None or not ml.same_data(prediction.data, fit.features):
            return True
    return False
