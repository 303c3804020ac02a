"""Configuration from ``[tool.nbhygiene]`` in ``pyproject.toml`` (and the CLI's overrides).

```toml
[tool.nbhygiene]
select = ["NBH0", "preprocessing-leakage"]   # codes, code prefixes, names or families; default: all
ignore = ["kernel-not-fresh"]
fail-on = "warning"                          # error | warning | info
exclude = ["scratch/**"]
builtins = ["spark", "dbutils"]              # names your platform injects
[tool.nbhygiene.severity]
stale-output = "error"
[tool.nbhygiene.per-file-ignores]
"tutorials/*.ipynb" = ["execution-order"]
[tool.nbhygiene.options.long-cell]
max-lines = 80
```
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbhygiene.findings import Severity

if TYPE_CHECKING:
    from nbhygiene.rule import Rule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """The configuration is invalid; the message says where and why."""


@dataclass(slots=True)
class Config:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    fail_on: Severity = Severity.WARNING
    exclude: list[str] = field(default_factory=list)
    builtins: list[str] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    root: str = "."
    source: str | None = None  # the pyproject.toml it came from

    def fingerprint(self) -> str:
        payload = {
            "select": self.select,
            "ignore": self.ignore,
            "extend_select": self.extend_select,
            "builtins": sorted(self.builtins),
            "severity": {k: v.value for k, v in sorted(self.severity.items())},
            "per_file_ignores": self.per_file_ignores,
            "options": self.options,
        }
        return hashlib.blake2b(json.dumps(payload, sort_keys=True).encode(), digest_size=12).hexdigest()

    # -- selection -------------------------------------------------------------------------------
    def is_enabled(self, rule: type[Rule]) -> bool:
        select = self.select or ["ALL"]
        if not any(_matches(rule, s) for s in [*select, *self.extend_select]):
            return False
        return not any(_matches(rule, i) for i in self.ignore)

    def severity_of(self, rule: type[Rule]) -> Severity:
        return self.severity.get(rule.name) or self.severity.get(rule.code) or rule.severity

    def options_for(self, rule: type[Rule]) -> dict[str, Any]:
        if not self.options:
            return rule.options
        merged = dict(rule.options)
        merged.update(self.options.get(rule.name, {}))
        merged.update(self.options.get(rule.code, {}))
        return merged

    def ignored_for_path(self, path: str) -> list[str]:
        if not self.per_file_ignores:
            return []
        relative = _relative(path, self.root)
        ignored: list[str] = []
        for pattern, rules in self.per_file_ignores.items():
            if _glob_match(relative, pattern) or _glob_match(path, pattern):
                ignored.extend(rules)
        return ignored

    def is_excluded(self, path: str) -> bool:
        if not self.exclude:
            return False
        relative = _relative(path, self.root)
        for pattern in self.exclude:
            if _glob_match(relative, pattern) or _glob_match(path, pattern):
                return True
            stripped = pattern.rstrip("/")
            if relative == stripped or relative.startswith(stripped + "/"):
                return True
        return False


def _relative(path: str, root: str) -> str:
    try:
        return os.path.relpath(os.path.abspath(path), os.path.abspath(root)).replace(os.sep, "/")
    except ValueError:  # another drive on Windows
        return path.replace(os.sep, "/")


def _glob_match(path: str, pattern: str) -> bool:
    return fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(os.path.basename(path), pattern)


def rule_matches(rule: type[Rule], selector: str) -> bool:
    return _matches(rule, selector)


def _matches(rule: type[Rule], selector: str) -> bool:
    selector = selector.strip()
    if not selector:
        return False
    if selector.upper() == "ALL":
        return True
    lowered = selector.lower()
    if lowered == rule.name:
        return True
    if lowered == rule.family.value:
        # A family shares its name with one rule (`glue-code`): the rule's name wins.
        from nbhygiene.rules import find_rule

        return find_rule(lowered) is None

    return rule.code.upper().startswith(selector.upper()) and selector.upper().startswith("NBH")


def find_pyproject(start: str) -> str | None:
    current = os.path.abspath(start)
    if os.path.isfile(current):
        current = os.path.dirname(current)
    while True:
        candidate = os.path.join(current, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def load_config(start: str = ".", path: str | None = None) -> Config:
    """The configuration for ``start`` (the nearest ``pyproject.toml`` upward), or the defaults."""
    pyproject = path or find_pyproject(start)
    if pyproject is None:
        return Config(root=os.path.abspath(start if os.path.isdir(start) else os.path.dirname(start) or "."))
    try:
        with open(pyproject, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{pyproject}: cannot read configuration: {exc}") from None
    section = data.get("tool", {}).get("nbhygiene", {})
    config = config_from_mapping(section, where=f"{pyproject} [tool.nbhygiene]")
    config.root = os.path.dirname(os.path.abspath(pyproject))
    config.source = pyproject
    return config


_KNOWN_KEYS = {
    "select",
    "ignore",
    "extend-select",
    "fail-on",
    "exclude",
    "builtins",
    "severity",
    "per-file-ignores",
    "options",
    "monitor",
}


def config_from_mapping(section: dict[str, Any], where: str = "configuration") -> Config:
    def find_rule(key: str) -> type[Rule] | None:
        from nbhygiene.rules import find_rule as find

        return find(key)

    if not isinstance(section, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = set(section) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")

    def strings(key: str) -> list[str]:
        value = section.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: '{key}' must be a list of strings")
        return list(value)

    config = Config(
        select=strings("select"),
        ignore=strings("ignore"),
        extend_select=strings("extend-select"),
        exclude=strings("exclude"),
        builtins=strings("builtins"),
    )
    try:
        config.fail_on = Severity.parse(section.get("fail-on", "warning"))
    except ValueError as exc:
        raise ConfigError(f"{where}: fail-on: {exc}") from None
    severities = section.get("severity", {})
    if not isinstance(severities, dict):
        raise ConfigError(f"{where}: 'severity' must be a table of rule = severity")
    for key, value in severities.items():
        rule = find_rule(key)
        if rule is None:
            raise ConfigError(f"{where}: severity: unknown rule {key!r}")
        try:
            config.severity[rule.name] = Severity.parse(str(value))
        except ValueError as exc:
            raise ConfigError(f"{where}: severity.{key}: {exc}") from None
    per_file = section.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise ConfigError(f"{where}: 'per-file-ignores' must be a table of glob = [rules]")
    for pattern, rules in per_file.items():
        if isinstance(rules, str):
            rules = [rules]
        if not isinstance(rules, list):
            raise ConfigError(f"{where}: per-file-ignores.{pattern} must be a list of rules")
        config.per_file_ignores[str(pattern)] = [str(r) for r in rules]
    options = section.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: 'options' must be a table of rule tables")
    for key, values in options.items():
        rule = find_rule(key)
        if rule is None:
            raise ConfigError(f"{where}: options: unknown rule {key!r}")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: options.{key} must be a table")
        unknown_options = set(values) - set(rule.options)
        if unknown_options:
            known = ", ".join(sorted(rule.options)) or "none"
            raise ConfigError(
                f"{where}: options.{key}: unknown option(s) {', '.join(sorted(unknown_options))} (known: {known})"
            )
        config.options[rule.name] = dict(values)
    return config
