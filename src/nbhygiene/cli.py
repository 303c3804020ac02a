"""The ``nbhygiene`` command line. The whole CLI is ``main(argv) -> int``.

Exit codes of ``check``: 0 no finding at or above ``--fail-on``; 1 such findings; 2 a usage error or a
file that could not be analysed. With ``--format json|sarif`` stdout holds exactly one document; logs
and progress go to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from nbhygiene.__about__ import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


CORE_COMMANDS = ("check", "rules", "rule")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; for a core ``command`` the other front ends' sub-commands are not even imported
    (a cached ``nbhygiene check`` in pre-commit must start fast)."""
    parser = _Parser(prog="nbhygiene", description="Find and pay down technical debt in Jupyter notebooks.")
    parser.add_argument("--version", action="version", version=f"nbhygiene {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="analyse notebooks for hidden state, glue code and ML pitfalls")
    check.add_argument("paths", nargs="*", metavar="PATH", help="notebooks or directories (default: .)")
    check.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text")
    check.add_argument(
        "--select", type=_csv, action="append", default=[], help="rules to run (codes, prefixes, names)"
    )
    check.add_argument("--ignore", type=_csv, action="append", default=[], help="rules to skip")
    check.add_argument("--fail-on", choices=("error", "warning", "info"), default=None)
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings are reported")
    check.add_argument("--no-cache", action="store_true", help="do not read or write the results cache")
    check.add_argument("--baseline", metavar="FILE", help="report only findings not recorded in FILE")
    check.add_argument("--write-baseline", metavar="FILE", help="record all current findings in FILE")
    check.add_argument(
        "--config", metavar="PYPROJECT", help="configuration file (default: nearest pyproject.toml)"
    )
    check.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: every core)")
    check.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    check.add_argument("--quiet", "-q", action="store_true", help="text format: no summary line when clean")
    check.add_argument(
        "--fix",
        action="store_true",
        help="apply safe fixes and write them to NAME.fixed.ipynb next to each notebook",
    )
    check.add_argument("--in-place", action="store_true", help="with --fix: replace the notebooks themselves")
    check.add_argument(
        "--external",
        action="append",
        default=[],
        metavar="TOOL",
        help="also run TOOL through nbQA and merge its findings (repeatable; e.g. ruff, 'flake8 --max-line-length 100')",
    )
    check.add_argument(
        "--execute",
        action="store_true",
        help="also restart and run each notebook in a fresh kernel and report cells that do not reproduce",
    )
    check.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="with --execute: seconds per notebook (600)"
    )
    check.add_argument(
        "--save-executed", metavar="DIR", help="with --execute: keep the executed notebooks in DIR"
    )
    check.set_defaults(handler=run_check)

    rules = sub.add_parser("rules", help="list the rule catalogue")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.set_defaults(handler=run_rules)

    rule = sub.add_parser("rule", help="show a rule's documentation")
    rule.add_argument("name", metavar="NAME_OR_CODE")
    rule.add_argument("--format", choices=("text", "json"), default="text")
    rule.set_defaults(handler=run_rule)

    if command in CORE_COMMANDS:
        return parser
    for module in ("nbhygiene.jobs.cli", "nbhygiene.extract.cli", "nbhygiene.report.cli"):
        try:
            add = __import__(module, fromlist=["add_subcommands"]).add_subcommands
        except ImportError:
            continue
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(argv) if argv is not None else sys.argv[1:]
    parser = build_parser(arguments[0] if arguments else None)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse exits on usage errors and --help/--version
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("nbhygiene: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    from nbhygiene.baseline import BaselineError, apply_baseline, read_baseline, write_baseline
    from nbhygiene.config import ConfigError, load_config
    from nbhygiene.engine import check_paths, collect_paths
    from nbhygiene.findings import Severity
    from nbhygiene.formats import render_github, render_json, render_sarif, render_text

    paths = args.paths or ["."]
    try:
        config = load_config(paths[0] if os.path.exists(paths[0]) else ".", args.config)
    except ConfigError as exc:
        print(f"nbhygiene: {exc}", file=sys.stderr)
        return EXIT_USAGE
    select = [s for group in args.select for s in group]
    ignore = [s for group in args.ignore for s in group]
    if select:
        config.select = select
        config.extend_select = []
    config.ignore = [*config.ignore, *ignore]
    for selector in (*select, *ignore):
        from nbhygiene.rules import find_rule

        if (
            not selector.upper().startswith("NBH")
            and selector.upper() != "ALL"
            and ":" not in selector  # an external tool's code, e.g. ruff:E501
            and find_rule(selector) is None
        ):
            families = {"hidden-state", "notebook", "glue-code", "configuration", "ml-pitfalls", "external"}
            if selector.lower() not in families:
                print(f"nbhygiene: unknown rule {selector!r} (see `nbhygiene rules`)", file=sys.stderr)
                return EXIT_USAGE
    if args.fail_on:
        config.fail_on = Severity(args.fail_on)
    if args.in_place and not args.fix:
        print("nbhygiene: --in-place needs --fix", file=sys.stderr)
        return EXIT_USAGE
    if args.external:
        from nbhygiene.external import ExternalToolError, prepare

        try:
            external_tools = prepare(args.external)
        except ExternalToolError as exc:
            print(f"nbhygiene: {exc}", file=sys.stderr)
            return EXIT_USAGE
    missing = [p for p in paths if not os.path.exists(p)]
    files = collect_paths([p for p in paths if os.path.exists(p)], config)
    if args.execute:
        from nbhygiene.reproduce import check_paths_executed

        results = check_paths_executed(
            files, config, jobs=args.jobs, timeout=args.timeout, save_dir=args.save_executed
        )
    else:
        results = check_paths(files, config, jobs=args.jobs, use_cache=not args.no_cache)
    from nbhygiene.findings import FileError, FileResult

    for path in missing:
        results.append(FileResult(path, error=FileError("not-found", f"{path}: no such file or directory")))
    fix_failures = 0
    if args.fix:
        from nbhygiene.fixes import fix_results

        fix_failures = fix_results(results, config, in_place=args.in_place)
    if args.external:
        from nbhygiene.external import merge_external

        try:
            merged = merge_external(external_tools, results, config)
        except ExternalToolError as exc:
            print(f"nbhygiene: {exc}", file=sys.stderr)
            return EXIT_USAGE
        for warning in merged.warnings:
            print(f"nbhygiene: {warning}", file=sys.stderr)
        if not args.quiet:
            print(merged.describe(external_tools), file=sys.stderr)
    root = config.root
    if args.write_baseline:
        try:
            count = write_baseline(results, args.write_baseline, root)
        except OSError as exc:
            print(f"nbhygiene: cannot write baseline: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"nbhygiene: wrote {count} finding(s) to baseline {args.write_baseline}", file=sys.stderr)
    if args.baseline:
        try:
            dropped = apply_baseline(results, read_baseline(args.baseline), root)
        except BaselineError as exc:
            print(f"nbhygiene: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if dropped:
            print(f"nbhygiene: {dropped} finding(s) hidden by the baseline", file=sys.stderr)
    if args.format == "json":
        output = render_json(results)
    elif args.format == "sarif":
        output = render_sarif(results, root)
    elif args.format == "github":
        output = render_github(results)
    else:
        use_color = args.output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        output = render_text(results, color=use_color)
        if args.quiet and not any(r.findings or r.error for r in results):
            output = ""
    if args.output:
        from nbhygiene.io import atomic_write_text

        atomic_write_text(args.output, output + "\n")
    elif output:
        sys.stdout.write(output + "\n")
        sys.stdout.flush()
    if not files and not missing:
        print("nbhygiene: no notebooks found", file=sys.stderr)
    if any(r.error for r in results) or fix_failures:
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    threshold = config.fail_on.rank
    failing = any(
        f.severity.rank >= threshold and f.severity is not Severity.INFO for r in results for f in r.findings
    )
    return EXIT_FINDINGS if failing else EXIT_OK


def run_rules(args: argparse.Namespace) -> int:
    import json

    from nbhygiene.rules import all_rules

    rules = all_rules()
    if args.format == "json":
        print(json.dumps([rule.describe() for rule in rules], indent=2))
        return EXIT_OK
    width = max(len(rule.name) for rule in rules)
    for rule in rules:
        print(f"{rule.code}  {rule.name:<{width}}  {rule.severity.value:<7}  {rule.summary}")
    return EXIT_OK


def run_rule(args: argparse.Namespace) -> int:
    import json

    from nbhygiene.rules import find_rule

    rule = find_rule(args.name)
    if rule is None:
        print(f"nbhygiene: unknown rule {args.name!r} (see `nbhygiene rules`)", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        print(json.dumps({**rule.describe(), "doc": rule.doc(), "sections": rule.doc_sections()}, indent=2))
        return EXIT_OK
    print(
        f"{rule.name} ({rule.code}) — default severity: {rule.severity.value}, family: {rule.family.value}\n"
    )
    print(rule.doc())
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
