"""Baselines: adopt the hook on old notebooks and ratchet.

``--write-baseline FILE`` records every current finding by (path, rule, cell id, hash of the cell's
source); ``--baseline FILE`` then reports only findings not recorded there. Matching by cell id and
source (not by line or position) keeps a baseline valid when cells move; a cell whose source changes
is reviewed again. The file holds hashes, never source, so it cannot leak a secret.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence

from nbhygiene.findings import FileResult, Finding
from nbhygiene.io import atomic_write_text

BASELINE_VERSION = 1


class BaselineError(ValueError):
    pass


def _key(finding: Finding, root: str) -> tuple[str, str, str, str]:
    return (
        _relative(finding.path, root),
        finding.rule,
        finding.cell_id or "",
        finding.source_hash or "",
    )


def _relative(path: str, root: str) -> str:
    try:
        return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
    except ValueError:
        return path


def write_baseline(results: Sequence[FileResult], file: str, root: str) -> int:
    keys = Counter(_key(f, root) for r in results for f in r.findings)
    entries = [
        {"path": p, "rule": rule, "cell_id": cell or None, "source_hash": digest or None, "count": n}
        for (p, rule, cell, digest), n in sorted(keys.items())
    ]
    payload = {"version": BASELINE_VERSION, "tool": "nbhygiene", "findings": entries}
    atomic_write_text(file, json.dumps(payload, indent=1) + "\n")
    return sum(keys.values())


def read_baseline(file: str) -> Counter[tuple[str, str, str, str]]:
    try:
        with open(file, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {file}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"baseline {file} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise BaselineError(f"baseline {file} has no 'findings' list (write one with --write-baseline)")
    counter: Counter[tuple[str, str, str, str]] = Counter()
    for entry in data["findings"]:
        if not isinstance(entry, dict):
            continue
        key = (
            str(entry.get("path", "")),
            str(entry.get("rule", "")),
            entry.get("cell_id") or "",
            entry.get("source_hash") or "",
        )
        counter[key] += int(entry.get("count", 1))
    return counter


def apply_baseline(
    results: Sequence[FileResult], baseline: Counter[tuple[str, str, str, str]], root: str
) -> int:
    """Drop findings recorded in the baseline; return how many were dropped."""
    remaining = Counter(baseline)
    dropped = 0
    for result in results:
        kept: list[Finding] = []
        for finding in result.findings:
            key = _key(finding, root)
            if remaining[key] > 0:
                remaining[key] -= 1
                dropped += 1
            else:
                kept.append(finding)
        result.findings = kept
    return dropped
