"""star-import (NBH101): every `from module import *`, and nothing else."""

from __future__ import annotations

import pytest
from hygiene_cells import findings, flagged, notebook


@pytest.mark.parametrize(
    ("source", "fires"),
    [
        ("from math import *", True),
        ("import os\nfrom os.path import *", True),
        ("try:\n    from numpy import *\nexcept ImportError:\n    pass", True),
        ("%%time\nfrom math import *", True),
        ("from . import *", True),
        ("from math import sqrt, pi", False),
        ("import math as m", False),
        ("# from math import *", False),
        ('doc = "from math import *"', False),
        ("%pylab inline", False),
    ],
)
def test_cells(source: str, fires: bool) -> None:
    assert flagged([source], "star-import") == ([0] if fires else [])


def test_each_star_import_is_reported_where_it_is() -> None:
    found = findings(
        notebook(["import os\nif True:\n    from math import *\nfrom cmath import *"]), "star-import"
    )
    assert [(f.line, f.column) for f in found] == [(3, 5), (4, 1)]
    assert found[0].message.startswith("`from math import *`")
