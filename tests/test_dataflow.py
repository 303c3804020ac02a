"""Table-driven tests of the per-cell data flow: ``cell_flow(parse_cell(Cell(...)))``.

Each case lists only the facts it is about; builtins are left out of ``reads`` so that the tables say
what a cell needs from *other cells*. The last part checks the notebook-level reading built on these
facts (``NotebookAnalysis.run_all``) where a cell-level table cannot show it.
"""

from __future__ import annotations

from typing import Any

import pytest

from nbhygiene.analysis import NotebookAnalysis
from nbhygiene.dataflow import CellFlow, cell_flow, is_builtin
from nbhygiene.loading import loaded_from_data
from nbhygiene.model import Cell, build_model
from nbhygiene.source import ParsedCell, parse_cell


def flow_of(source: str) -> tuple[ParsedCell, CellFlow]:
    parsed = parse_cell(Cell(index=0, cell_type="code", source=source))
    return parsed, cell_flow(parsed)


def facts(parsed: ParsedCell, flow: CellFlow) -> dict[str, Any]:
    """Everything a case may assert, as plain sets and strings."""
    return {
        "kind": parsed.kind,
        "defines": set(flow.defines),
        "reads": {r.name for r in flow.reads if not is_builtin(r.name)},
        "soft_reads": {r.name for r in flow.soft_reads},
        "loads": {n for n in flow.loads if not is_builtin(n)},
        "deletes": set(flow.deletes),
        "mutations": set(flow.mutations),
        "may_mutate": set(flow.may_mutate),
        "non_idempotent": {ref.name for ref, _why in flow.non_idempotent},
        "opaque": bool(flow.opaque),
        "star_imports": [module for module, _line in flow.star_imports],
        "functions": {
            name: {n for n in f.global_reads if not is_builtin(n)} for name, f in flow.functions.items()
        },
        "writes": {name: set(f.global_writes) for name, f in flow.functions.items() if f.global_writes},
        "function_mutations": {
            name: set(f.global_mutations) for name, f in flow.functions.items() if f.global_mutations
        },
        "magics": [(m.kind, m.name) for m in flow.magics],
        "kinds": {name: set(kinds) for name, kinds in flow.binding_kinds.items()},
        "invoked": {r.name for r in flow.invoked if not is_builtin(r.name)},
    }


def check_case(source: str, expected: dict[str, Any]) -> None:
    parsed, flow = flow_of(source)
    got = facts(parsed, flow)
    for key, value in expected.items():
        assert got[key] == value, f"{key}: expected {value!r}, got {got[key]!r}\n--- source ---\n{source}"


# -- scoping ------------------------------------------------------------------------------------------
SCOPING: list[tuple[str, str, dict[str, Any]]] = [
    ("assignment", "x = 1", {"defines": {"x"}, "reads": set(), "kinds": {"x": {"assign"}}}),
    ("read-before-bound-in-cell", "print(a)\na = 1", {"reads": {"a"}, "defines": {"a"}}),
    ("bound-before-read", "a = 1\nprint(a)", {"reads": set(), "loads": {"a"}}),
    ("conditional-binding-counts", "if c:\n    z = 1\nprint(z)", {"reads": {"c"}, "defines": {"z"}}),
    (
        "function-late-binding",
        "def f():\n    return y",
        {"defines": {"f"}, "reads": set(), "functions": {"f": {"y"}}, "kinds": {"f": {"def"}}},
    ),
    (
        "function-params-and-locals",
        "def f(a, b=1, *args, k=2, **kw):\n    c = a + b\n    return c, args, k, kw",
        {"functions": {"f": set()}, "reads": set()},
    ),
    ("default-args-read-now", "def f(a=D, *, k=K):\n    return a", {"reads": {"D", "K"}}),
    ("decorator-read-now", "@deco(arg)\ndef f():\n    pass", {"reads": {"deco", "arg"}, "defines": {"f"}}),
    ("annotations-read-now", "def f(x: T) -> R:\n    pass", {"reads": {"T", "R"}}),
    ("function-local-shadows-global", "def f():\n    y = 1\n    return y", {"functions": {"f": set()}}),
    ("local-assigned-after-read-is-local", "def f():\n    print(v)\n    v = 1", {"functions": {"f": set()}}),
    (
        "nested-function-reads-reach-outer",
        "def outer():\n    def inner():\n        return w\n    return inner",
        {"functions": {"outer": {"w"}}},
    ),
    (
        "nonlocal",
        "def outer():\n    v = 1\n    def inner():\n        nonlocal v\n        v += 1\n    return inner",
        {"functions": {"outer": set()}, "writes": {}},
    ),
    ("global-write", "def f():\n    global g\n    g = 1", {"writes": {"f": {"g"}}, "defines": {"f"}}),
    (
        "global-augmented",
        "def f():\n    global n\n    n += 1",
        {"functions": {"f": {"n"}}, "writes": {"f": {"n"}}, "function_mutations": {"f": {"n"}}},
    ),
    ("global-at-module-level", "global g\ng = 1", {"defines": {"g"}}),
    ("lambda-named", "f = lambda a: a + z", {"defines": {"f"}, "reads": set(), "functions": {"f": {"z"}}}),
    ("lambda-as-argument-runs-now", "out = sorted(xs, key=lambda r: r[k])", {"reads": {"xs", "k"}}),
    (
        "lambda-params",
        "g = lambda a, *r, b=1, **kw: (a, r, b, kw)",
        {"functions": {"g": set()}, "reads": set()},
    ),
    ("comprehension-variable", "[i for i in range(3)]", {"reads": set(), "defines": set()}),
    ("comprehension-outer-names", "[v * w for v in data if v]", {"reads": {"data", "w"}}),
    ("nested-comprehension", "[x + y for x in a for y in b]", {"reads": {"a", "b"}, "defines": set()}),
    (
        "dict-set-generator",
        "{k: v for k, v in d.items()}\n{s for s in t}\nsum(g for g in u)",
        {"reads": {"d", "t", "u"}, "defines": set()},
    ),
    ("comprehension-variable-does-not-leak", "[i for i in data]\nprint(i)", {"reads": {"data", "i"}}),
    (
        "walrus-in-comprehension-binds-outside",
        "[y := f(v) for v in data]",
        {"defines": {"y"}, "reads": {"f", "data"}},
    ),
    ("walrus", "if (n := len(data)) > 3:\n    print(n)", {"defines": {"n"}, "reads": {"data"}}),
    (
        "class-body-and-methods",
        "class C(Base):\n    attr = 1\n    other = attr + 1\n    def m(self):\n        return attr",
        {"defines": {"C"}, "reads": {"Base"}, "functions": {"C": {"attr"}}, "kinds": {"C": {"class"}}},
    ),
    (
        "class-comprehension-skips-class-scope",
        "class C:\n    y = 1\n    z = [y for _ in range(3)]",
        {"reads": {"y"}},
    ),
    ("del-from-other-cell", "del x", {"deletes": {"x"}, "reads": {"x"}, "defines": set()}),
    ("del-after-define", "x = 1\ndel x", {"deletes": {"x"}, "reads": set()}),
    ("del-in-function-is-local", "def f():\n    q = 1\n    del q", {"functions": {"f": set()}}),
    ("augmented-assignment", "x += 1", {"reads": {"x"}, "defines": {"x"}, "mutations": {"x"}}),
    (
        "try-except-as-is-unbound-after",
        "try:\n    pass\nexcept ValueError as e:\n    print(e)",
        {"defines": set(), "reads": set()},
    ),
    (
        "except-as-keeps-an-earlier-binding",
        "e = 1\ntry:\n    pass\nexcept ValueError as e:\n    pass\nprint(e)",
        {"defines": {"e"}, "reads": set()},
    ),
    (
        "try-star",
        "try:\n    pass\nexcept* ValueError as eg:\n    print(eg)",
        {"kind": "python", "defines": set()},
    ),
    ("with-as", "with open(p) as fh, lock:\n    pass", {"defines": {"fh"}, "reads": {"p", "lock"}}),
    ("with-tuple-target", "with ctx() as (a, b):\n    pass", {"defines": {"a", "b"}, "reads": {"ctx"}}),
    (
        "match",
        'match p:\n    case [a, *others]:\n        pass\n    case {"k": v, **rest}:\n        pass\n'
        "    case Point(x=xx) | Point(y=xx):\n        pass\n    case Color.RED:\n        pass",
        {"defines": {"a", "others", "v", "rest", "xx"}, "reads": {"p", "Point", "Color"}},
    ),
    ("for-targets", "for i, (a, b) in pairs:\n    pass", {"defines": {"i", "a", "b"}, "reads": {"pairs"}}),
    ("annotation-only-binds-nothing", "y: int", {"defines": set()}),
    ("annotated-assignment", "y: int = 3", {"defines": {"y"}}),
    ("import", "import os.path", {"defines": {"os"}, "kinds": {"os": {"import"}}}),
    ("import-as", "import a.b as c", {"defines": {"c"}}),
    ("from-import-as", "from m import x as y, z", {"defines": {"y", "z"}}),
    ("future-import", "from __future__ import annotations", {"defines": set()}),
    ("import-in-function-is-local", "def f():\n    import os\n    return os", {"functions": {"f": set()}}),
    ("star-import", "from pkg.mod import *", {"star_imports": ["pkg.mod"], "defines": set()}),
    ("keyword-arguments-are-not-reads", "f(key=1, other=val)", {"reads": {"f", "val"}}),
    ("attributes-are-not-reads", "obj.attr.sub(1).x", {"reads": {"obj"}}),
    ("f-string", 'f"{name!r:>{width}}"', {"reads": {"name", "width"}}),
    ("async-def", "async def f():\n    await g()", {"functions": {"f": {"g"}}}),
    ("top-level-await", "await asyncio.sleep(1)", {"kind": "python", "reads": {"asyncio"}}),
    (
        "ipython-builtins-are-builtins",
        "display(In, Out, _, __, _i3, _3, _ih, _oh, _dh, get_ipython())",
        {"reads": set()},
    ),
    ("exec-is-opaque", 'exec("a = 1")', {"opaque": True}),
    ("globals-subscript-write-is-opaque", 'globals()["a"] = 1', {"opaque": True}),
    ("globals-update-is-opaque", "globals().update(a=1)", {"opaque": True}),
    ("globals-read-is-not-opaque", 'print(globals()["a"])', {"opaque": False}),
]


@pytest.mark.parametrize(("source", "expected"), [c[1:] for c in SCOPING], ids=[c[0] for c in SCOPING])
def test_scoping(source: str, expected: dict[str, Any]) -> None:
    check_case(source, expected)


# -- IPython syntax and magics ------------------------------------------------------------------------
MAGICS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "line-magic",
        "%matplotlib inline\nimport numpy as np",
        {"kind": "python", "defines": {"np"}, "magics": [("line", "matplotlib")]},
    ),
    ("shell", "!pip install foo", {"kind": "python", "magics": [("shell", "pip")], "reads": set()}),
    ("shell-assigned", "files = !ls", {"defines": {"files"}, "magics": [("shell", "ls")]}),
    ("sx-assigned", "x = %sx ls", {"defines": {"x"}}),
    (
        "time-keeps-statement",
        "%time x = f(y)",
        {"defines": {"x"}, "reads": {"f", "y"}, "magics": [("line", "time")]},
    ),
    ("time-expression", "%time f(y)", {"reads": {"f", "y"}, "defines": set()}),
    ("time-assigned", "r = %time f(y)", {"defines": {"r"}, "reads": {"f", "y"}}),
    ("prun-options", "%prun -s cumulative f(a)", {"reads": {"f", "a"}}),
    (
        "timeit-defines-nothing",
        "%timeit z = g(w)",
        {"defines": set(), "reads": {"g", "w"}, "loads": {"g", "w"}},
    ),
    ("timeit-options", "%timeit -n 10 -r 2 g(b)", {"reads": {"g", "b"}}),
    ("timeit-output-assigned", "r = %timeit -o f()", {"defines": {"r"}}),
    (
        "indented-line-magic",
        "if flag:\n    %time y = compute(z)",
        {"defines": {"y"}, "reads": {"flag", "compute", "z"}},
    ),
    (
        "cell-time",
        "%%time\na = b + 1",
        {"kind": "python", "defines": {"a"}, "reads": {"b"}, "magics": [("cell", "time")]},
    ),
    ("cell-timeit", "%%timeit -n 2\nq = r + 1", {"defines": set(), "reads": {"r"}, "loads": {"r"}}),
    (
        "cell-capture",
        "%%capture out\nv = 1",
        {"defines": {"out", "v"}, "kinds": {"out": {"magic"}, "v": {"assign"}}},
    ),
    ("cell-capture-options", "%%capture --no-stdout cap\nprint(1)", {"defines": {"cap"}}),
    (
        "nested-cell-magics",
        "%%time\n%%capture c\nv = 1",
        {"defines": {"c", "v"}, "magics": [("cell", "time"), ("cell", "capture")]},
    ),
    ("nested-cell-magics-outer-capture", "%%capture c\n%%time\nv = 1", {"defines": {"c", "v"}}),
    ("store-r-names", "%store -r x y", {"defines": {"x", "y"}, "opaque": False}),
    ("store-r-all-is-opaque", "%store -r", {"defines": set(), "opaque": True}),
    ("store-save-binds-nothing", "%store x", {"defines": set()}),
    ("sql-line", "%sql res << SELECT 1", {"defines": {"res"}}),
    ("sql-cell", "%%sql res <<\nSELECT *\nFROM t WHERE a = 'x'", {"kind": "non-python", "defines": {"res"}}),
    ("r-cell-output", "%%R -o rdf\nrdf <- data.frame()", {"kind": "non-python", "defines": {"rdf"}}),
    ("r-cell-several-outputs", "%%R -i pydf -o a,b\nx <- 1", {"defines": {"a", "b"}, "reads": set()}),
    ("r-line-output", "%R -o rr x <- 1", {"defines": {"rr"}}),
    ("bash-out", "%%bash --out output\necho hi", {"kind": "non-python", "defines": {"output"}}),
    (
        "bash-not-python",
        "%%bash\nfor i in 1 2; do echo $i; done",
        {"kind": "non-python", "defines": set(), "reads": set()},
    ),
    ("html-not-python", "%%html\n<b>{x}</b>", {"kind": "non-python", "reads": set()}),
    (
        "writefile-not-python",
        "%%writefile f.py\nimport os\nprint(undefined_thing)",
        {"kind": "non-python", "defines": set(), "reads": set()},
    ),
    ("cell-magic-after-blank-lines", "\n\n%%bash\necho hi", {"kind": "non-python"}),
    ("help", "obj?", {"kind": "python", "reads": set(), "magics": [("line", "pinfo")]}),
    ("help-prefix", "?obj", {"kind": "python", "reads": set()}),
    ("help-double", "obj.method??", {"kind": "python", "magics": [("line", "pinfo2")]}),
    ("question-mark-in-string", 'print("a?")', {"kind": "python", "magics": []}),
    ("shell-expansion-soft-reads", "!echo {name} $other", {"soft_reads": {"name", "other"}, "reads": set()}),
    ("run-is-opaque", "%run helpers.py", {"opaque": True}),
    ("pylab-is-opaque", "%pylab inline", {"opaque": True}),
    ("cython-is-opaque", "%%cython\ndef f(): pass", {"opaque": True, "kind": "non-python"}),
    ("classic-prompt", ">>> y = 2\n>>> print(y)", {"kind": "python", "defines": {"y"}}),
    ("ipython-prompt", "In [1]: x = 1", {"kind": "python", "defines": {"x"}}),
    (
        "autoreload",
        "%load_ext autoreload\n%autoreload 2",
        {"magics": [("line", "load_ext"), ("line", "autoreload")]},
    ),
    ("magic-mid-line-is-a-syntax-error", "x = 1; %time y = x", {"kind": "syntax-error"}),
]


@pytest.mark.parametrize(("source", "expected"), [c[1:] for c in MAGICS], ids=[c[0] for c in MAGICS])
def test_ipython_transformation(source: str, expected: dict[str, Any]) -> None:
    check_case(source, expected)


def test_scratch_function_never_leaks() -> None:
    for source in ("%timeit z = g(w)", "%%timeit\nq = r + 1"):
        _parsed, flow = flow_of(source)
        assert not any("nbhygiene" in name for name in (*flow.loads, *flow.defines, *flow.functions))


def test_assigned_shell_escape_is_marked() -> None:
    _parsed, flow = flow_of("files = !ls\n!pwd")
    assert [(m.kind, m.assigned) for m in flow.magics] == [("shell", True), ("shell", False)]


SYNTAX: list[tuple[str, str, str, int, int]] = [
    # (id, source, kind, line, column): positions are in the cell's own lines, magics included
    ("after-line-magic", "%matplotlib inline\nx = (1", "syntax-error", 2, 5),
    ("inside-cell-magic", "%%time\n\nx = (1", "syntax-error", 3, 5),
    ("nested-cell-magic", "%%time\n%%capture c\nx = (1", "syntax-error", 3, 5),
    ("after-shell", "!ls\ny = 1 +", "syntax-error", 2, 8),
    ("indent", "x = 1\n  y = 2", "syntax-error", 2, 2),  # CPython's own offset
    ("python2-print", 'print "a"', "python2", 1, 1),
    ("python2-exec", 'exec "a = 1"', "python2", 1, 1),
    ("null-byte", 'a = "\x00"', "syntax-error", 1, 1),
    ("too-deep", "(" * 1000 + ")" * 1000, "syntax-error", 1, 201),
]


@pytest.mark.parametrize(
    ("source", "kind", "line", "column"), [c[1:] for c in SYNTAX], ids=[c[0] for c in SYNTAX]
)
def test_syntax_errors_are_reported_not_raised(source: str, kind: str, line: int, column: int) -> None:
    parsed, flow = flow_of(source)
    assert parsed.kind == kind
    assert parsed.tree is None
    assert parsed.syntax_error is not None
    assert parsed.syntax_error[1:] == (line, column)
    assert not flow.reads
    # only a magic's own binding survives (`%%capture c` still binds `c` when its body fails to parse)
    assert all(kinds == {"magic"} for kinds in flow.binding_kinds.values())


def test_positions_are_one_based_within_the_cell() -> None:
    _parsed, flow = flow_of("%matplotlib inline\n\nvalue = other + 1")
    ref = flow.defines["value"]
    assert (ref.line, ref.column, ref.end_line, ref.end_column) == (3, 1, 3, 6)
    (read,) = [r for r in flow.reads if r.name == "other"]
    assert (read.line, read.column, read.end_column) == (3, 9, 14)
    _parsed, flow = flow_of("%%capture out\n\nv = w")
    assert flow.defines["v"].line == 3
    assert [r.line for r in flow.reads if r.name == "w"] == [3]


# -- mutation -----------------------------------------------------------------------------------------
MUTATION: list[tuple[str, str, dict[str, Any]]] = [
    ("loc-store", 'df.loc[df.a > 0, "b"] = 1', {"mutations": {"df"}, "defines": set(), "reads": {"df"}}),
    ("subscript-store", 'df["c"] = 1', {"mutations": {"df"}, "non_idempotent": set()}),
    ("attribute-store", "obj.attr = 3", {"mutations": {"obj"}, "defines": set()}),
    ("nested-attribute-store", "model.steps[0].coef_ = w", {"mutations": {"model"}, "reads": {"model", "w"}}),
    ("append", "lst.append(1)", {"mutations": {"lst"}, "non_idempotent": {"lst"}}),
    ("extend-pop-remove", "a.extend(b)\nc.pop()\nd.remove(1)", {"non_idempotent": {"a", "c", "d"}}),
    ("pop-result-used", "item = stack.pop()", {"non_idempotent": {"stack"}}),
    ("dict-update-is-idempotent", "d.update(x=1)", {"mutations": {"d"}, "non_idempotent": set()}),
    ("set-add-is-idempotent", "s.add(1)", {"mutations": {"s"}, "non_idempotent": set()}),
    ("sort-is-idempotent", "lst.sort()", {"mutations": {"lst"}, "non_idempotent": set()}),
    ("dropna-inplace", "df.dropna(inplace=True)", {"mutations": {"df"}, "non_idempotent": set()}),
    ("fillna-inplace", "df.fillna(0, inplace=True)", {"mutations": {"df"}, "non_idempotent": set()}),
    ("drop-inplace", 'df.drop(columns=["a"], inplace=True)', {"mutations": {"df"}, "non_idempotent": {"df"}}),
    ("reset-index-inplace", "df.reset_index(inplace=True)", {"non_idempotent": {"df"}}),
    ("set-index-inplace", 'df.set_index("a", inplace=True)', {"non_idempotent": {"df"}}),
    ("inplace-false", 'df.drop(columns=["a"], inplace=False)', {"mutations": set(), "non_idempotent": set()}),
    ("fit", "model.fit(X, y)", {"mutations": {"model"}, "non_idempotent": set(), "may_mutate": {"X", "y"}}),
    ("fit-transform", "Xt = scaler.fit_transform(X)", {"mutations": {"scaler"}, "defines": {"Xt"}}),
    ("partial-fit", "model.partial_fit(X, y)", {"mutations": {"model"}, "non_idempotent": {"model"}}),
    ("shuffle", "np.random.shuffle(arr)", {"mutations": {"arr"}}),
    ("setattr", 'setattr(obj, "a", 1)', {"mutations": {"obj"}}),
    ("heappush", "heapq.heappush(heap, 3)", {"mutations": {"heap"}}),
    ("augmented-name", "X += 1", {"mutations": {"X"}, "non_idempotent": {"X"}}),
    ("augmented-subscript", "X[0] += 1", {"mutations": {"X"}, "non_idempotent": {"X"}, "defines": set()}),
    ("self-derived", "x = x + 1", {"non_idempotent": {"x"}}),
    ("self-derived-nested", "total = 2 * (total - m)", {"non_idempotent": {"total"}}),
    ("self-derived-same-cell", "x = 0\nx = x + 1", {"non_idempotent": set()}),
    (
        "created-and-appended-in-cell",
        "lst = []\nlst.append(1)",
        {"non_idempotent": set(), "mutations": {"lst"}},
    ),
    ("filter-is-idempotent", "df = df[mask]", {"non_idempotent": set(), "reads": {"df", "mask"}}),
    ("filter-expression-is-idempotent", 'df = df[df["a"] > 0]', {"non_idempotent": set()}),
    ("slice-shrinks", "X = X[1:]", {"non_idempotent": {"X"}}),
    ("iloc-slice-shrinks", "df = df.iloc[:-1]", {"non_idempotent": {"df"}}),
    ("log-compounds", "X = np.log(X)", {"non_idempotent": {"X"}}),
    ("drop-assigned-compounds", 'df = df.drop(columns=["a"])', {"non_idempotent": {"df"}}),
    ("dropna-assigned-is-idempotent", "df = df.dropna()", {"non_idempotent": set()}),
    ("column-from-itself", 'df["a"] = df["a"] * 2', {"non_idempotent": {"df"}}),
    ("column-from-another", 'df["b"] = df["a"] * 2', {"non_idempotent": set(), "mutations": {"df"}}),
    ("transpose", "M = M.T", {"non_idempotent": {"M"}}),
    ("extend-with-itself", "xs = [*xs, 1]", {"non_idempotent": {"xs"}}),
    ("del-subscript", 'del d["k"]', {"mutations": {"d"}, "non_idempotent": {"d"}}),
    ("del-name", "del x", {"non_idempotent": {"x"}}),
    (
        "module-state-is-not-notebook-state",
        'sys.path.append("..")\nos.environ.pop("X")',
        {"non_idempotent": set()},
    ),
    (
        "append-result-assigned-is-not-a-list",
        "res2 = res.append(obs)",
        {"mutations": set(), "non_idempotent": set()},
    ),
    ("timeit-mutates", "%timeit lst.append(1)", {"mutations": {"lst"}}),
    (
        "mutation-in-function-is-deferred",
        "def f():\n    cache.append(1)\n    df.loc[0] = 1",
        {"mutations": set(), "non_idempotent": set(), "function_mutations": {"f": {"cache", "df"}}},
    ),
    (
        "local-mutation-in-function",
        "def f():\n    acc = []\n    acc.append(1)\n    return acc",
        {"function_mutations": {}},
    ),
    ("pure-builtins-do-not-mutate", "print(x)\nlen(y)", {"may_mutate": set()}),
    ("unknown-call-may-mutate", "process(frame)", {"may_mutate": {"frame"}, "mutations": set()}),
]


@pytest.mark.parametrize(("source", "expected"), [c[1:] for c in MUTATION], ids=[c[0] for c in MUTATION])
def test_mutation(source: str, expected: dict[str, Any]) -> None:
    check_case(source, expected)


# -- the notebook-level reading -----------------------------------------------------------------------
def analysis_of(*sources: str) -> NotebookAnalysis:
    data = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "source": s,
                "execution_count": i + 1,
                "outputs": [],
                "metadata": {},
            }
            for i, s in enumerate(sources)
        ],
    }
    return NotebookAnalysis.build(build_model(loaded_from_data(data, "nb.ipynb")))


def unresolved(analysis: NotebookAnalysis) -> list[tuple[int, str, str, str | None]]:
    return [(u.cell.index, u.ref.name, u.kind, u.via) for u in analysis.run_all]


RUN_ALL: list[tuple[str, list[str], list[tuple[int, str, str, str | None]]]] = [
    ("function-called-after-global", ["def f():\n    return T", "T = 1", "f()"], []),
    ("function-called-before-global", ["def f():\n    return T", "f()", "T = 1"], [(1, "T", "later", "f")]),
    (
        "through-a-chain-of-calls",
        ["def g():\n    return H", "def f():\n    return g()", "f()", "H = 1"],
        [(2, "H", "later", "f")],
    ),
    (
        "passed-as-callback",
        ["def f(x):\n    return x + K", "r = list(map(f, [1]))", "K = 1"],
        [(1, "K", "later", "f")],
    ),
    (
        "method-through-class",
        ["class C:\n    def m(self):\n        return G\nC().m()", "G = 1"],
        [(0, "G", "later", "C")],
    ),
    ("same-cell-later-line", ["print(a)\na = 1"], [(0, "a", "later", None)]),
    ("same-cell-defined-before-call", ["def f():\n    return K", "K = 1\nf()"], []),
    ("same-cell-defined-after-call", ["def f():\n    return K", "f()\nK = 1"], [(1, "K", "later", "f")]),
    ("deleted", ["x = 1", "del x", "print(x)"], [(2, "x", "deleted", None)]),
    ("redefined-after-delete", ["x = 1", "del x", "x = 2", "print(x)"], []),
    ("nowhere", ["print(y)"], [(0, "y", "nowhere", None)]),
    # a function's read of a name no cell defines is reported once, in its body, not at each call
    ("nowhere-in-function", ["def f():\n    return nope", "f()", "f()"], [(0, "nope", "nowhere", "f")]),
    ("star-import-hides-everything", ["from m import *", "print(anything)"], []),
    ("run-magic-hides-everything", ["%run setup.py", "print(anything)"], []),
    ("exec-hides-everything", ['exec("q = 1")', "print(q)"], []),
    ("syntax-error-cell-is-skipped", ["x = (", "print(y)"], [(1, "y", "nowhere", None)]),
    (
        "global-written-by-called-function",
        ["def setup():\n    global CFG\n    CFG = 1", "setup()", "print(CFG)"],
        [],
    ),
    (
        "magic-bindings-define",
        ["%%capture out\nprint(1)", "files = !ls", "%store -r kept", "print(out, files, kept)"],
        [],
    ),
]


@pytest.mark.parametrize(("sources", "expected"), [c[1:] for c in RUN_ALL], ids=[c[0] for c in RUN_ALL])
def test_run_all(sources: list[str], expected: list[tuple[int, str, str, str | None]]) -> None:
    assert unresolved(analysis_of(*sources)) == expected


def test_read_through_call_is_located_at_the_call() -> None:
    (issue,) = analysis_of("def f():\n    return T", "x = 1\ny = f()", "T = 1").run_all
    assert (issue.ref.name, issue.ref.line, issue.ref.column) == ("T", 2, 5)
    assert issue.defined_in == (2,)


def test_analysis_is_shared_and_skips_non_python() -> None:
    analysis = analysis_of("import os", "x = os.sep")
    assert analysis.definers == {"os": [0], "x": [1]}
    assert analysis.import_names == {"os"}
    assert analysis.opaque_cells == []
    r_notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "ir", "language": "R"}},
        "cells": [
            {"cell_type": "code", "source": "x <- 1", "execution_count": 1, "outputs": [], "metadata": {}}
        ],
    }
    r_analysis = NotebookAnalysis.build(build_model(loaded_from_data(r_notebook, "r.ipynb")))
    assert r_analysis.flows == {} and r_analysis.run_all == []
