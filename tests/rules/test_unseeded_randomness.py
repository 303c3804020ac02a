"""unseeded-randomness (NBH304): random calls with no seed upstream, and the safe add-keyword fix."""

from __future__ import annotations

import pytest
from ml_cells import findings, where

RULE = "unseeded-randomness"

TRIGGERS = {
    "train_test_split without random_state": (
        ["X, y = load_iris(return_X_y=True)", "parts = train_test_split(X, y)"],
        [(2, 1)],
    ),
    "random forest": (["rf = RandomForestClassifier(n_estimators=10)"], [(1, 1)]),
    "KFold with shuffle": (["cv = KFold(5, shuffle=True)"], [(1, 1)]),
    "numpy global draws": (["a = np.random.rand(3)\nb = np.random.normal(size=3)"], [(1, 1), (1, 2)]),
    "python random": (["random.shuffle(list(range(3)))"], [(1, 1)]),
    "unseeded generator, even after a global seed": (
        ["np.random.seed(0)", "rng = np.random.default_rng()"],
        [(2, 1)],
    ),
    "seed after the draw does not count": (["a = np.random.rand(3)", "np.random.seed(0)"], [(1, 1)]),
    "python seed does not seed numpy": (["random.seed(0)", "a = np.random.rand(3)"], [(2, 1)]),
    "logistic regression with a random solver": (["LogisticRegression(solver='saga')"], [(1, 1)]),
    "torch draw": (["import torch", "t = torch.randn(3)"], [(2, 1)]),
    "aliased imports": (
        ["from numpy.random import randn\nimport random as rnd", "randn(3)\nrnd.randint(0, 5)"],
        [(2, 1), (2, 2)],
    ),
    "each call once, also inside a function": (
        ["def noise(n):\n    return np.random.normal(size=n)", "noise(3)\nnoise(4)"],
        [(1, 2)],
    ),
}

TRAPS = {
    "seeded by keyword": [
        "X, y = load_iris(return_X_y=True)",
        "train_test_split(X, y, random_state=0)\nRandomForestClassifier(random_state=1)",
    ],
    "numpy seed covers numpy and scikit-learn": [
        "np.random.seed(42)",
        "a = np.random.rand(3)\nRandomForestClassifier()\nKFold(5, shuffle=True)",
    ],
    "deterministic defaults": [
        "LogisticRegression()\nLinearRegression()\nKFold(5)\nStratifiedKFold(5)",
        "X, y = load_iris(return_X_y=True)\ntrain_test_split(X, y, shuffle=False)",
    ],
    "seeded generator": [
        "rng = np.random.default_rng(0)\nrng.normal(size=3)\nrs = np.random.RandomState(1)\nrs.rand()"
    ],
    "random seeded": ["random.seed(1)", "random.choice([1, 2])"],
    "explicit random_state=None is a choice": ["RandomForestClassifier(random_state=None)"],
    "keyword arguments may hold the seed": ["params = {'random_state': 0}\nRandomForestClassifier(**params)"],
    "a seeding helper": [
        "def seed_everything(seed):\n    random.seed(seed)\n    np.random.seed(seed)",
        "seed_everything(0)",
        "random.random()\nnp.random.rand()\nRandomForestClassifier()",
    ],
    "a variable called random": ["random = [3, 1]\nrandom.sort()"],
    "torch seeded": ["import torch\ntorch.manual_seed(0)", "torch.rand(2)"],
}


@pytest.mark.parametrize("name", TRIGGERS)
def test_reports(name: str) -> None:
    cells, expected = TRIGGERS[name]
    assert where(cells, RULE) == expected


@pytest.mark.parametrize("name", TRAPS)
def test_stays_quiet(name: str) -> None:
    assert where(TRAPS[name], RULE) == []


def test_safe_fix_for_scikit_learn_calls() -> None:
    (finding,) = findings(
        ["X, y = load_iris(return_X_y=True)", "parts = train_test_split(\n    X, y, test_size=0.2\n)"], RULE
    )
    assert finding.fix is not None and finding.fix.safe
    assert dict(finding.fix.data) == {
        "action": "add-keyword",
        "cell_index": 2,
        "line": 1,
        "column": 9,
        "keyword": "random_state",
        "value": "0",
    }


def test_no_fix_for_global_draws() -> None:
    (finding,) = findings(["a = np.random.rand(3)"], RULE)
    assert finding.fix is None


def test_no_fix_where_the_cell_text_differs() -> None:
    # `%time` rewrites the line: the call's position in the parsed code is not its place in the cell.
    (finding,) = findings(["%time rf = RandomForestClassifier()"], RULE)
    assert finding.fix is None


def test_message_names_the_call() -> None:
    (finding,) = findings(["a = np.random.randint(0, 2, size=3)"], RULE)
    assert finding.message.startswith("`np.random.randint(...)` draws from NumPy's global generator")
