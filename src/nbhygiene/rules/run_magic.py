from __future__ import annotations

import shlex
from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.rule import Context, Report, Rule


class RunMagic(Rule):
    """A cell runs another file with `%run`, hiding code and state in it.

    ## What it does
    Reports every `%run` line magic (`%run helpers.py`, `%run -i setup.ipynb`, `%run -m package.module`),
    also inside `%time`/`%%capture` cells and in `get_ipython().run_line_magic("run", ...)` calls.

    ## Why it matters
    `%run` executes code the reader does not see and drops whatever it defines into the notebook's
    namespace: names appear from nowhere, the notebook silently depends on a file next to it (and on
    the working directory), and the analysis cannot tell which names exist afterwards, so
    `undefined-name` and `use-before-definition` go quiet for the rest of the notebook. With `-i`,
    the other file also reads this notebook's variables.

    ## Example
    ```python
    %run ./utils.ipynb
    model = build_model(config)  # where do build_model and config come from?
    ```

    ## What to do instead
    Move the shared code into a Python module next to the notebook (or an installed package) and
    import the names you need: `from utils import build_model`. Pass values explicitly instead of
    sharing a namespace.
    """

    code = "NBH104"
    name = "run-magic"
    summary = "A cell runs another file with `%run`, hiding code and state in it."
    severity = Severity.WARNING
    family = Family.HIDDEN_STATE

    def check(self, ctx: Context) -> Iterator[Report]:
        cells = ctx.notebook.cells
        for index, flow in ctx.analysis.flows.items():
            for magic in flow.magics:
                if magic.kind == "line" and magic.name == "run":
                    target = _target(magic.args)
                    what = f"`%run {target}`" if target else "`%run`"
                    yield Report(
                        f"{what} runs code this notebook does not show and defines names nobody can see;"
                        " import what you need from a module instead",
                        cells[index],
                        magic.line,
                        magic.column,
                    )


def _target(args: str) -> str:
    """The file or module that `%run` executes (its options and the script's own arguments left out)."""
    try:
        words = shlex.split(args, posix=True)
    except ValueError:
        words = args.split()
    module = False
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "-m":
            module = True
        elif word.startswith("-"):
            skip = word in _OPTIONS_WITH_VALUE  # "-N 4"; "-N4" carries its value
        else:
            shown = f"-m {word}" if module else word
            return shown if len(shown) <= 60 else "..." + shown[-57:]
    return ""


# %run's getopt string is "nidtN:b:pD:l:rs:T:em:G": these take a value (-m is handled apart).
_OPTIONS_WITH_VALUE = frozenset({"-N", "-b", "-D", "-l", "-s", "-T"})
