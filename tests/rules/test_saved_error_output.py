"""saved-error-output (NBH107): saved tracebacks, the expected-error conventions, and redaction."""

from __future__ import annotations

from hygiene_cells import code, error, findings, flagged, notebook, stream

TRACEBACK = [
    "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
    "...",
]


def test_error_outputs_are_reported_once_per_cell() -> None:
    cells = [
        code("1/0", "a", [stream("before\n"), error("ZeroDivisionError", "division by zero", TRACEBACK)]),
        code("ok()", "b", [stream("fine\n")]),
        code("g()", "c", [error("KeyboardInterrupt", "")]),
        code("h()", "d", [error("ValueError", "a"), error("ValueError", "b")]),
    ]
    found = findings(notebook(cells), "saved-error-output")
    assert [(f.cell_id, f.message) for f in found] == [
        ("a", "Saved with an error output: `ZeroDivisionError: division by zero`"),
        ("c", "Saved with an error output: `KeyboardInterrupt`"),
        ("d", "Saved with an error output: `ValueError: a`"),
    ]


def test_expected_errors_are_not_reported() -> None:
    failing = [error("ZeroDivisionError", "division by zero")]
    cells = [
        code("1/0", "tagged", failing, tags=["raises-exception"]),
        code("1/0", "nbval-tag", failing, tags=["nbval-raises-exception"]),
        code("# NBVAL_RAISES_EXCEPTION\n1/0", "nbval-comment", failing),
        code("1/0", "skipped", failing, tags=["skip-execution"]),  # not an exemption
    ]
    assert flagged(cells, "saved-error-output") == [3]


def test_nbsphinx_allow_errors_exempts_the_notebook() -> None:
    nb = notebook(
        [code("1/0", "a", [error("ZeroDivisionError", "division by zero")])],
        {"nbsphinx": {"allow_errors": True}},
    )
    assert findings(nb, "saved-error-output") == []


def test_printed_tracebacks_are_not_error_outputs() -> None:
    cells = [
        code("traceback.print_exc()", "a", [stream("Traceback (most recent call last):\n  ...\n", "stderr")])
    ]
    assert flagged(cells, "saved-error-output") == []


def test_message_is_redacted_and_short() -> None:
    key = "sk-proj-" + "H6nysbCjCwBZWJOBrUgazX5M4W4Nc8OHuiXzSj9Cofgi4WZr"
    cells = [
        code("call()", "a", [error("AuthenticationError", f"Incorrect API key provided: {key}\nmore")]),
        code("f()", "b", [error("\x1b[0;31mValueError\x1b[0m", "x" * 300)]),
    ]
    first, second = findings(notebook(cells), "saved-error-output")
    assert key not in first.message and key[4:12] not in first.message
    assert (
        first.message
        == "Saved with an error output: `AuthenticationError: Incorrect API key provided: sk-p…`"
    )
    assert (
        second.message.startswith("Saved with an error output: `ValueError: xxx")
        and len(second.message) < 160
    )
