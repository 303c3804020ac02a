"""``python -m nbhygiene.jobs run|runs ...``: the run commands on their own parser.

``nbhygiene run`` is the same thing once the main CLI registers these commands; this entry point stays
useful to call the run commands without the analyzer's CLI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nbhygiene.jobs.cli import EXIT_USAGE, add_subcommands


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbhygiene.jobs", description="nbhygiene run commands")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_subcommands(subparsers)
    args = parser.parse_args(list(argv) if argv is not None else None)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
