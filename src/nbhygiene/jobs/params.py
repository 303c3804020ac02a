"""Typed parameters from the command line, parameter files and grids.

Values are YAML (so JSON works too), read with YAML 1.2 rules rather than PyYAML's YAML 1.1 defaults:
``-p country no`` must give the string ``"no"``, not ``False``, and ``-p day 2024-01-01`` the string,
not a ``date`` that JSON cannot hold. Only ``true``/``false`` are booleans, only ``null``/``~`` is None.
"""

from __future__ import annotations

import itertools
import json
import keyword
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from nbhygiene.jobs.errors import UsageError

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
# Decimal integers only: YAML 1.1 reads "012" as octal 10 and "1:20" as 80 (a zip code, a time).
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(
    r"^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)
MAX_GRID_RUNS = 10_000


def _loader_class() -> Any:
    import yaml

    class Yaml12SafeLoader(yaml.SafeLoader):
        """SafeLoader with the YAML 1.2 core schema's booleans/nulls and no implicit timestamps."""

    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag not in _DROPPED_TAGS]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Yaml12SafeLoader.yaml_implicit_resolvers = resolvers
    Yaml12SafeLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
    Yaml12SafeLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
    Yaml12SafeLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
    Yaml12SafeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789"))
    return Yaml12SafeLoader


_DROPPED_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
_LOADER: Any = None


def load_yaml(text: str, origin: str) -> Any:
    """Parse YAML (or JSON) text; ``origin`` names where it came from in the error message."""
    global _LOADER
    import yaml

    if _LOADER is None:
        _LOADER = _loader_class()
    try:
        value = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        detail = str(exc).replace("\n", " ")
        raise UsageError(f"{origin}: not valid YAML/JSON: {detail}") from None
    return check_json_value(value, origin)


def check_json_value(value: Any, origin: str) -> Any:
    """Reject what JSON cannot carry (binary, sets, non-string keys, NaN) with a message, not a crash."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{origin}: the value cannot be stored as JSON ({exc})") from None
    return json.loads(text)


def parse_value(text: str, name: str) -> Any:
    return load_yaml(text, f"-p {name}")


def check_name(name: str, origin: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"{origin}: {name!r} is not a valid parameter name (it must be a Python identifier)")
    return name


def read_text_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{what} {path}: is a directory") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{what} {path}: {exc.strerror or exc}") from None


def load_params_file(path: str) -> dict[str, Any]:
    value = load_yaml(read_text_file(path, "parameters file"), path)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(
            f"{path}: a parameters file must be a mapping of name to value, not a {_kind(value)}"
        )
    for name in value:
        check_name(name, path)
    return dict(value)


def user_parameters(pairs: Sequence[Sequence[str]] | None, files: Sequence[str] | None) -> dict[str, Any]:
    """Files first (in order), then ``-p`` pairs: the command line has the last word."""
    params: dict[str, Any] = {}
    for path in files or []:
        params.update(load_params_file(path))
    for name, text in pairs or []:
        params[check_name(name, "-p")] = parse_value(text, name)
    return params


def load_grid(path: str) -> list[dict[str, Any]]:
    """A grid file: a mapping of parameter to list of values (cartesian product), or a list of mappings
    (explicit combinations). A scalar in the mapping form is a value shared by every combination."""
    value = load_yaml(read_text_file(path, "grid file"), path)
    return expand_grid(value, path)


def expand_grid(value: Any, origin: str) -> list[dict[str, Any]]:
    if isinstance(value, list):
        if not value:
            raise UsageError(f"{origin}: the grid is an empty list; give at least one combination")
        combinations = []
        for position, item in enumerate(value, 1):
            if not isinstance(item, dict):
                raise UsageError(
                    f"{origin}: item {position} of the combination list is a {_kind(item)}; "
                    "each combination must be a mapping of parameter to value"
                )
            for name in item:
                check_name(name, origin)
            combinations.append(dict(item))
        return combinations
    if isinstance(value, dict):
        if not value:
            raise UsageError(f"{origin}: the grid is empty; map each parameter to a list of values")
        names = [check_name(name, origin) for name in value]
        axes: list[list[Any]] = []
        for name in names:
            values = value[name]
            if isinstance(values, list):
                if not values:
                    raise UsageError(f"{origin}: parameter {name!r} has an empty list of values")
                axes.append(values)
            else:
                axes.append([values])
        total = math.prod(len(axis) for axis in axes)
        if total > MAX_GRID_RUNS:
            raise UsageError(f"{origin}: the grid expands to {total} runs (more than {MAX_GRID_RUNS})")
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    raise UsageError(
        f"{origin}: a grid must be a mapping of parameter to list of values, or a list of combinations, "
        f"not a {_kind(value)}"
    )


def combine(base: dict[str, Any], grid: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """One parameter set per run: the base alone, or the base overlaid with each grid combination."""
    if grid is None:
        return [dict(base)]
    runs = []
    for combination in grid:
        clash = sorted(set(base) & set(combination))
        if clash:
            raise UsageError(
                f"parameter {', '.join(clash)} is given both by -p/-f and by the grid; give it in one place"
            )
        runs.append({**base, **combination})
    return runs


def effective_parameters(defaults: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    return {**defaults, **user}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "mapping",
        list: "list",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), type(value).__name__)
