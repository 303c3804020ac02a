from __future__ import annotations

from debt_cells import check, notebook


def test_data_globals_only() -> None:
    nb = notebook(
        "import numpy as np\nimport tensorflow_probability as tfp",
        "X = load()\nMAX_LEN = 10\nrate = 0.1\ntfd = tfp.distributions\nlabels = ['a', 'b']",
        "def f(n):\n    return np.mean(X[:MAX_LEN]) * rate + n + len(labels) + tfd.Normal(0, 1).mean()",
        "print(f(1))",
    )
    (finding,) = check("NBH112", nb)
    assert finding.message == (
        "The function `f` reads the notebook global `X` instead of taking it as a parameter"
    )
    assert (finding.cell_id, finding.line) == ("c2", 2)
