"""Property: whatever a .ipynb holds, checking it never raises and always returns a FileResult.

Notebooks are generated from a small grammar: random cell types, sources mixing Python-ish lines,
IPython magics, garbage and unicode, execution counts that are None, negative, huge, strings or floats,
random outputs and random metadata (tags that suppress rules, kernels of other languages, Python 2).
The same data goes through ``check_data`` (in memory) and ``check_file`` (written to disk), and the
results through every renderer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbhygiene.config import Config
from nbhygiene.engine import check_data, check_file
from nbhygiene.findings import FileResult, Finding
from nbhygiene.formats import render_github, render_json, render_sarif, render_text

PYTHON_LINES = [
    "x = 1",
    "x = x + 1",
    "x += 1",
    "y = undefined_name * 2",
    "def f(a, b=c):",
    "    return a + later",
    "    global g",
    "    nonlocal n",
    "    yield a",
    "class C(Base):",
    "    attr = 1",
    "import os, sys",
    "import numpy as np",
    "from math import *",
    "from . import rel",
    "del x",
    "lst.append(x)",
    "df.drop(columns=['a'], inplace=True)",
    "df.dropna(inplace=True)",
    "df.loc[df.a > 0, 'b'] = 1",
    "model.fit(X, y)",
    "f = lambda q: q + z",
    "[i for i in range(3) if i]",
    "{k: v for k, v in d.items()}",
    "(w := 3)",
    "try:",
    "except ValueError as e:",
    "finally:",
    "with open(p) as fh:",
    "match x:",
    "    case [a, *rest]:",
    "    case {'k': v, **kw}:",
    "for i in items:",
    "while True:",
    "    break",
    "if x:",
    "else:",
    "pass",
    "await thing()",
    "async def co():",
    "return",
    "print(x, y, sep='')",
    "exec('a = 1')",
    "globals()['b'] = 2",
    "f'{x!r:>{width}}'",
    "@decorator",
    "X = np.log(X)",
    "X = X[1:]",
    "res = res.append(obs)",
]
MAGIC_LINES = [
    "%matplotlib inline",
    "%time x = f()",
    "%timeit -n 1 g(y)",
    "%%time",
    "%%timeit",
    "%%capture out",
    "%%bash",
    "%%html",
    "%%writefile f.py",
    "%%sql rows <<",
    "%%R -o a,b",
    "%%cython",
    "!pip install foo",
    "files = !ls {path}",
    "x = %sx ls",
    "%store -r x",
    "%store -r",
    "%sql res << SELECT 1",
    "%run other.ipynb",
    "%pylab inline",
    "obj?",
    "?obj",
    "obj.method??",
    "%load_ext autoreload",
    "In [1]: x = 1",
    ">>> y = 2",
    "... z = 3",
    "% bare percent",
    "%%",
    "!",
]
GARBAGE_LINES = [
    "(((",
    ")))",
    '"""',
    "'unterminated",
    "\\",
    'print "python 2"',
    "exec 'code'",
    "except Exception, e:",
    "\t\tx = 1",
    "    indented",
    "x = 1; %time y = 2",
    "é = 'ünïcödé'",
    "变量 = 1",
    "🙂 = 1",
    "x = '🙂'",
    "\x00",
    "\ud800",
    "\u200b",
    "\r",
    "=",
    "def",
    "lambda",
    "0" * 50,
    "[" * 120,
    "# nbhygiene: ignore",
    "x = 1  # nbhygiene: ignore[undefined-name, NBH0]",
]
# Whole cells that parse, so that cross-cell facts (definitions, calls, deletions, history) meet.
VALID_CELLS = [
    "import numpy as np\nx = np.arange(3)",
    "x = 1",
    "x = x + 1",
    "del x",
    "print(x, y)",
    "def f(a):\n    return a + x",
    "def g():\n    global y\n    y = f(1)",
    "g()",
    "f(2)",
    "lst = []",
    "lst.append(x)",
    "from math import *",
    "%%capture out\nprint(x)",
    "%store -r y",
    "%run other.py",
    "class C:\n    def m(self):\n        return later\nC().m()",
    "later = 3",
    "%%bash\necho hi",
    "print 'py2'",
    "y = (",
]
line = st.one_of(
    st.sampled_from(PYTHON_LINES),
    st.sampled_from(MAGIC_LINES),
    st.sampled_from(GARBAGE_LINES),
    st.text(max_size=30),
)
source_text = st.lists(line, max_size=8).map("\n".join)
source = st.one_of(
    source_text,
    source_text.map(lambda s: s.splitlines(keepends=True)),
    st.just(""),
    st.none(),
    st.integers(),
    st.lists(st.one_of(st.text(max_size=10), st.integers()), max_size=3),
)
execution_count = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=40),
    st.integers(),
    st.text(max_size=4),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
text_value = st.one_of(
    st.text(max_size=20), st.lists(st.text(max_size=10), max_size=3), st.integers(), st.none()
)
output = st.one_of(
    st.fixed_dictionaries(
        {
            "output_type": st.just("stream"),
            "name": st.sampled_from(["stdout", "stderr", 3]),
            "text": text_value,
        }
    ),
    st.fixed_dictionaries(
        {
            "output_type": st.sampled_from(["execute_result", "display_data"]),
            "data": st.one_of(
                st.dictionaries(st.sampled_from(["text/plain", "image/png", "text/html"]), text_value),
                st.none(),
            ),
            "metadata": st.just({}),
            "execution_count": execution_count,
        }
    ),
    st.fixed_dictionaries(
        {
            "output_type": st.just("error"),
            "ename": st.sampled_from(["NameError", "ValueError", "", 1]),
            "evalue": text_value,
            "traceback": st.lists(st.text(max_size=10), max_size=2),
        }
    ),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.integers(),
    st.none(),
)
tags = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "nbhygiene-ignore",
                    "nbhygiene-ignore:undefined-name",
                    "nbhygiene-ignore:NBH0,stale",
                    "parameters",
                ]
            ),
            st.text(max_size=8),
            st.integers(),
            st.none(),
        ),
        max_size=3,
    ),
    st.text(max_size=5),
    st.none(),
)
cell_metadata = st.one_of(
    st.fixed_dictionaries({}, optional={"tags": tags, "collapsed": st.booleans()}), st.none(), st.integers()
)
cell = st.fixed_dictionaries(
    {},
    optional={
        "cell_type": st.one_of(
            st.sampled_from(["code", "code", "code", "markdown", "raw"]), st.text(max_size=5), st.none()
        ),
        "id": st.one_of(st.text(max_size=10), st.none(), st.integers()),
        "source": source,
        "execution_count": execution_count,
        "outputs": st.one_of(
            st.lists(output, max_size=3), st.none(), st.dictionaries(st.text(max_size=3), st.integers())
        ),
        "metadata": cell_metadata,
    },
)
# Mostly well-formed code cells, so that the analysis itself (not only the schema checks) gets exercised.
code_cell = st.fixed_dictionaries(
    {
        "cell_type": st.just("code"),
        "source": st.one_of(
            st.sampled_from(VALID_CELLS), source_text, source_text.map(lambda s: s.splitlines(keepends=True))
        ),
        "execution_count": st.one_of(st.none(), st.integers(min_value=1, max_value=30)),
        "outputs": st.lists(output, max_size=2),
        "metadata": st.one_of(st.just({}), st.fixed_dictionaries({"tags": tags})),
    },
    optional={"id": st.text(alphabet="abcdefgh-_0123", min_size=1, max_size=8)},
)
kernelspec = st.one_of(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["python3", "python2", "ir", "julia-1.9", "", 7]),
            "language": st.one_of(
                st.sampled_from(["python", "Python", "R", "julia", "python2", ""]), st.integers()
            ),
        }
    ),
    st.none(),
    st.text(max_size=5),
)
language_info = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["python", "R", "julia", "ipython"]),
            "version": st.one_of(
                st.sampled_from(["3.11.7", "2.7.18", "2", "4.3.1", ""]), st.integers(), st.none()
            ),
            "codemirror_mode": st.one_of(
                st.fixed_dictionaries({"version": st.sampled_from([2, 3, "3"])}), st.text(max_size=3)
            ),
        },
    ),
    st.none(),
)
nb_metadata = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "kernelspec": kernelspec,
            "language_info": language_info,
            "nbhygiene": st.one_of(
                st.fixed_dictionaries(
                    {
                        "ignore": st.one_of(
                            st.booleans(),
                            st.text(max_size=12),
                            st.lists(st.text(max_size=12), max_size=2),
                            st.integers(),
                        )
                    }
                ),
                st.integers(),
            ),
        },
    ),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def notebooks(draw: st.DrawFn) -> Any:
    cells = draw(
        st.lists(st.one_of(code_cell, code_cell, code_cell, cell, st.integers(), st.none()), max_size=8)
    )
    metadata = draw(
        st.one_of(st.just({"kernelspec": {"name": "python3", "language": "python"}}), nb_metadata)
    )
    shape = draw(st.sampled_from(["v4", "v4", "v4", "v3", "v2", "odd"]))
    if shape == "v3" or shape == "v2":
        # Old layout: cells inside worksheets, code in `input`, counts in `prompt_number`.
        old_cells = []
        for c in cells:
            if isinstance(c, dict) and c.get("cell_type") == "code":
                c = {**c, "input": c.get("source"), "prompt_number": c.get("execution_count")}
            old_cells.append(c)
        worksheets = draw(st.one_of(st.just([{"cells": old_cells}]), st.just(old_cells), st.none()))
        return {"nbformat": 3 if shape == "v3" else 2, "metadata": metadata, "worksheets": worksheets}
    if shape == "odd":
        return draw(
            st.one_of(
                st.just(
                    {
                        "nbformat": draw(st.one_of(st.integers(), st.text(max_size=3), st.none())),
                        "cells": cells,
                    }
                ),
                st.just({"cells": draw(st.one_of(st.none(), st.integers(), st.text(max_size=3)))}),
                st.just({"metadata": metadata}),
                st.lists(st.integers(), max_size=2),
                st.integers(),
                st.none(),
                st.text(max_size=5),
            )
        )
    return {"nbformat": 4, "nbformat_minor": draw(st.integers(0, 5)), "metadata": metadata, "cells": cells}


def assert_well_formed(result: Any, cells: int | None) -> None:
    assert isinstance(result, FileResult)
    if result.error is not None:
        assert not result.findings
        assert result.error.kind and result.error.message
        return
    for finding in result.findings:
        assert isinstance(finding, Finding)
        if finding.cell_index is None:
            assert finding.cell_position is None and finding.line is None
        else:
            assert finding.cell_position == finding.cell_index + 1
            if cells is not None:
                assert 0 <= finding.cell_index < cells
            assert finding.line is None or finding.line >= 1
            assert finding.column is None or finding.column >= 1


def _cell_count(data: Any) -> int | None:
    if isinstance(data, dict) and isinstance(data.get("cells"), list):
        return len(data["cells"])
    return None  # old formats: cells are counted after the upgrade


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=notebooks())
def test_check_never_raises(data: Any, tmp_path: Path) -> None:
    config = Config()
    in_memory = check_data(data, "generated.ipynb", config)
    assert_well_formed(in_memory, _cell_count(data))

    path = tmp_path / "generated.ipynb"
    path.write_text(json.dumps(data, ensure_ascii=True), encoding="utf-8")
    on_disk = check_file(str(path), config)
    assert_well_formed(on_disk, _cell_count(data))
    # The same notebook gives the same findings from memory and from disk.
    assert [f.to_json() for f in on_disk.findings] == [f.to_json() for f in in_memory.findings]
    assert (on_disk.error is None) == (in_memory.error is None)

    for render in (render_json, render_text, render_github):
        assert isinstance(render([on_disk]), str)
    sarif = json.loads(render_sarif([on_disk], str(tmp_path)))
    assert sarif["version"] == "2.1.0"


@settings(max_examples=60, deadline=None, database=None)
@given(
    raw=st.one_of(
        st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
    )
)
def test_arbitrary_bytes_never_raise(raw: bytes, tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("raw") / "bytes.ipynb"
    path.write_bytes(raw)
    result = check_file(str(path), Config())
    assert isinstance(result, FileResult)
    if result.error is not None:
        assert str(path) in result.error.message
