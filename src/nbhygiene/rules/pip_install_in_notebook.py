from __future__ import annotations

import re
from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.model import Cell
from nbhygiene.rule import Context, Report, Rule

# Line magics that run a package manager (IPython's %pip, %conda, %mamba, %micromamba; %uv in some kernels).
_MANAGER_MAGICS = frozenset({"pip", "pip3", "conda", "mamba", "micromamba", "uv"})
# Cell magics whose body is a shell script.
_SHELL_CELL_MAGICS = frozenset({"bash", "sh", "script", "system"})
_SEPARATORS = re.compile(r"&&|\|\||[;|&\n]")
_PYTHON = re.compile(r"^(?:python|py)(?:\d+(?:\.\d+)?)?(?:\.exe)?$")
_PIP = re.compile(r"^pip(?:\d+(?:\.\d+)?)?(?:\.exe)?$")
_CONDA = re.compile(r"^(?:conda|mamba|micromamba)(?:\.exe)?$")
# pip driven from Python: subprocess.check_call([sys.executable, "-m", "pip", "install", ...]),
# os.system("pip install ...").
_PIP_FROM_PYTHON = re.compile(
    r"""["']pip3?["']\s*,\s*["']install["']|\bsystem\(\s*[fr]?["'][^"'\n]*?\bpip3?\s+(?:-\S+\s+)*install\b"""
)
_OPTIONS_WITH_VALUE = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--prefix",
        "--channel",
        "-n",
        "--name",
        "-p",
        "--python",
    }
)
_PLAIN_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],]*(?:[<>=!~]=?[A-Za-z0-9.*,<>=!~]+)?$")


class PipInstallInNotebook(Rule):
    """A cell installs packages (`!pip install`, `%pip install`, `%conda install`, ...).

    ## What it does
    Reports package installs run from a notebook: `%pip install`, `!pip install` (also `pip3`,
    `python -m pip`, `{sys.executable} -m pip`, `uv pip`, `sudo pip`), `%conda`/`%mamba install`,
    `!conda install`, installs in `%%bash`/`%%sh`/`%%script` cells, and
    `subprocess.check_call([sys.executable, "-m", "pip", "install", ...])` / `os.system("pip install ...")`.
    Only installs count: `pip list`, `pip show`, `pip freeze`, `pip --version` do not. System
    package managers (`apt-get install`) are not reported. Commented-out lines are ignored.

    ## Why it matters
    The notebook changes the environment it runs in: every run may install a different version, the
    kernel may keep using the old module until it restarts, a run without network fails, and the
    dependencies are not written down where tools (and colleagues) look for them.

    ## Example
    ```python
    !pip install xgboost
    import xgboost as xgb
    ```

    ## What to do instead
    Pin the dependencies in `requirements.txt`, `environment.yml` or `pyproject.toml` and install them
    before starting the kernel. If a notebook must bootstrap itself (Colab), keep the install in one
    clearly marked first cell with pinned versions, and suppress the finding there with the cell tag
    `nbhygiene-ignore:pip-install-in-notebook`.
    """

    code = "NBH103"
    name = "pip-install-in-notebook"
    summary = "A cell installs packages (`!pip install`, `%pip install`, `%conda install`, ...)."
    severity = Severity.WARNING
    family = Family.CONFIGURATION

    def check(self, ctx: Context) -> Iterator[Report]:
        cells = ctx.notebook.cells
        for index, flow in ctx.analysis.flows.items():
            cell = cells[index]
            seen: set[int] = set()
            for magic in flow.magics:
                if magic.kind == "line" and magic.name in _MANAGER_MAGICS:
                    found = _manager_install(magic.name, magic.args.split())
                    if found:
                        seen.add(magic.line)
                        yield _report(cell, magic.line, magic.column, "%", found)
                elif magic.kind == "shell":
                    found = install_command(magic.args)
                    if found:
                        seen.add(magic.line)
                        yield _report(cell, magic.line, magic.column, "!", found)
                elif magic.kind == "cell" and _is_shell_script(magic.name, magic.args):
                    yield from _shell_cell(cell, magic.line, seen)
            if "install" in cell.source and "pip" in cell.source:
                for line_no, line in enumerate(cell.source.splitlines(), 1):
                    if line_no in seen or "install" not in line:
                        continue
                    match = _PIP_FROM_PYTHON.search(line)
                    if match and "#" not in line[: match.start()]:
                        yield Report(
                            "pip install run from Python code changes the environment the notebook runs in;"
                            " declare the dependency in requirements.txt or environment.yml instead",
                            cell,
                            line_no,
                            match.start() + 1,
                        )


def _is_shell_script(magic: str, args: str) -> bool:
    """`%%bash`, `%%sh`, `%%script bash` ... (not `%%script python`)."""
    return magic in _SHELL_CELL_MAGICS and (
        magic != "script" or args.split()[:1] in (["bash"], ["sh"], ["zsh"])
    )


def _shell_cell(cell: Cell, header_line: int, seen: set[int]) -> Iterator[Report]:
    lines = cell.source.splitlines()
    for line_no in range(header_line + 1, len(lines) + 1):
        text = lines[line_no - 1]
        if "install" not in text or text.lstrip().startswith("#"):
            continue
        found = install_command(text)
        if found:
            seen.add(line_no)
            yield _report(cell, line_no, len(text) - len(text.lstrip()) + 1, "", found)


def _report(cell: Cell, line: int, column: int, prefix: str, found: tuple[str, list[str]]) -> Report:
    command, packages = found
    plain = [p for p in packages if _PLAIN_PACKAGE.match(p)]
    what = f" ({', '.join(plain[:3])}{', ...' if len(plain) > 3 else ''})" if plain else ""
    return Report(
        f"`{prefix}{command}`{what} installs packages from inside the notebook;"
        " declare them in requirements.txt or environment.yml instead",
        cell,
        line,
        column,
    )


def install_command(command: str) -> tuple[str, list[str]] | None:
    """``("pip install", [packages])`` when a shell command line installs Python packages."""
    if "install" not in command:
        return None
    for segment in _SEPARATORS.split(command):
        words = segment.split()
        while words and (words[0] in ("sudo", "env", "time", "nohup", "command", "exec") or "=" in words[0]):
            words.pop(0)
        if not words:
            continue
        program = words[0].rsplit("/", 1)[-1].rsplit("\\", 1)[-1].strip("'\"")
        rest = words[1:]
        if _PYTHON.match(program) or "executable" in program or program.lower().endswith("python}"):
            # python -m pip install ...
            while rest and rest[0].startswith("-") and rest[0] != "-m":
                rest.pop(0)
            if len(rest) >= 2 and rest[0] == "-m" and _PIP.match(rest[1]):
                found = _manager_install("pip", rest[2:])
                if found:
                    return f"python -m {found[0]}", found[1]
            continue
        if program == "uv":
            found = _manager_install("uv", rest)
        elif _PIP.match(program):
            found = _manager_install("pip", rest)
        elif _CONDA.match(program):
            found = _manager_install(program, rest)
        else:
            continue
        if found:
            return found
    return None


def _manager_install(manager: str, words: list[str]) -> tuple[str, list[str]] | None:
    words = list(words)
    if manager == "uv" and words[:1] == ["pip"]:
        words.pop(0)
        manager = "uv pip"
    while words and words[0].startswith("-"):
        words.pop(0)
    if not words or words[0] != "install":
        return None
    packages: list[str] = []
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in _OPTIONS_WITH_VALUE
        else:
            packages.append(word.strip("'\""))
    return f"{manager} install", packages
