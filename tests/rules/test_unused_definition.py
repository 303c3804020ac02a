from __future__ import annotations

from debt_cells import check, notebook


def test_reported_once_per_cell_listing_names() -> None:
    nb = notebook("a = f()\nb = g(a)\nc = h(a)", "def unused():\n    return 1", "print(b)", executed=True)
    found = check("NBH111", nb)
    assert [(f.cell_id, f.message.split(" ")[0]) for f in found] == [("c0", "`c`"), ("c1", "`unused`")]


def test_cells_that_show_something() -> None:
    printed = {
        "source": "a = f()\nb = g(a)",
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}],
    }
    assert check("NBH111", notebook(printed, executed=True)) == []
    # never executed: judged from the code (a trailing expression, print, a plot)
    assert check("NBH111", notebook("a = f()\na", "b = g()\nplt.plot(b)", "fig = res.plot_predict()")) == []


def test_opaque_notebooks_are_skipped() -> None:
    assert check("NBH111", notebook("a = f()", "%run other.py")) == []
    assert check("NBH111", notebook("a = f()", "print(eval('a'))")) == []
