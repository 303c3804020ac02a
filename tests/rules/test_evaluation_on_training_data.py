"""evaluation-on-training-data (NBH303): a model scored only on the data it was fitted on."""

from __future__ import annotations

import pytest
from ml_cells import findings, where

RULE = "evaluation-on-training-data"
LOAD = "X, y = load_breast_cancer(return_X_y=True)"
SPLIT = "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)"

TRIGGERS = {
    "metric of predictions on the training data": (
        [
            LOAD,
            SPLIT,
            "clf = LogisticRegression()\nclf.fit(X_train, y_train)\nprint(accuracy_score(y_train, clf.predict(X_train)))",
        ],
        [(3, 3)],
    ),
    "score on the training data, across cells": (
        [
            LOAD,
            SPLIT,
            "rf = RandomForestClassifier(random_state=0).fit(X_train, y_train)",
            "rf.score(X_train, y_train)",
        ],
        [(4, 1)],
    ),
    "prediction stored, metric later": (
        [
            LOAD,
            SPLIT,
            "m = LogisticRegression().fit(X_train, y_train)\ntrain_pred = m.predict(X_train)",
            "acc = accuracy_score(y_train, train_pred)",
        ],
        [(4, 1)],
    ),
    "no split at all": ([LOAD, "lin = LinearRegression().fit(X, y)\nprint(lin.score(X, y))"], [(2, 2)]),
    "the same selection of rows, written twice": (
        [LOAD, "m = LogisticRegression().fit(X[:400], y[:400])\nprint(m.score(X[:400], y[:400]))"],
        [(2, 2)],
    ),
    "model from another library (fit discovered on use)": (
        [
            LOAD,
            SPLIT,
            "from xgboost import XGBClassifier\nm = XGBClassifier()",
            "m.fit(X_train, y_train)\nm.score(X_train, y_train)",
        ],
        [(4, 2)],
    ),
}

TRAPS = {
    "scored on train and test": [
        LOAD,
        SPLIT,
        "m = LogisticRegression().fit(X_train, y_train)\nprint(m.score(X_train, y_train), m.score(X_test, y_test))",
    ],
    "a held-out prediction exists": [
        LOAD,
        SPLIT,
        "m = LogisticRegression().fit(X_train, y_train)\n"
        "print(accuracy_score(y_train, m.predict(X_train)))\ntest_pred = m.predict(X_test)",
    ],
    "cross-validated": [
        LOAD,
        SPLIT,
        "m = LogisticRegression()\nprint(cross_val_score(m, X_train, y_train))",
        "m.fit(X_train, y_train)\nm.score(X_train, y_train)",
    ],
    "handed to a notebook function": [
        LOAD,
        SPLIT,
        "def report(model, X, y):\n    return accuracy_score(y, model.predict(X))",
        "m = LogisticRegression().fit(X_train, y_train)\nprint(m.score(X_train, y_train))\nreport(m, X_test, y_test)",
    ],
    "kept in a dict of models": [
        LOAD,
        SPLIT,
        "m = LogisticRegression().fit(X_train, y_train)\nprint(m.score(X_train, y_train))\nmodels = {'lr': m}",
    ],
    "clustering judged on its own data": [
        LOAD,
        "km = KMeans(3, random_state=0).fit(X)\nprint(silhouette_score(X, km.labels_), km.score(X))",
    ],
    "final model refit on all rows after a held-out evaluation": [
        LOAD,
        SPLIT,
        "m = LogisticRegression().fit(X_train, y_train)\nprint(m.score(X_test, y_test))",
        "m.fit(X, y)\nprint(m.score(X, y))",
    ],
    "rows sliced apart by hand": [
        LOAD,
        "m = LogisticRegression().fit(X[:400], y[:400])\nprint(m.score(X[400:], y[400:]))",
    ],
    "statsmodels results": [
        "import statsmodels.api as sm",
        LOAD,
        "res = sm.OLS(y, sm.add_constant(X)).fit()\nprint(res.predict(sm.add_constant(X)))",
    ],
    "pipeline step": [
        LOAD,
        SPLIT,
        "pipe = make_pipeline(StandardScaler(), LogisticRegression())\npipe.fit(X_train, y_train)\n"
        "print(pipe.score(X_test, y_test))",
    ],
}


@pytest.mark.parametrize("name", TRIGGERS)
def test_reports(name: str) -> None:
    cells, expected = TRIGGERS[name]
    assert where(cells, RULE) == expected


@pytest.mark.parametrize("name", TRAPS)
def test_stays_quiet(name: str) -> None:
    assert where(TRAPS[name], RULE) == []


def test_message() -> None:
    cells, _ = TRIGGERS["score on the training data, across cells"]
    (finding,) = findings(cells, RULE)
    assert finding.message.startswith(
        "`rf` is evaluated only on `X_train`, the data it was fitted on (cell 4)"
    )
    assert finding.related == ({"cell_index": 3, "cell_position": 4},)
