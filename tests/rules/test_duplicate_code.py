from __future__ import annotations

import time

from debt_cells import check, notebook

BLOCK = """\
{m}.fit(X_train, y_train)
{m}_pred = {m}.predict(X_test)
{m}_rmse = np.sqrt(mean_squared_error(y_test, {m}_pred))
{m}_mae = mean_absolute_error(y_test, {m}_pred)
{m}_r2 = r2_score(y_test, {m}_pred)
print({m}_rmse, {m}_mae, {m}_r2)
"""
IMPORTS = "import numpy as np\nfrom sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score"


def test_later_copies_name_the_first() -> None:
    nb = notebook(IMPORTS, BLOCK.format(m="ridge"), "x = 1", BLOCK.format(m="gbr"), BLOCK.format(m="svr"))
    found = check("NBH110", nb)
    assert [f.cell_id for f in found] == ["c3", "c4"]
    assert all("cell 2" in f.message for f in found)
    assert found[0].line == 1 and found[0].related[0]["cell_index"] == 1


def test_different_imported_functions_are_different_logic() -> None:
    other = BLOCK.format(m="gbr").replace("mean_absolute_error", "r2_score")
    assert check("NBH110", notebook(IMPORTS, BLOCK.format(m="ridge"), other)) == []


def test_min_statements_option() -> None:
    short = "a = f(x)\nb = g(a)\nprint(a, b)"
    nb = notebook(short, short.replace("a", "c"))
    assert check("NBH110", nb) == []
    assert [f.cell_id for f in check("NBH110", nb, **{"min-statements": 3})] == ["c1"]


def test_function_body_pasted_at_top_level() -> None:
    helper = "def evaluate(m):\n" + "".join("    " + line + "\n" for line in BLOCK.format(m="m").splitlines())
    nb = notebook(IMPORTS, helper, BLOCK.format(m="lasso"))
    assert [f.cell_id for f in check("NBH110", nb)] == ["c2"]


def test_linear_on_hundreds_of_cells() -> None:
    cells = [IMPORTS] + [BLOCK.format(m=f"m{i}").replace("print", f"f{i}") for i in range(600)]
    start = time.perf_counter()
    found = check("NBH110", notebook(*cells))
    elapsed = time.perf_counter() - start
    assert len(found) == 599
    assert elapsed < 5, f"{elapsed:.1f}s for 600 cells"
