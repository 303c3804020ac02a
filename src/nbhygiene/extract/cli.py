"""``nbhygiene extract``: the command line over :func:`nbhygiene.extract.extract_cells`.

Exit codes: 0 verified (or extracted with ``--no-verify``); 1 refused or failed verification; 2 a usage
error (unknown cell, missing option, unreadable notebook). ``--format json`` prints exactly one JSON
document on stdout (an array of documents when several ``--tag`` values extract several functions).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK = 0
EXIT_NOT_DONE = 1
EXIT_USAGE = 2


def add_subcommands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="move notebook cells into a module function and prove by re-execution that nothing changed",
        description=(
            "Move cells into a function of a Python module, rewrite the notebook to import and call it, "
            "and verify by running both notebooks that outputs and values are unchanged."
        ),
    )
    parser.add_argument("notebook", metavar="NOTEBOOK")
    select = parser.add_mutually_exclusive_group(required=True)
    select.add_argument(
        "--cells", metavar="SPEC", help="1-based positions over all cells (3-5,8), cell ids, or id:ID"
    )
    select.add_argument(
        "--tag", action="append", metavar="TAG", help="cells carrying TAG (repeat for one function per tag)"
    )
    parser.add_argument("--module", required=True, metavar="PATH", help="module to create or extend (.py)")
    parser.add_argument("--function", metavar="NAME", help="function name (default: from the tag or cells)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--output", "-o", metavar="NEW.ipynb", help="write the rewritten notebook here")
    where.add_argument("--in-place", action="store_true", help="rewrite the notebook itself")
    parser.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run original and rewritten notebooks and compare them (default: --verify)",
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--timeout", type=float, default=600.0, metavar="SECONDS", help="time allowed for verification"
    )
    parser.set_defaults(handler=handler)


def handler(args: argparse.Namespace) -> int:
    from nbhygiene.extract.api import ExtractUsageError, extract_cells

    try:
        result = extract_cells(
            args.notebook,
            cells=args.cells,
            tag=args.tag,
            module=args.module,
            function=args.function,
            output=args.output,
            in_place=args.in_place,
            verify=args.verify,
            dry_run=args.dry_run,
            timeout=args.timeout,
        )
    except ExtractUsageError as exc:
        print(f"nbhygiene extract: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        documents = result.to_json_all()
        print(json.dumps(documents[0] if len(documents) == 1 else documents, indent=2))
    else:
        print(render_text(result, dry_run=args.dry_run))
    return EXIT_OK if result.ok else EXIT_NOT_DONE


def render_text(result: Any, dry_run: bool = False) -> str:
    lines: list[str] = []
    if result.status == "refused":
        lines.append(f"refused: {result.reason}")
        return "\n".join(lines)
    if result.status == "failed":
        lines.append(f"failed: {result.reason}")
        for difference in result.differences[1:6]:
            lines.append(f"  also: {difference}")
        lines.append("nothing was written")
        return "\n".join(lines)
    for extracted in result.functions:
        cells = ", ".join(str(p) for p in extracted.cells)
        if extracted.function:
            signature = f"{extracted.function}({', '.join(extracted.params)})"
            arrow = f" -> {', '.join(extracted.returns)}" if extracted.returns else ""
            lines.append(f"{result.status}: {signature}{arrow}  (cells {cells})")
        else:
            lines.append(f"{result.status}: moved {', '.join(extracted.helpers)}  (cells {cells})")
    lines.append(f"  module:   {result.module}")
    lines.append(f"  notebook: {result.notebook}")
    if result.test:
        lines.append(f"  test:     {result.test}")
    if result.status == "verified":
        lines.append(
            f"  checked {result.compared_cells} cell(s) and {result.compared_values} value(s) in fresh kernels"
            + (f"; {len(result.excluded)} nondeterministic item(s) excluded" if result.excluded else "")
        )
    else:
        lines.append("  not verified (--no-verify): only the static checks ran")
    for note in result.notes:
        lines.append(f"  note: {note}")
    if dry_run:
        lines.append("dry run: nothing was written")
        if result.module_text:
            lines.append(f"--- {result.module} ---")
            lines.append(result.module_text.rstrip("\n"))
        for cell in (result.notebook_data or {}).get("cells", []):
            if ((cell.get("metadata") or {}).get("nbhygiene") or {}).get("extract"):
                source = cell.get("source")
                lines.append(f"--- calling cell in {result.notebook} ---")
                lines.append("".join(source) if isinstance(source, list) else str(source))
    elif result.written:
        lines.append(f"  wrote {', '.join(result.written)}")
    else:
        lines.append("  nothing changed")
    return "\n".join(lines)
