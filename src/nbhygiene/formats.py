"""Renderers for check results: text, json, sarif, github. Every one renders the same Finding records."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from nbhygiene.__about__ import __version__
from nbhygiene.findings import FileResult, Finding, Severity

FORMATS = ("text", "json", "sarif", "github")
JSON_VERSION = 1


def summary(results: Sequence[FileResult]) -> dict[str, Any]:
    counts = {s.value: 0 for s in Severity}
    by_rule: dict[str, int] = {}
    for result in results:
        for finding in result.findings:
            counts[finding.severity.value] += 1
            by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
    return {
        "files": len(results),
        "cached": sum(1 for r in results if r.cached),
        "files_with_errors": sum(1 for r in results if r.error),
        "findings": sum(counts.values()),
        "by_severity": counts,
        "by_rule": dict(sorted(by_rule.items())),
    }


def render_json(results: Sequence[FileResult]) -> str:
    document = {
        "version": JSON_VERSION,
        "files": [r.to_json() for r in results],
        "summary": summary(results),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _where(finding: Finding) -> str:
    if finding.cell_position is None:
        return finding.path
    return f"{finding.path}:cell {finding.cell_position}:{finding.line or 1}:{finding.column or 1}"


def render_text(results: Sequence[FileResult], color: bool = False) -> str:
    lines: list[str] = []
    colors = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
    for result in results:
        if result.error:
            lines.append(f"{result.path}: error: {result.error.kind}: {result.error.message}")
        for finding in result.findings:
            code = f"{colors[finding.severity]}{finding.code}\033[0m" if color else finding.code
            lines.append(f"{_where(finding)}: {code} [{finding.rule}] {finding.message}")
    total = summary(results)
    by = total["by_severity"]
    parts = [
        f"{total['findings']} finding(s) ({by['error']} error, {by['warning']} warning, {by['info']} info)"
    ]
    parts.append(f"in {total['files']} notebook(s)")
    if total["files_with_errors"]:
        parts.append(f"{total['files_with_errors']} could not be analysed")
    lines.append(("Found " if total["findings"] else "No findings: ") + ", ".join(parts) + ".")
    return "\n".join(lines)


def _raw_maps(results: Sequence[FileResult]) -> dict[str, Any]:
    from nbhygiene.rawlines import map_cells

    maps: dict[str, Any] = {}
    for result in results:
        if result.findings and result.path not in maps:
            try:
                with open(result.path, encoding="utf-8", errors="replace") as handle:
                    maps[result.path] = map_cells(handle.read())
            except OSError:
                maps[result.path] = {}
    return maps


def _escape_github(value: str, property_value: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def render_github(results: Sequence[FileResult]) -> str:
    from nbhygiene.rawlines import raw_position

    maps = _raw_maps(results)
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines: list[str] = []
    for result in results:
        if result.error:
            lines.append(
                f"::error file={_escape_github(result.path, True)}::{_escape_github(result.error.message)}"
            )
        for finding in result.findings:
            line, column = raw_position(
                maps.get(result.path, {}), finding.cell_index, finding.line, finding.column
            )
            cell = f"cell {finding.cell_position}: " if finding.cell_position else ""
            title = _escape_github(f"{finding.code} {finding.rule}", True)
            lines.append(
                f"::{level[finding.severity]} file={_escape_github(result.path, True)},line={line},col={column},"
                f"title={title}::{_escape_github(cell + finding.message)}"
            )
    return "\n".join(lines)


def render_sarif(results: Sequence[FileResult], root: str = ".") -> str:
    from nbhygiene.rawlines import raw_position
    from nbhygiene.rules import all_rules

    rules = list(all_rules())
    index = {rule.code: i for i, rule in enumerate(rules)}
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    maps = _raw_maps(results)
    root_abs = os.path.abspath(root)
    sarif_results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for result in results:
        uri = _uri(result.path, root_abs)
        if result.error:
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": result.error.message},
                    "descriptor": {"id": result.error.kind},
                    "locations": [{"physicalLocation": {"artifactLocation": _artifact(uri)}}],
                }
            )
        for finding in result.findings:
            line, column = raw_position(
                maps.get(result.path, {}), finding.cell_index, finding.line, finding.column
            )
            location: dict[str, Any] = {
                "physicalLocation": {
                    "artifactLocation": _artifact(uri),
                    "region": {"startLine": line, "startColumn": column},
                }
            }
            if finding.cell_position is not None:
                cell_name = f"cell {finding.cell_position}"
                location["logicalLocations"] = [
                    {
                        "name": cell_name,
                        "fullyQualifiedName": f"{uri}#{cell_name}",
                        "kind": "module",
                    }
                ]
                location["message"] = {
                    "text": f"cell {finding.cell_position}"
                    + (f" (id {finding.cell_id})" if finding.cell_id else "")
                    + (f", line {finding.line}" if finding.line else "")
                }
            entry: dict[str, Any] = {
                "ruleId": finding.code,
                "level": level[finding.severity],
                "message": {"text": f"[{finding.rule}] {finding.message}"},
                "locations": [location],
                "partialFingerprints": {
                    "nbhygiene/v1": f"{finding.rule}:{finding.cell_id or finding.cell_index}:{finding.source_hash or ''}"
                },
                "properties": {
                    "rule": finding.rule,
                    "cellIndex": finding.cell_index,
                    "cellId": finding.cell_id,
                    "cellPosition": finding.cell_position,
                    "cellLine": finding.line,
                    "cellColumn": finding.column,
                },
            }
            if finding.code in index:
                entry["ruleIndex"] = index[finding.code]
            sarif_results.append(entry)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nbhygiene",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://github.com/nbhygiene/nbhygiene",
                        "rules": [_sarif_rule(rule, level) for rule in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": _dir_uri(root_abs)}},
                "invocations": [
                    {"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}
                ],
                "results": sarif_results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _sarif_rule(rule: Any, level: dict[Severity, str]) -> dict[str, Any]:
    sections = rule.doc_sections()
    return {
        "id": rule.code,
        "name": "".join(part.capitalize() for part in rule.name.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": sections.get("What it does", rule.summary)},
        "help": {"text": sections.get("What to do instead", rule.summary), "markdown": rule.doc()},
        "defaultConfiguration": {"level": level[rule.severity]},
        "properties": {
            "tags": list(dict.fromkeys([rule.family.value, rule.name])),
            "problem.severity": rule.severity.value,
        },
    }


def _artifact(uri: str) -> dict[str, str]:
    return {"uri": uri} if uri.startswith("file://") else {"uri": uri, "uriBaseId": "%SRCROOT%"}


def _uri(path: str, root_abs: str) -> str:
    from urllib.parse import quote

    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, root_abs)
    except ValueError:
        relative = absolute
    if relative.startswith(".."):
        return "file://" + quote(absolute.replace(os.sep, "/"))
    return quote(relative.replace(os.sep, "/"))


def _dir_uri(path: str) -> str:
    from urllib.parse import quote

    uri = "file://" + quote(path.replace(os.sep, "/"))
    return uri if uri.endswith("/") else uri + "/"
