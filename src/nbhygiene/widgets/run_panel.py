"""``RunPanel(notebook)``: run a parameterized notebook from inside Jupyter, through the run store.

The panel is a front end to :mod:`nbhygiene.jobs`, the same machinery as ``nbhygiene run``: a form built
from the notebook's ``parameters`` cell (one field per parameter, typed by its default), a grid builder
(values per parameter, expanded to the cartesian product), a start button that hands the parameter sets
to :func:`~nbhygiene.jobs.batch.run_batch` (run keys, cached answers, fresh kernels, the run store), and a
table of the notebook's runs with their status, parameters and metrics, which follows a batch while it
runs.

The batch runs on a background thread: the kernel keeps answering the front end (and the widgets) while
the notebook's runs execute in their own kernels. Progress is read from the run store, which every run
updates as it goes (its ``status.json`` and an output notebook saved about once a second), so the panel
shows what ``nbhygiene runs list`` would show.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from typing import Any

import ipywidgets as widgets

from nbhygiene.jobs.errors import StoreError, UsageError
from nbhygiene.jobs.notebook_info import NotebookInfo, load_notebook_info
from nbhygiene.jobs.params import check_json_value, combine, expand_grid, parse_value
from nbhygiene.jobs.store import FINAL_STATUSES, find_store_dir
from nbhygiene.widgets.render import escape

POLL_SECONDS = 0.5
HISTORY_ROWS = 20
STATUS_COLORS = {
    "succeeded": "#2e7d32",
    "cached": "#2e7d32",
    "running": "#1565c0",
    "failed": "#c62828",
    "timeout": "#c62828",
    "interrupted": "#b26a00",
}


class ParameterField:
    """One parameter: a value widget typed by its default, and the values it takes in a grid."""

    def __init__(self, name: str, default: Any, *, computed: str | None = None) -> None:
        self.name = name
        self.default = default
        self.computed = computed  # the default's source when it is not a literal (``Path("data")``)
        self.kind = "expression" if computed is not None else _kind(default)
        description_width = {"description_width": "initial"}
        if self.kind == "bool":
            self.value: widgets.ValueWidget = widgets.Checkbox(
                value=bool(default), description=name, indent=False
            )
        elif self.kind == "int":
            self.value = widgets.IntText(value=default, description=name, style=description_width)
        elif self.kind == "float":
            self.value = widgets.FloatText(value=default, description=name, style=description_width)
        elif self.kind == "str":
            self.value = widgets.Text(value=default, description=name, style=description_width)
        elif self.kind == "expression":
            self.value = widgets.Text(
                value="",
                placeholder=f"default: {computed}",
                description=name,
                style=description_width,
                tooltip="Leave empty to keep the notebook's expression; a value is read as YAML/JSON",
            )
        else:  # lists, mappings, None: edited as JSON
            self.value = widgets.Text(
                value=json.dumps(default), description=name, style=description_width, tooltip="a JSON value"
            )
        self.grid = widgets.Text(
            value="",
            placeholder="grid values: a, b, c",
            layout=widgets.Layout(width="16em"),
            tooltip="Comma-separated values (or a YAML/JSON list): one run per value",
        )
        self.row = widgets.HBox([self.value, self.grid])

    def override(self) -> tuple[bool, Any]:
        """``(True, value)`` when the form differs from the notebook's default, else ``(False, None)``."""
        raw = self.value.value
        if self.kind == "expression":
            if not str(raw).strip():
                return False, None
            return True, check_json_value(parse_value(str(raw), self.name), f"parameter {self.name}")
        if self.kind in ("list", "dict", "none"):
            value = check_json_value(parse_value(str(raw), self.name), f"parameter {self.name}")
        elif self.kind == "float":
            value = float(raw)
        else:
            value = raw
        return (value != self.default or type(value) is not type(self.default)), value

    def grid_values(self) -> list[Any] | None:
        text = str(self.grid.value).strip()
        if not text:
            return None
        if not text.startswith("["):
            text = f"[{text}]"
        values = parse_value(text, self.name)
        if not isinstance(values, list) or not values:
            raise UsageError(f"grid values for {self.name}: give a comma-separated list or a YAML/JSON list")
        return [check_json_value(v, f"grid value of {self.name}") for v in values]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "none"
    return "dict" if isinstance(value, dict) else "list"


class RunPanel(widgets.VBox):
    """Parameters, grid, runs and metrics for one notebook.

    ``notebook``: the path of a notebook with a ``parameters`` cell. ``store``: the run store folder
    (default: as ``nbhygiene run`` finds it, from the notebook's folder: ``$NBHYGIENE_STORE``, else
    ``.nbhygiene/`` at the nearest project root). ``jobs``: runs at a time (default: 2, at most the
    cores). Raises :class:`~nbhygiene.jobs.errors.UsageError` for a notebook without a parameters cell.
    """

    def __init__(
        self, notebook: str, *, store: str | None = None, jobs: int | None = None, **kwargs: Any
    ) -> None:
        self.notebook = os.path.abspath(os.fspath(notebook))
        self.info: NotebookInfo = load_notebook_info(self.notebook)
        self.info.require_parameters_cell()
        self.store_path = find_store_dir(store, start=os.path.dirname(self.notebook))
        self.result: Any = None  # the BatchResult of the last batch
        self.error: str | None = None
        self.runs: list[dict[str, Any]] = []  # what the table shows, newest first
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

        self.fields = [ParameterField(name, value) for name, value in self.info.defaults.items()]
        self.fields += [
            ParameterField(name, None, computed=source)
            for name, source in self.info.computed_defaults.items()
        ]
        for field in self.fields:
            field.grid.observe(self._update_plan, names="value")
            field.value.observe(self._update_plan, names="value")

        cores = os.cpu_count() or 1
        self.jobs = widgets.BoundedIntText(
            value=max(1, min(jobs or 2, cores)),
            min=1,
            max=max(cores, jobs or 1),
            description="Runs at a time",
        )
        self.jobs.style.description_width = "initial"
        self.timeout = widgets.BoundedFloatText(
            value=0, min=0, max=7 * 24 * 3600, description="Timeout (s, 0 = none)"
        )
        self.timeout.style.description_width = "initial"
        self.force = widgets.Checkbox(value=False, description="Re-run even when cached", indent=False)
        self.start_button = widgets.Button(description="Start", button_style="primary", icon="play")
        self.start_button.on_click(lambda _button: self.start())
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.plan = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="Runs")
        self.progress.layout.visibility = "hidden"
        self.status = widgets.HTML()
        self.table = widgets.HTML()

        header = widgets.HTML(
            f"<strong>Runs of {escape(os.path.basename(self.notebook))}</strong>"
            f'<div style="opacity:0.8">run store: {escape(self.store_path)}</div>'
        )
        form_title = widgets.HTML(
            "<em>Parameters</em> (from the cell tagged <code>parameters</code>; a grid field makes one run "
            "per value, several make their cartesian product)"
        )
        super().__init__(
            [
                header,
                form_title,
                widgets.VBox([f.row for f in self.fields]),
                widgets.HBox([self.jobs, self.timeout, self.force]),
                self.plan,
                widgets.HBox([self.start_button, self.refresh_button]),
                self.progress,
                self.status,
                self.table,
            ],
            **kwargs,
        )
        self.add_class("nbhygiene-run-panel")
        self._update_plan()
        self.refresh()

    # -- what to run --------------------------------------------------------------------------------------
    def parameters(self) -> dict[str, Any]:
        """The values the form changes (the rest keep the notebook's defaults)."""
        chosen: dict[str, Any] = {}
        for field in self.fields:
            if field.grid_values() is not None:
                continue
            changed, value = field.override()
            if changed:
                chosen[field.name] = value
        return chosen

    def grid(self) -> list[dict[str, Any]] | None:
        axes = {f.name: values for f in self.fields if (values := f.grid_values()) is not None}
        return expand_grid(axes, "grid") if axes else None

    def parameter_sets(self) -> list[dict[str, Any]]:
        """One parameter set per run (raises UsageError with a readable message)."""
        try:
            return combine(self.parameters(), self.grid())
        except (ValueError, TypeError) as exc:
            raise UsageError(str(exc)) from None

    def _update_plan(self, _change: Any = None) -> None:
        try:
            sets = self.parameter_sets()
        except UsageError as exc:
            self.plan.value = f'<span style="color:#c62828">{escape(exc)}</span>'
            return
        shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in sets[0].items()) if len(sets) == 1 else ""
        if len(sets) == 1:
            self.plan.value = escape(f"1 run ({shown or 'the notebook defaults'})")
        else:
            self.plan.value = escape(f"{len(sets)} runs (grid)")

    # -- running ----------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> threading.Thread | None:
        """Start a batch with the form's parameter sets; returns its thread (None when nothing started)."""
        if self.running:
            self._say("A batch is already running.", error=True)
            return None
        try:
            sets = self.parameter_sets()
        except UsageError as exc:
            self._say(str(exc), error=True)
            return None
        from nbhygiene.jobs.batch import BatchOptions
        from nbhygiene.jobs.files import now_iso

        options = BatchOptions(
            jobs=int(self.jobs.value),
            timeout=float(self.timeout.value) or None,
            force=bool(self.force.value),
        )
        self.error = None
        self.result = None
        self.progress.max = len(sets)
        self.progress.value = 0
        self.progress.bar_style = ""
        self.progress.layout.visibility = "visible"
        self.start_button.disabled = True
        self._say(f"Starting {len(sets)} run(s)…")
        self._thread = threading.Thread(
            target=self._run_batch, args=(sets, options, now_iso()), name="nbhygiene-runs", daemon=True
        )
        self._thread.start()
        return self._thread

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the current batch ends; return its result (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    def _run_batch(self, sets: list[dict[str, Any]], options: Any, since: str) -> None:
        from nbhygiene.jobs.batch import run_batch
        from nbhygiene.jobs.store import RunStore

        stop = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(since, stop), name="nbhygiene-watch", daemon=True
        )
        try:
            # A RunStore (its SQLite connection) belongs to the thread that opened it.
            with RunStore.open(self.store_path) as store:
                store.recover()
                watcher.start()
                self.result = run_batch(
                    store,
                    self.notebook,
                    sets,
                    inputs=[],
                    cwd=None,
                    options=options,
                    progress_enabled=False,
                )
        except (UsageError, StoreError) as exc:
            self.error = str(exc)
        except Exception as exc:  # shown in the panel: a thread's traceback would go nowhere visible
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            stop.set()
            if watcher.is_alive():
                watcher.join()
            self._finish()

    def _finish(self) -> None:
        self.start_button.disabled = False
        if self.error is not None:
            self.progress.bar_style = "danger"
            self._say(self.error, error=True)
            self.refresh()
            return
        result = self.result
        runs = list(result.runs) if result is not None else []
        self.progress.value = self.progress.max
        ok = result is not None and result.ok
        self.progress.bar_style = "success" if ok else "danger"
        counts: dict[str, int] = {}
        for run in runs:
            counts[run["status"]] = counts.get(run["status"], 0) + 1
        self._say("Done: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())), error=not ok)
        self.refresh(current=runs)

    def _watch(self, since: str, stop: threading.Event) -> None:
        from nbhygiene.jobs.store import RunStore, row_to_json

        store = RunStore(self.store_path)
        try:
            while not stop.wait(POLL_SECONDS):
                with contextlib.suppress(Exception):  # a busy index: try again at the next tick
                    rows = [
                        r for r in store.rows(notebook=self._stored_name(store)) if r["started_at"] >= since
                    ]
                    runs = [row_to_json(store, row) for row in rows]
                    finished = sum(1 for run in runs if run["status"] in FINAL_STATUSES)
                    running = [run for run in runs if run["status"] == "running"]
                    self.progress.value = min(self.progress.max, finished)
                    where = "; ".join(
                        f"{run['id']}: {self._cell_progress(store, run['id'])}" for run in running
                    )
                    self._say(
                        f"{finished}/{self.progress.max} done, {len(running)} running"
                        + (f" ({where})" if where else "")
                    )
                    self._show(runs + [r for r in self.runs if r.get("id") not in {x["id"] for x in runs}])
        finally:
            store.close()

    @staticmethod
    def _cell_progress(store: Any, run_id: str) -> str:
        """``cell 3/7`` from the output notebook the run saves while it executes."""
        path = store.paths(run_id).output_notebook
        try:
            with open(path, encoding="utf-8") as handle:
                cells = [c for c in json.load(handle).get("cells", []) if c.get("cell_type") == "code"]
        except (OSError, ValueError):
            return "starting"
        states = [((c.get("metadata") or {}).get("papermill") or {}).get("status") for c in cells]
        done = sum(1 for s in states if s == "completed")
        if "running" in states:
            return f"cell {done + 1}/{len(cells)}"
        return f"{done}/{len(cells)} cells" if done else "starting"

    # -- the table --------------------------------------------------------------------------------------
    def _stored_name(self, store: Any) -> str | None:
        from nbhygiene.jobs.history import notebook_filter

        return notebook_filter(store, self.notebook)

    def refresh(self, current: list[dict[str, Any]] | None = None) -> None:
        """Reload the notebook's runs from the store (``current`` first: the last batch's answers)."""
        from nbhygiene.jobs.store import RunStore, row_to_json

        stored: list[dict[str, Any]] = []
        store = RunStore(self.store_path)
        try:
            if store.exists():
                rows = store.rows(notebook=self._stored_name(store), limit=HISTORY_ROWS)
                stored = [row_to_json(store, row) for row in rows]
        except Exception as exc:  # an unreadable index must not break the panel
            self._say(f"cannot read the run store: {exc}", error=True)
        finally:
            store.close()
        current = current or []
        ids = {run.get("id") for run in current}
        self._show([*current, *[run for run in stored if run.get("id") not in ids]])

    def _show(self, runs: list[dict[str, Any]]) -> None:
        with self._lock:
            self.runs = runs
            self.table.value = runs_table_html(runs)

    def _say(self, text: str, *, error: bool = False) -> None:
        color = ' style="color:#c62828"' if error else ""
        self.status.value = f"<span{color}>{escape(text)}</span>"

    # -- the display bundle -----------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # As for the findings panel: the widget view plus readable renderings of the runs table.
        data: dict[str, Any] = dict(super()._repr_mimebundle_(**kwargs) or {})
        name = os.path.basename(self.notebook)
        data["text/html"] = f"<strong>Runs of {escape(name)}</strong>{runs_table_html(self.runs)}"
        lines = [f"Runs of {name} (run store {self.store_path})"]
        for run in self.runs:
            metrics = ", ".join(f"{k}={_short(v)}" for k, v in (run.get("metrics") or {}).items())
            params = ", ".join(f"{k}={_short(v)}" for k, v in (run.get("params") or {}).items())
            lines.append(f"  {run.get('id')}  {run.get('status')}  {params}  {metrics}".rstrip())
        data["text/plain"] = "\n".join(lines)
        return data


def runs_table_html(runs: list[dict[str, Any]]) -> str:
    """Runs as an HTML table: id, status, each parameter, each metric, duration."""
    if not runs:
        return "<em>No runs of this notebook in the store yet.</em>"
    params = sorted({name for run in runs for name in (run.get("params") or {})})
    metrics = sorted({name for run in runs for name in (run.get("metrics") or {})})
    head = "".join(
        f"<th>{escape(h)}</th>"
        for h in ["run", "status", *params, *[f"metric: {m}" for m in metrics], "seconds"]
    )
    body = []
    for run in runs:
        status = str(run.get("status"))
        color = STATUS_COLORS.get(status, "inherit")
        cells = [
            f"<td><code>{escape(run.get('id') or '-')}</code></td>",
            f'<td style="color:{color};font-weight:600" title="{escape(_error_text(run))}">{escape(status)}</td>',
        ]
        cells += [f"<td>{escape(_short((run.get('params') or {}).get(p, '')))}</td>" for p in params]
        cells += [f"<td>{escape(_short((run.get('metrics') or {}).get(m, '')))}</td>" for m in metrics]
        duration = run.get("duration_s")
        cells.append(f"<td>{escape(f'{duration:.1f}' if isinstance(duration, (int, float)) else '')}</td>")
        body.append(f'<tr class="nbhygiene-run" data-status="{escape(status)}">{"".join(cells)}</tr>')
    return (
        '<table class="nbhygiene-runs" style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _short(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"figure"}:
        return "figure"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _error_text(run: dict[str, Any]) -> str:
    error = run.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("kind") or "")
    return ""
