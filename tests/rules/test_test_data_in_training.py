"""test-data-in-training (NBH302): the test side of a split (by position, and everything derived from
it) reaching fit; a model fitted on all rows and then tested on the test side."""

from __future__ import annotations

import pytest
from ml_cells import findings, where

RULE = "test-data-in-training"
LOAD = "X, y = load_breast_cancer(return_X_y=True)"
SPLIT = "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)"

TRIGGERS = {
    "fit on the test side": (
        [LOAD, SPLIT, "model = LogisticRegression()\nmodel.fit(X_test, y_test)"],
        [(3, 2)],
    ),
    "fit on train and test stacked": (
        [
            LOAD,
            SPLIT,
            "m = LogisticRegression().fit(np.vstack([X_train, X_test]), np.concatenate([y_train, y_test]))",
        ],
        [(3, 1)],
    ),
    "fit_transform on the test side": (
        [
            LOAD,
            SPLIT,
            "sc = StandardScaler()\nX_train_s = sc.fit_transform(X_train)\nX_test_s = sc.fit_transform(X_test)",
        ],
        [(3, 3)],
    ),
    "derived from the test side in another cell": (
        [
            LOAD,
            SPLIT,
            "X_holdout = pd.DataFrame(X_test).dropna()",
            "RandomForestClassifier(random_state=0).fit(X_holdout, y_test)",
        ],
        [(4, 1)],
    ),
    "one-frame split, test frame reaches fit": (
        [
            "df = load_iris(as_frame=True).frame",
            "train_df, test_df = train_test_split(df, random_state=0)",
            "LogisticRegression().fit(test_df.drop(columns='target'), test_df['target'])",
        ],
        [(3, 1)],
    ),
    "refit on all rows, then tested on the test side": (
        [
            LOAD,
            SPLIT,
            "final = LogisticRegression().fit(X, y)",
            "print(classification_report(y_test, final.predict(X_test)))",
        ],
        [(3, 1)],
    ),
    "validation rows fitted and then scored": (
        [
            LOAD,
            SPLIT,
            "X_tr, X_val, y_tr, y_val = train_test_split(X_train, y_train, random_state=0)",
            "m = LogisticRegression().fit(X_val, y_val)\nm.score(X_val, y_val)",
        ],
        [(4, 1)],
    ),
}

TRAPS = {
    "fit on train, evaluate on test": [
        LOAD,
        SPLIT,
        "m = LogisticRegression().fit(X_train, y_train)\nm.score(X_test, y_test)",
    ],
    "final model on all rows, not tested on the test side": [
        LOAD,
        SPLIT,
        "m = LogisticRegression().fit(X_train, y_train)\nprint(m.score(X_test, y_test))",
        "final = LogisticRegression().fit(X, y)\nfinal.predict(X[:3])",
    ],
    "refit on the training side after a full fit": [
        LOAD,
        "m = LogisticRegression().fit(X, y)",
        SPLIT,
        "m.fit(X_train, y_train)\nm.score(X_test, y_test)",
    ],
    "train + validation refit after tuning": [
        LOAD,
        SPLIT,
        "X_tr, X_val, y_tr, y_val = train_test_split(X_train, y_train, random_state=0)",
        "m = LogisticRegression().fit(X_tr, y_tr)\nm.score(X_val, y_val)",
        "final = LogisticRegression().fit(np.vstack([X_tr, X_val]), np.concatenate([y_tr, y_val]))\n"
        "final.score(X_test, y_test)",
    ],
    "validation split of the held-out rows: its training side": [
        LOAD,
        "X_train, X_rest, y_train, y_rest = train_test_split(X, y, random_state=0)",
        "X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, random_state=0)",
        "m = LogisticRegression().fit(X_val, y_val)",
    ],
    "K-fold loop": [
        LOAD,
        "for tr, te in StratifiedKFold(5).split(X, y):\n"
        "    m = LogisticRegression().fit(X[tr], y[tr])\n"
        "    print(m.score(X[te], y[te]))",
    ],
    "test side only as eval_set keyword": [
        LOAD,
        SPLIT,
        "from xgboost import XGBClassifier\n"
        "m = XGBClassifier().fit(X_train, y_train, eval_set=[(X_test, y_test)])\nm.score(X_test, y_test)",
    ],
    "transform, not fit, on the test side": [
        LOAD,
        SPLIT,
        "sc = StandardScaler().fit(X_train)\nX_test_s = sc.transform(X_test)",
    ],
}


@pytest.mark.parametrize("name", TRIGGERS)
def test_reports(name: str) -> None:
    cells, expected = TRIGGERS[name]
    assert where(cells, RULE) == expected


@pytest.mark.parametrize("name", TRAPS)
def test_stays_quiet(name: str) -> None:
    assert where(TRAPS[name], RULE) == []


def test_messages() -> None:
    cells, _ = TRIGGERS["fit on the test side"]
    (finding,) = findings(cells, RULE)
    assert "`model.fit(X_test, y_test)` trains on `X_test`" in finding.message
    assert "test side of `train_test_split` (cell 3)" in finding.message
    cells, _ = TRIGGERS["refit on all rows, then tested on the test side"]
    (finding,) = findings(cells, RULE)
    assert "trains on `X`, every row that `train_test_split` (cell 3) splits" in finding.message
    assert "tested on `X_test`" in finding.message
