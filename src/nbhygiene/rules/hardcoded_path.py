from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from nbhygiene.findings import Family, Severity
from nbhygiene.model import Cell
from nbhygiene.rule import Context, Report, Rule

# A quote (of any string literal, f-strings included) followed by something that starts a path. Most
# cells fail this test and are never walked.
_CANDIDATE = re.compile(r"""["'](?:/[\w.~$-]|~[\w./]|[A-Za-z]:[\\/]|\\\\)""")
_HOME = re.compile(r"^~[\w.-]*/[^/\s]")
_WINDOWS = re.compile(r"^[A-Za-z]:[\\/][^\\/\s<>:\"|?*]")
_UNC = re.compile(r"^\\\\[\w.$-]+\\[\w.$ -]+")
# Characters that make a string a regular expression, a URL part, a shell command or prose.
_NOT_A_PATH = re.compile(r"[\^$+|()\[\]?=&#;<>\"'\n\t\r]|://|\s{2}|\s-")
_FIRST_SEGMENT = re.compile(r"^[\w.~-]")

# Directories that exist on every POSIX machine: pointing there ties a notebook to nobody.
# /tmp is among them: it is scratch space on every Linux and macOS machine (tempfile is better on
# Windows, but a /tmp path does not leak anyone's layout).
_SYSTEM_ROOTS = frozenset({"dev", "proc", "sys", "bin", "sbin", "etc", "tmp", "lib", "lib64", "run", "boot"})
_SYSTEM_USR = frozenset({"bin", "sbin", "lib", "lib64", "include", "share"})
# First directories of absolute paths that are machine-specific: user homes, mounts, data disks,
# cluster file systems, hosted notebook platforms (Colab's /content, Kaggle's /kaggle, Databricks' /dbfs).
_MACHINE_ROOTS = frozenset(
    {
        "home",
        "Users",
        "root",
        "mnt",
        "media",
        "data",
        "datasets",
        "dataset",
        "opt",
        "srv",
        "var",
        "usr",
        "content",
        "kaggle",
        "dbfs",
        "Volumes",
        "Workspace",
        "scratch",
        "gpfs",
        "lustre",
        "nfs",
        "work",
        "workspace",
        "workspaces",
        "storage",
        "shared",
        "projects",
        "project",
        "net",
        "local",
        "private",
        "export",
        "disk",
        "disks",
        "ssd",
        "hdd",
        "nas",
        "group",
        "groups",
        "raid",
        "fsx",
        "efs",
        "mnt2",
        "data1",
        "data2",
        "notebooks",
        "input",
        "scratch1",
        "users",
        "u",
        "space",
        "cluster",
        "research",
        "lab",
        "labs",
        "Shared",
        "gs",
        "s3",
        "volumes",
        "nobackup",
        "archive",
        "experiments",
        "models",
    }
)
# File types worth flagging even under an unknown first directory (`/foo/bar/train.csv`).
_DATA_SUFFIX = re.compile(
    r"\.(?:csv|tsv|txt|json|jsonl|parquet|pq|feather|arrow|pkl|pickle|joblib|h5|hdf5|hdf|npy|npz|mat|xlsx?"
    r"|xml|ya?ml|zip|gz|tar|tgz|bz2|xz|7z|png|jpe?g|gif|tiff?|bmp|wav|mp3|mp4|avi|pt|pth|ckpt|onnx|pb|bin"
    r"|sav|db|sqlite3?|nc|shp|geojson|ipynb|py|sh|log|pdf|dat|fits|vcf|fasta|fastq|bam|dcm|nii|tfrecords?"
    r"|safetensors|model|weights|cfg|ini|toml|env)$",
    re.IGNORECASE,
)
# Calls whose string arguments are URL routes or URL parts, not file system paths.
_URL_CALLS = frozenset({"route", "add_url_rule", "urljoin", "websocket", "mount", "api_route"})
_CD_COMMANDS = frozenset({"cd", "pushd", "chdir"})


class HardcodedPath(Rule):
    """A string literal is an absolute or home-directory path that exists only on one machine.

    ## What it does
    Looks at string literals in code (f-strings included) and at the arguments of `%cd`, `%pushd`
    and `!cd`, and reports absolute POSIX paths (`/home/alice/data.csv`, `/content/drive/...`),
    home-directory paths (`~/data`, `~alice/x`), Windows drive paths (`C:\\data\\x.csv`, `C:/data`)
    and network shares (`\\\\server\\share`). It never checks whether the file exists.

    To stay quiet on strings that are not file system paths, it skips: URLs and URL fragments
    (`"/api/v1"` added to a base URL or passed to `urljoin`, a route decorator or `drive.mount`),
    relative paths, `/` alone, regular expressions, mime types (`text/plain`), dates and fractions
    (`1/2/2020`), docstrings, and directories that exist on every POSIX machine (`/dev/null`, `/proc`,
    `/usr/bin`, `/etc`, `/bin/bash`, and `/tmp`, which is scratch space everywhere). A POSIX path
    must start with a machine-specific directory (`/home`, `/Users`, `/mnt`, `/data`, `/content`,
    `/kaggle`, `/dbfs`, `/opt`, ...) and go at least one level below it, or end in a data-file
    extension (`/x/y/train.csv`); a `%cd` argument only has to be absolute.

    ## Why it matters
    The notebook runs only where that path exists: on a colleague's laptop, in CI or on a cluster it
    fails, or worse, reads a different file of the same name. The path also leaks user names and
    directory layouts.

    ## Example
    ```python
    df = pd.read_csv("/home/alice/projects/churn/data/train.csv")
    ```

    ## What to do instead
    Use a path relative to the notebook or the repository, or take the location from a parameter or
    an environment variable:
    ```python
    DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))
    df = pd.read_csv(DATA_DIR / "train.csv")
    ```
    """

    code = "NBH105"
    name = "hardcoded-path"
    summary = "A string literal is an absolute or home-directory path that exists only on one machine."
    severity = Severity.WARNING
    family = Family.CONFIGURATION

    def check(self, ctx: Context) -> Iterator[Report]:
        cells = ctx.notebook.cells
        flows = ctx.analysis.flows
        # One search of all code decides whether any literal needs a look (most notebooks: none).
        candidates = _CANDIDATE.search("\n".join(cells[i].source for i in flows)) is not None
        for index, parsed in ctx.analysis.parsed.items():
            magics = flows[index].magics
            if not magics and not candidates:
                continue
            cell = cells[index]
            seen: set[str] = set()
            for magic in magics:
                target = _cd_target(magic.kind, magic.name, magic.args)
                kind = classify_path(target, command=True) if target else None
                if kind and target and target not in seen:
                    seen.add(target)
                    yield _report(cell, kind, target, magic.line, magic.column)
            if not candidates or parsed.tree is None or not _CANDIDATE.search(cell.source):
                continue
            for value, node in _path_literals(parsed.tree):
                kind = classify_path(value)
                if kind and value not in seen:
                    seen.add(value)
                    line = getattr(node, "lineno", None)
                    yield _report(
                        cell, kind, value, line, _column(cell, line, getattr(node, "col_offset", None))
                    )


def _report(cell: Cell, kind: str, value: str, line: int | None, column: int | None) -> Report:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return Report(
        f"{kind} `{shown}` exists only on one machine; use a relative path, a parameter or an environment variable",
        cell,
        line,
        column,
    )


def _column(cell: Cell, line: int | None, offset: int | None) -> int | None:
    """1-based column from an ast character offset (source.parse_cell converts CPython's byte offsets)."""
    if line is None or offset is None:
        return None
    return offset + 1


def _cd_target(kind: str, name: str, args: str) -> str | None:
    if kind == "line" and name in ("cd", "pushd"):
        words = [w for w in args.split() if not w.startswith("-")]
        return words[0].strip("'\"") if len(words) == 1 else (args.strip().strip("'\"") or None)
    if kind == "shell" and name in _CD_COMMANDS:
        words = re.split(r"&&|;|\|\|", args, maxsplit=1)[0].split()
        return words[1].strip("'\"") if len(words) == 2 else None
    return None


def _path_literals(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    """String literals of the cell that could be paths, with the node to point at.

    An f-string counts as one literal with its replacement fields as placeholders. A literal that is
    only part of a larger string (the right operand of `+` or `/`, a later part of an f-string) or
    an argument of a URL helper is left out.
    """
    skip: set[int] = set()
    found: list[tuple[str, ast.AST]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            if id(node) not in skip and isinstance(node.value, str):
                found.append((node.value, node))
        elif isinstance(node, ast.JoinedStr):
            for part in node.values:
                skip.add(id(part))
            first = node.values[0] if node.values else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                text = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
                found.append((text, node))
        elif isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.Add, ast.Div)) and isinstance(node.right, ast.Constant):
                skip.add(id(node.right))
        elif isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Constant):
                skip.add(id(node.value))  # a docstring or a bare string
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in _URL_CALLS:
                for argument in node.args:
                    skip.add(id(argument))
    return iter(found)


def classify_path(value: str, command: bool = False) -> str | None:
    """What kind of machine-specific path ``value`` is ("Absolute path", ...), or None.

    ``command``: the value is the argument of a `cd`-like command, so it is a path for sure and any
    absolute location outside the system directories counts.
    """
    if len(value) < 3 or len(value) > 300:
        return None
    first = value[0]
    if first == "~":
        return "Home-directory path" if _HOME.match(value) and not _NOT_A_PATH.search(value) else None
    if first == "\\":
        return "Network share path" if _UNC.match(value) and "\n" not in value else None
    if value[1] == ":":
        return "Windows path" if _WINDOWS.match(value) and "\n" not in value and "://" not in value else None
    if first != "/" or _NOT_A_PATH.search(value) or not _FIRST_SEGMENT.match(value[1:]):
        return None
    segments = value[1:].split("/")
    root = segments[0]
    deeper = [s for s in segments[1:] if s]
    if root in _SYSTEM_ROOTS or (root == "usr" and deeper[:1] and deeper[0] in _SYSTEM_USR):
        return None
    if root == "var" and deeper[:1] == ["tmp"]:
        return None
    if command or (root in _MACHINE_ROOTS and deeper) or (len(segments) >= 2 and _DATA_SUFFIX.search(value)):
        return "Absolute path"
    return None
