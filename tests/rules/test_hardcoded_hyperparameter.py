from __future__ import annotations

from debt_cells import check, notebook


def test_optimisers_and_fit_keywords() -> None:
    nb = notebook(
        "import torch\nfrom torch import optim\nfrom tensorflow import keras",
        "opt = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
        "sgd = optim.SGD(model.parameters(), 0.01, momentum=0.9)\n"
        "k = keras.optimizers.Adam(learning_rate=0.001)\n"
        "sched = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)\n"
        "model.fit(X, y, epochs=10, batch_size=32, verbose=0)",
    )
    messages = [f.message for f in check("NBH201", nb)]
    assert messages == [
        "Hard-coded hyperparameter in `torch.optim.Adam(...)`: lr=0.001",
        "Hard-coded hyperparameters in `optim.SGD(...)`: 0.01 (argument 2), momentum=0.9",
        "Hard-coded hyperparameter in `keras.optimizers.Adam(...)`: learning_rate=0.001",
        "Hard-coded hyperparameters in `optim.lr_scheduler.StepLR(...)`: step_size=30, gamma=0.1",
        "Hard-coded hyperparameters in `model.fit(...)`: epochs=10, batch_size=32",
    ]


def test_star_import_and_boosting_libraries() -> None:
    nb = notebook(
        "from sklearn.ensemble import *\nimport xgboost as xgb\nimport statsmodels.api as sm",
        "a = GradientBoostingClassifier(learning_rate=0.1)\n"
        "b = xgb.XGBRegressor(max_depth=4, n_jobs=4)\n"
        "d = xgb.DMatrix(X, missing=-1)\n"
        "m = sm.tsa.MarkovRegression(y, k_regimes=2)",
    )
    found = check("NBH201", nb)
    assert [f.message.split(":")[1].strip() for f in found] == ["learning_rate=0.1", "max_depth=4"]
    assert all(f.fix is not None and not f.fix.safe for f in found)


def test_not_outside_the_parameters_cell() -> None:
    nb = notebook(
        "from sklearn.svm import SVC",
        {"source": "clf = SVC(C=2.0)", "tags": ["parameters"]},
        "other = SVC(C=clf.C, random_state=0, max_iter=100, kernel='rbf')\nhits = scores >= 0.5",
    )
    assert check("NBH201", nb) == []
