"""preprocessing-leakage (NBH301): fits of preprocessing steps on data that is split or cross-validated
later, followed across cells; and the shapes that must stay quiet."""

from __future__ import annotations

import pytest
from ml_cells import findings, where

RULE = "preprocessing-leakage"
LOAD = "X, y = load_breast_cancer(return_X_y=True)"

TRIGGERS = {
    "fit_transform then split, across cells": (
        [
            LOAD,
            "X_scaled = StandardScaler().fit_transform(X)",
            "X_train, X_test, y_train, y_test = train_test_split(X_scaled, y, random_state=0)",
        ],
        [(2, 1)],
    ),
    "re-bound name: X = scaler.fit_transform(X)": (
        [
            LOAD,
            "scaler = MinMaxScaler()\nX = scaler.fit_transform(X)",
            "parts = train_test_split(X, y, random_state=0)",
        ],
        [(2, 2)],
    ),
    "selector fit then transform then split": (
        [
            LOAD,
            "selector = SelectKBest(f_classif, k=5).fit(X, y)\nX_sel = selector.transform(X)",
            "X_train, X_test, y_train, y_test = train_test_split(X_sel, y, random_state=0)",
        ],
        [(2, 1)],
    ),
    "two steps chained: both reported": (
        [
            LOAD,
            "X_imp = SimpleImputer().fit_transform(X)",
            "X_pca = PCA(5).fit_transform(X_imp)",
            "X_train, X_test, y_train, y_test = train_test_split(X_pca, y, random_state=0)",
        ],
        [(2, 1), (3, 1)],
    ),
    "SMOTE before the split": (
        [
            LOAD,
            "X_res, y_res = SMOTE(random_state=0).fit_resample(X, y)",
            "X_train, X_test, y_train, y_test = train_test_split(X_res, y_res, random_state=0)",
        ],
        [(2, 1)],
    ),
    "full-data fit then cross_val_score outside a pipeline": (
        [
            LOAD,
            "pca = PCA(5)\npca.fit(X)\nX_p = pca.transform(X)",
            "cross_val_score(LogisticRegression(), X_p, y)",
        ],
        [(2, 2)],
    ),
    "fit on the training split, then GridSearchCV on it": (
        [
            LOAD,
            "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
            "X_train_s = StandardScaler().fit_transform(X_train)",
            "GridSearchCV(LogisticRegression(), {'C': [1, 10]}).fit(X_train_s, y_train)",
        ],
        [(3, 1)],
    ),
    "full-data fit, raw split, transformer applied to the parts": (
        [
            LOAD,
            "scaler = StandardScaler().fit(X)",
            "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
            "X_test_s = scaler.transform(X_test)",
        ],
        [(2, 1)],
    ),
    "column assignment carries the lineage": (
        [
            "df = load_breast_cancer(as_frame=True).frame",
            "df[['mean radius']] = StandardScaler().fit_transform(df[['mean radius']])",
            "train, test = train_test_split(df, random_state=0)",
        ],
        [(2, 1)],
    ),
}

TRAPS = {
    "pipeline in cross_val_score": [
        LOAD,
        "model = make_pipeline(StandardScaler(), SelectKBest(k=5), LogisticRegression())",
        "cross_val_score(model, X, y)",
    ],
    "pipeline in a search": [
        LOAD,
        "pipe = Pipeline([('s', StandardScaler()), ('m', LogisticRegression())])",
        "GridSearchCV(pipe, {'m__C': [1, 10]}).fit(X, y)",
    ],
    "fit on the training part, transform the test part": [
        LOAD,
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
        "scaler = StandardScaler()\nX_train = scaler.fit_transform(X_train)\nX_test = scaler.transform(X_test)",
        "LogisticRegression().fit(X_train, y_train).score(X_test, y_test)",
    ],
    "fit on data that is never split": [
        LOAD,
        "X_2d = PCA(2).fit_transform(X)",
        "KMeans(3, random_state=0).fit(X_2d)",
    ],
    "full-data fit for a plot, raw data split": [
        LOAD,
        "X_2d = PCA(2).fit_transform(X)",
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
    ],
    "full-data fit, raw split, never applied to the parts": [
        LOAD,
        "scaler = StandardScaler().fit(X)",
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
        "X_new_s = scaler.transform(X[:5])",
    ],
    "fold-wise fit inside a K-fold loop": [
        LOAD,
        "for tr, te in KFold(5).split(X):\n"
        "    sc = StandardScaler().fit(X[tr])\n"
        "    m = LogisticRegression().fit(sc.transform(X[tr]), y[tr])\n"
        "    m.score(sc.transform(X[te]), y[te])",
    ],
    "refit on the training split after a full-data fit": [
        LOAD,
        "scaler = StandardScaler().fit(X)",
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
        "scaler.fit(X_train)\nX_test_s = scaler.transform(X_test)",
    ],
    "test rows transformed by a training fit, then split for validation": [
        LOAD,
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
        "scaler = StandardScaler().fit(X_train)\nX_test_s = scaler.transform(X_test)",
        "X_val, X_final, y_val, y_final = train_test_split(X_test_s, y_test, random_state=0)",
    ],
    "label encoding and stateless transforms": [
        "from sklearn.preprocessing import LabelEncoder, PolynomialFeatures",
        LOAD,
        "y = LabelEncoder().fit_transform(y)\nX = PolynomialFeatures(2).fit_transform(X)",
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
    ],
}


@pytest.mark.parametrize("name", TRIGGERS)
def test_reports(name: str) -> None:
    cells, expected = TRIGGERS[name]
    assert where(cells, RULE) == expected


@pytest.mark.parametrize("name", TRAPS)
def test_stays_quiet(name: str) -> None:
    assert where(TRAPS[name], RULE) == []


def test_message_names_the_fit_and_the_split() -> None:
    cells, _ = TRIGGERS["fit_transform then split, across cells"]
    (finding,) = findings(cells, RULE)
    assert finding.message.startswith("`StandardScaler().fit_transform(X)` learns from every row")
    assert "`train_test_split` (cell 4)" in finding.message
    assert finding.related[0]["cell_index"] == 3


def test_cross_validation_message_says_folds() -> None:
    cells, _ = TRIGGERS["full-data fit then cross_val_score outside a pipeline"]
    (finding,) = findings(cells, RULE)
    assert "validation folds" in finding.message
