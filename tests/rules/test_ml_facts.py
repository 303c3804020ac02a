"""The notebook-level value flow behind the ML-pitfall rules (nbhygiene.ml_facts): lineage across cells,
split sides by position, estimators and their events."""

from __future__ import annotations

from ml_cells import IMPORTS, notebook

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.loading import loaded_from_data
from nbhygiene.ml_facts import MLFacts
from nbhygiene.model import build_model


def facts(cells: list[str], imports: str | None = IMPORTS) -> MLFacts:
    analysis = NotebookAnalysis.build(build_model(loaded_from_data(notebook(cells, imports), "t.ipynb")))
    assert analysis.ml is analysis.ml  # built once per notebook
    return analysis.ml


def named(ml: MLFacts, name: str) -> int:
    """The id of the last value bound to ``name``."""
    return max(v.id for v in ml.values if v.name == name and v.kind == "data")


def test_lineage_crosses_cells_and_rebindings() -> None:
    ml = facts(
        [
            "df = load_iris(as_frame=True).frame",
            "X = df.drop(columns='target')\nX = X.values",
            "a, b = X[:, 0], X[:, 1]\nc = np.hstack([a, b])",
        ]
    )
    df, x, c = named(ml, "df"), named(ml, "X"), named(ml, "c")
    assert ml.derives_from([c], [x]) and ml.derives_from([c], [df])
    assert not ml.derives_from([df], [c])
    first_x = min(v.id for v in ml.values if v.name == "X")
    assert ml.derives_from([x], [first_x])


def test_split_sides_follow_positions() -> None:
    ml = facts(
        [
            "X, y = load_iris(return_X_y=True)",
            "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)",
            "both = np.vstack([X_train, X_test])",
        ]
    )
    (split,) = ml.splits
    sides = {ml.values[p].name: ml.values[p].side for p in split.parts}
    assert sides == {"X_train": "train", "X_test": "test", "y_train": "train", "y_test": "test"}
    assert ml.test_part([named(ml, "X_train")]) is None
    part = ml.test_part([named(ml, "both")])
    assert part is not None and part.name == "X_test"


def test_estimator_events() -> None:
    ml = facts(
        [
            "X, y = load_iris(return_X_y=True)",
            "scaler = StandardScaler()\nXs = scaler.fit_transform(X)\nXt = scaler.transform(X[:5])",
            "pipe = make_pipeline(StandardScaler(), LogisticRegression())\ncross_val_score(pipe, X, y)",
            "m = LogisticRegression().fit(Xs, y)\nprint(accuracy_score(y, m.predict(Xs)))",
        ]
    )
    assert [(f.estimator.cls, f.method) for f in ml.fits] == [
        ("StandardScaler", "fit_transform"),
        ("LogisticRegression", "fit"),
    ]
    assert [a.argument for a in ml.applies] == ["X[:5]"]
    (cv,) = ml.cross_validations
    assert cv.estimator is not None and cv.estimator.kind == "pipeline"
    assert all(e.contained for e in cv.estimator.inner)
    (evaluation,) = ml.evaluations
    assert evaluation.how == "metric" and evaluation.argument == "Xs"
    assert ml.same_data(evaluation.data, ml.fits[1].features)


def test_randomness_and_seeds_in_order() -> None:
    ml = facts(["a = np.random.rand(2)", "np.random.seed(0)", "b = np.random.rand(2)\nrandom.random()"])
    assert [(r.text, r.family) for r in ml.random_calls] == [
        ("np.random.rand", "numpy"),
        ("np.random.rand", "numpy"),
        ("random.random", "python"),
    ]
    (seed,) = ml.seeds
    assert ml.random_calls[0].order < seed.order < ml.random_calls[1].order


def test_no_ml_code_means_no_pass() -> None:
    ml = facts(["import math", "x = math.pi\nprint(x)"], imports=None)
    assert ml.values == [] and ml.fits == []
