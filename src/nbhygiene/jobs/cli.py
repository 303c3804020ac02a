"""The ``run`` and ``runs`` commands.

``add_subcommands(subparsers)`` registers them on the main ``nbhygiene`` parser; every handler takes the
parsed arguments and returns the exit code. This module is imported whenever the CLI starts, so it
imports only the standard library: papermill, nbclient, jupyter_client and Dask are imported by the
handlers that execute notebooks, and not before they are needed.

Exit codes: 0 success (all runs succeeded or were cached; no regression), 1 a run failed, timed out or
was interrupted / a rerun drifted / a metric regressed, 2 a usage error, 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMATS = ("text", "json")


def _bounded(
    convert: Callable[[str], Any], noun: str, accept: Callable[[Any], bool], requirement: str
) -> Any:
    """An argparse ``type`` that converts and checks a number, with a message argparse shows as is."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not accept(value):  # also false for NaN
            raise argparse.ArgumentTypeError(requirement)
        return value

    return parse


_INFINITY = float("inf")
_positive_int = _bounded(int, "a whole number", lambda v: v >= 1, "must be at least 1")
_non_negative_int = _bounded(int, "a whole number", lambda v: v >= 0, "must be 0 or more")
_positive_float = _bounded(
    float, "a number", lambda v: 0 < v < _INFINITY, "must be a positive number of seconds"
)
_non_negative_float = _bounded(
    float, "a number", lambda v: 0 <= v < _INFINITY, "must be a non-negative number"
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="DIR",
        default=None,
        help="run store folder (default: $NBHYGIENE_STORE, else .nbhygiene at the project root)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")


def add_subcommands(subparsers: Any) -> None:
    """Register ``run`` and ``runs`` (with its nested commands) on an argparse sub-parser collection."""
    run = subparsers.add_parser(
        "run",
        help="execute a notebook as a versioned, parameterized job",
        description="Execute NOTEBOOK with parameters (or a grid of them) in fresh kernels and record each "
        "execution as a run in the run store. A run whose key (code, parameters, environment, inputs, "
        "location) matches an earlier successful run is not executed again unless --force.",
    )
    run.add_argument(
        "notebook", metavar="NOTEBOOK", help="the notebook (it needs a cell tagged 'parameters')"
    )
    run.add_argument(
        "-p",
        "--parameter",
        dest="param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="set a parameter; VALUE is YAML/JSON (0.1, [1, 2], {a: 1}, text)",
    )
    run.add_argument(
        "-f",
        "--parameters-file",
        dest="params_file",
        action="append",
        metavar="params.yaml",
        help="a YAML/JSON mapping of parameters (-p overrides it)",
    )
    run.add_argument(
        "--grid",
        metavar="grid.yaml",
        help="a mapping of parameter to list of values (cartesian product) or a list of combinations",
    )
    run.add_argument(
        "--input",
        dest="inputs",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="data files the run reads: their content is part of the run's key",
    )
    run.add_argument(
        "--jobs",
        "-j",
        type=_positive_int,
        default=None,
        metavar="N",
        help="runs executing at once (default: the number of cores)",
    )
    run.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local kernels (default) or a Dask cluster",
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="an existing Dask scheduler (tcp://host:8786); implies --executor dask",
    )
    run.add_argument(
        "--timeout",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="whole-notebook timeout; the kernel is killed when it passes",
    )
    run.add_argument(
        "--retries",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="retries after infrastructure failures (dead kernel, lost worker); never for a "
        "cell's exception (default: 0)",
    )
    run.add_argument("--force", action="store_true", help="execute even when an identical run succeeded")
    run.add_argument(
        "--cwd",
        metavar="DIR",
        default=None,
        help="the kernel's working directory (default: the notebook's directory)",
    )
    _common(run)
    run.set_defaults(handler=handle_run)

    runs = subparsers.add_parser(
        "runs",
        help="run history: list, show, compare, rerun, monitor, plot, ...",
        description="Query and maintain the run store.",
    )
    nested = runs.add_subparsers(dest="runs_command", metavar="COMMAND")
    runs.set_defaults(handler=functools.partial(_missing_subcommand, runs))

    listing = nested.add_parser("list", help="list runs, newest first")
    listing.add_argument(
        "notebook", metavar="NOTEBOOK", nargs="?", default=None, help="only this notebook's runs"
    )
    listing.add_argument("--status", default=None, help="only runs with this status")
    listing.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="at most N runs")
    _common(listing)
    listing.set_defaults(handler=handle_list)

    show = nested.add_parser(
        "show", help="one run in detail, and what changed in its key against another run"
    )
    show.add_argument("run_id", metavar="ID", help="a run id, a unique prefix or suffix of one, or 'latest'")
    show.add_argument(
        "--against",
        metavar="ID",
        default=None,
        help="the run to explain the key against (default: the newest earlier run of the same "
        "notebook with another key)",
    )
    _common(show)
    show.set_defaults(handler=handle_show)

    compare = nested.add_parser("compare", help="parameters and metrics of runs side by side")
    compare.add_argument("run_ids", metavar="ID", nargs="+", help="two or more runs")
    compare.add_argument("--all", action="store_true", help="show equal rows too")
    _common(compare)
    compare.set_defaults(handler=handle_compare)

    rerun = nested.add_parser("rerun", help="re-execute a stored run and report whether it reproduced")
    rerun.add_argument("run_id", metavar="ID")
    rerun.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS")
    rerun.add_argument("--retries", type=_non_negative_int, default=0, metavar="N")
    _common(rerun)
    rerun.set_defaults(handler=handle_rerun)

    reindex = nested.add_parser("reindex", help="rebuild the SQLite index from the run folders")
    _common(reindex)
    reindex.set_defaults(handler=handle_reindex)

    gc = nested.add_parser("gc", help="delete old runs and leftovers (never a key's newest successful run)")
    gc.add_argument(
        "--keep-last",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="keep the newest N runs of each notebook and parameter set",
    )
    gc.add_argument(
        "--older-than",
        type=_non_negative_float,
        default=None,
        metavar="DAYS",
        help="only runs started more than DAYS ago",
    )
    gc.add_argument("--status", action="append", default=None, help="only runs with this status (repeatable)")
    gc.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    _common(gc)
    gc.set_defaults(handler=handle_gc)

    monitor = nested.add_parser(
        "monitor",
        help="exit 1 when the latest successful run regresses against the median of earlier ones",
        description="Compare the latest successful run of NOTEBOOK (per parameter set) with the median of the "
        "previous N successful runs with the same parameters. Without --metric, the rules in "
        "[tool.nbhygiene.monitor] of pyproject.toml apply. Exit 0: no regression, 1: regression, 2: usage error.",
    )
    monitor.add_argument("notebook", metavar="NOTEBOOK")
    monitor.add_argument("--metric", default=None, help="the metric to watch")
    monitor.add_argument(
        "--max-drop",
        type=_non_negative_float,
        default=None,
        metavar="X",
        help="largest allowed drop (higher is better)",
    )
    monitor.add_argument(
        "--max-rise",
        type=_non_negative_float,
        default=None,
        metavar="X",
        help="largest allowed rise (lower is better, e.g. a loss)",
    )
    monitor.add_argument(
        "--window",
        type=_positive_int,
        default=None,
        metavar="N",
        help="how many earlier successful runs form the baseline (default: 5)",
    )
    _common(monitor)
    monitor.set_defaults(handler=handle_monitor)

    plot = nested.add_parser("plot", help="draw a metric's history as a PNG")
    plot.add_argument("notebook", metavar="NOTEBOOK")
    plot.add_argument("--metric", required=True)
    plot.add_argument(
        "--output",
        "-o",
        metavar="FILE.png",
        default=None,
        help="where to write the PNG (default: <store>/plots/<notebook>-<metric>.png)",
    )
    _common(plot)
    plot.set_defaults(handler=handle_plot)

    export = nested.add_parser("export", help="copy runs to another tracker (MLflow)")
    export.add_argument(
        "run_ids", metavar="ID", nargs="*", help="runs to export (default: all finished runs)"
    )
    export.add_argument(
        "--mlflow", action="store_true", required=True, help="export to MLflow's tracking API"
    )
    export.add_argument("--experiment", default=None, help="MLflow experiment (default: the notebook's name)")
    export.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: MLflow's own)")
    _common(export)
    export.set_defaults(handler=handle_export)


# ------------------------------------------------------------------------------------------ plumbing
def _error(args: argparse.Namespace, message: str, code: int) -> int:
    print(f"nbhygiene: error: {message}", file=sys.stderr)
    if getattr(args, "format", "text") == "json":
        from nbhygiene.jobs.report import emit_json

        emit_json({"error": {"message": message, "exit_code": code}})
    return code


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Expected failures become a message and exit code 2, never a traceback."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        from nbhygiene.jobs.errors import StoreError, UsageError

        try:
            return handler(args)
        except (UsageError, StoreError) as exc:
            return _error(args, str(exc), EXIT_USAGE)
        except KeyboardInterrupt:
            print("nbhygiene: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # `nbhygiene runs list | head`
            sys.stderr.close()
            return EXIT_OK
        except Exception as exc:
            import sqlite3

            if isinstance(exc, sqlite3.Error):
                return _error(
                    args, f"the run index failed: {exc} (`nbhygiene runs reindex` rebuilds it)", EXIT_USAGE
                )
            if isinstance(exc, OSError):
                where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
                return _error(args, f"{exc.strerror or exc}{where}", EXIT_USAGE)
            if os.environ.get("NBHYGIENE_DEBUG"):
                traceback.print_exc()
            return _error(
                args,
                f"internal error: {type(exc).__name__}: {exc} (set NBHYGIENE_DEBUG=1 for the "
                "traceback, and please report it)",
                3,
            )

    return wrapper


def _missing_subcommand(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _open_store(args: argparse.Namespace, *, create: bool) -> Any:
    from nbhygiene.jobs.store import RunStore

    store = RunStore.open(args.store, create=create)
    if store.exists():
        store.recover()
    return store


def _skip_slow_optional_imports() -> None:
    # nbformat imports jsonschema, whose format checkers import rfc3987_syntax when installed, which
    # builds a grammar for ~1 s. Notebook schemas use no IRI format, so this process does without it.
    if "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------- run
@_guarded
def handle_run(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.batch import BatchOptions, run_batch
    from nbhygiene.jobs.params import combine, load_grid, user_parameters
    from nbhygiene.jobs.report import emit_json, print_runs

    base = user_parameters(args.param, args.params_file)
    grid = load_grid(args.grid) if args.grid else None
    param_sets = combine(base, grid)
    executor = "dask" if args.scheduler else args.executor
    options = BatchOptions(
        jobs=args.jobs or os.cpu_count() or 1,
        executor=executor,
        scheduler=args.scheduler,
        timeout=args.timeout,
        retries=args.retries,
        force=args.force,
    )
    store = _open_store(args, create=True)
    _skip_slow_optional_imports()
    with store:
        result = run_batch(
            store, args.notebook, param_sets, inputs=args.inputs, cwd=args.cwd, options=options
        )
        if args.format == "json":
            emit_json({"runs": result.runs})
        else:
            print_runs(result.runs)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_FAILED


# --------------------------------------------------------------------------------------------- runs
@_guarded
def handle_list(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.history import list_runs
    from nbhygiene.jobs.report import emit_json, print_runs

    store = _open_store(args, create=False) if _store_exists(args) else None
    runs = (
        []
        if store is None
        else list_runs(store, notebook=args.notebook, status=args.status, limit=args.limit)
    )
    if args.format == "json":
        emit_json({"runs": runs})
    elif runs:
        print_runs(runs)
    else:
        print("no runs")
    return EXIT_OK


def _store_exists(args: argparse.Namespace) -> bool:
    from nbhygiene.jobs.store import find_store_dir

    return os.path.isdir(os.path.join(find_store_dir(args.store), "runs"))


@_guarded
def handle_show(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.history import format_show, show_run
    from nbhygiene.jobs.report import emit_json

    with _open_store(args, create=False) as store:
        document = show_run(store, args.run_id, args.against)
    if args.format == "json":
        emit_json(document)
    else:
        print(format_show(document))
    return EXIT_OK


@_guarded
def handle_compare(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.history import compare_runs, format_compare
    from nbhygiene.jobs.report import emit_json

    with _open_store(args, create=False) as store:
        document = compare_runs(store, args.run_ids)
    if args.format == "json":
        emit_json(document)
    else:
        print(format_compare(document, args.all))
    return EXIT_OK


@_guarded
def handle_rerun(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.batch import BatchOptions, run_batch
    from nbhygiene.jobs.errors import UsageError
    from nbhygiene.jobs.files import read_json
    from nbhygiene.jobs.history import drift_between
    from nbhygiene.jobs.notebook_info import describe_notebook
    from nbhygiene.jobs.report import emit_json, print_runs

    with _open_store(args, create=False) as store:
        original_id = store.resolve_id(args.run_id)
        record = store.load_record(original_id)
        if record["status_record"].get("status") == "running":
            raise UsageError(f"run {original_id} is still running")
        notebook = record.get("notebook") or {}
        original_path = notebook.get("absolute_path") or os.path.join(store.root, notebook.get("path", ""))
        try:
            data = read_json(record["paths"].input_notebook)
        except (OSError, ValueError):
            raise UsageError(
                f"run {original_id}: its stored input notebook is missing or unreadable"
            ) from None
        # The stored copy is what executes; its original path keeps relative data paths and the key's
        # location the same as the first time.
        info = describe_notebook(data, original_path)
        cwd = record.get("cwd") or os.path.dirname(original_path)
        inputs = [
            os.path.join(store.root, item["path"]) if not os.path.isabs(item["path"]) else item["path"]
            for item in record.get("inputs") or []
        ]
        options = BatchOptions(
            jobs=1, timeout=args.timeout or record.get("timeout"), retries=args.retries, force=True
        )
        _skip_slow_optional_imports()
        result = run_batch(
            store,
            original_path,
            [record.get("user_params") or {}],
            inputs=inputs,
            cwd=cwd,
            options=options,
            origin="rerun",
            rerun_of=original_id,
            info=info,
        )
        new = result.runs[0]
        drift = drift_between(store, original_id, new["id"]) if new.get("id") else []
        reproduced = bool(new.get("id")) and not drift
        if args.format == "json":
            emit_json({"run": new, "original": original_id, "reproduced": reproduced, "drift": drift})
        else:
            print_runs([new], summary=False)
            if reproduced:
                print(f"reproduced: run {new['id']} matches run {original_id}")
            else:
                print(f"drifted: run {new.get('id')} differs from run {original_id}:")
                for item in drift:
                    if "details" in item:
                        for detail in item["details"]:
                            print(f"  {item['what']}: {detail}")
                    else:
                        print(
                            f"  {item['what']} {item['name']}: {item.get('before')!r} -> {item.get('after')!r}"
                        )
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if reproduced else EXIT_FAILED


@_guarded
def handle_reindex(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.report import emit_json

    with _open_store(args, create=True) as store:
        count = store.reindex()
        path = store.index_path
    if args.format == "json":
        emit_json({"indexed": count, "index": path})
    else:
        print(f"indexed {count} run(s) in {path}")
    return EXIT_OK


@_guarded
def handle_gc(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.history import collect_garbage
    from nbhygiene.jobs.report import emit_json

    with _open_store(args, create=False) as store:
        document = collect_garbage(
            store,
            keep_last=args.keep_last,
            older_than_days=args.older_than,
            statuses=args.status,
            dry_run=args.dry_run,
        )
    if args.format == "json":
        emit_json(document)
    else:
        verb = "would delete" if args.dry_run else "deleted"
        print(
            f"{verb} {len(document['deleted'])} run(s) and {len(document['leftovers'])} leftover(s), "
            f"{document['freed_bytes'] / 1e6:.1f} MB"
        )
        for run_id in document["deleted"]:
            print(f"  {run_id}")
    return EXIT_OK


@_guarded
def handle_monitor(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.errors import UsageError
    from nbhygiene.jobs.monitor import (
        DEFAULT_WINDOW,
        MonitorRule,
        format_monitor,
        load_monitor_config,
        monitor,
    )
    from nbhygiene.jobs.report import emit_json

    if args.metric is None and (args.max_drop is not None or args.max_rise is not None):
        raise UsageError("--max-drop/--max-rise need --metric")
    with _open_store(args, create=False) as store:
        configured, configured_window = load_monitor_config(os.getcwd())
        if args.metric is not None:
            if args.max_drop is None and args.max_rise is None:
                match = [r for r in configured if r.metric == args.metric]
                if not match:
                    raise UsageError(
                        f"--metric {args.metric}: give --max-drop or --max-rise (or a rule in "
                        "[tool.nbhygiene.monitor.metrics])"
                    )
                rules = match
            else:
                rules = [MonitorRule(args.metric, args.max_drop, args.max_rise)]
        else:
            rules = configured
            if not rules:
                raise UsageError(
                    "give --metric NAME --max-drop X, or rules in [tool.nbhygiene.monitor.metrics]"
                )
        window = args.window or configured_window or DEFAULT_WINDOW
        document = monitor(store, args.notebook, rules, window)
    if args.format == "json":
        emit_json(document)
    else:
        print(format_monitor(document))
    return EXIT_FAILED if document["regressed"] else EXIT_OK


@_guarded
def handle_plot(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.plot import metric_history, write_plot
    from nbhygiene.jobs.report import emit_json

    with _open_store(args, create=False) as store:
        history = metric_history(store, args.notebook, args.metric)
        output = args.output
        if output is None:
            stem = os.path.splitext(os.path.basename(history["notebook"]))[0]
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{stem}-{args.metric}")
            os.makedirs(os.path.join(store.path, "plots"), exist_ok=True)
            output = os.path.join(store.path, "plots", safe + ".png")
        write_plot(history, os.path.abspath(output))
    if args.format == "json":
        emit_json({"plot": os.path.abspath(output), **history})
    else:
        print(os.path.abspath(output))
    return EXIT_OK


@_guarded
def handle_export(args: argparse.Namespace) -> int:
    from nbhygiene.jobs.mlflow_export import export_runs
    from nbhygiene.jobs.report import emit_json

    with _open_store(args, create=False) as store:
        document = export_runs(
            store, args.run_ids, experiment=args.experiment, tracking_uri=args.tracking_uri
        )
    if args.format == "json":
        emit_json(document)
    else:
        print(f"exported {len(document['exported'])} run(s) to MLflow")
        for item in document["exported"]:
            print(f"  {item['id']} -> {item['mlflow_run_id']}")
    return EXIT_OK
