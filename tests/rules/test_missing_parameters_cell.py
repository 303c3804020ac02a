from __future__ import annotations

from debt_cells import check, notebook

JOB = "model.fit(X, y)"


def test_fix_tags_the_first_constant_cell() -> None:
    nb = notebook("import pandas as pd", "df = pd.read_csv('x.csv')", "alpha = 0.1\nname = 'run'", JOB)
    (finding,) = check("NBH202", nb)
    assert finding.cell_index is None and finding.fix is not None and finding.fix.safe
    assert dict(finding.fix.data) == {"action": "add-tag", "cell_index": 2, "tag": "parameters"}
    assert finding.fix.description == "Tag cell 3 as 'parameters'"


def test_fix_inserts_a_cell_after_the_imports() -> None:
    nb = notebook("%matplotlib inline", "import pandas as pd", "import numpy as np\nnp.random.seed(0)", JOB)
    (finding,) = check("NBH202", nb)
    assert finding.fix is not None
    assert dict(finding.fix.data) == {
        "action": "insert-cell",
        "after_index": 2,
        "source": "# parameters\n",
        "tags": ["parameters"],
    }


def test_fix_inserts_at_the_top_without_imports() -> None:
    nb = notebook(
        {"cell_type": "markdown", "source": "# t"}, "df = pd.read_csv('x.csv')", "import pandas as pd"
    )
    (finding,) = check("NBH202", nb)
    assert finding.fix is not None and dict(finding.fix.data)["after_index"] == 0


def test_only_data_jobs_without_a_tagged_cell() -> None:
    assert check("NBH202", notebook("import os", "print(os.getcwd())")) == []
    assert check("NBH202", notebook("import pandas as pd", "pd.DataFrame({'a': [1]})")) == []
    tagged = notebook("import pandas as pd", {"source": "path = 'x.csv'", "tags": ["parameters"]}, JOB)
    assert check("NBH202", tagged) == []
