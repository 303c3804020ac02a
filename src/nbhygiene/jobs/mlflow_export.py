"""``nbhygiene runs export --mlflow``: copy runs to MLflow's tracking API, for teams that already use it.

Each run becomes an MLflow run (tagged with the nbhygiene run id and key) with its parameters, numeric
metrics, and the output notebook and figures as artifacts. Exporting a run twice is skipped: the MLflow
run carries the tag ``nbhygiene.run_id``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from nbhygiene.jobs.errors import UsageError
from nbhygiene.jobs.files import parse_iso
from nbhygiene.jobs.store import FINAL_STATUSES, RunStore


def export_runs(
    store: RunStore, refs: list[str], *, experiment: str | None, tracking_uri: str | None
) -> dict[str, Any]:
    try:
        import mlflow
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UsageError("runs export --mlflow needs MLflow: pip install mlflow") from None
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    ids = (
        [store.resolve_id(ref) for ref in refs]
        if refs
        else [str(row["id"]) for row in store.rows(newest_first=False) if row["status"] in FINAL_STATUSES]
    )
    exported, skipped = [], []
    experiments: dict[str, str] = {}
    for run_id in ids:
        record = store.load_record(run_id)
        status = record["status_record"].get("status")
        if status not in FINAL_STATUSES:
            skipped.append({"id": run_id, "reason": f"status {status}"})
            continue
        name = experiment or os.path.splitext(record["notebook"]["name"])[0]
        if name not in experiments:
            found = client.get_experiment_by_name(name)
            experiments[name] = found.experiment_id if found else client.create_experiment(name)
        existing = client.search_runs(
            [experiments[name]], filter_string=f"tags.`nbhygiene.run_id` = '{run_id}'"
        )
        if existing:
            skipped.append({"id": run_id, "reason": f"already exported as {existing[0].info.run_id}"})
            continue
        started = record["status_record"].get("started_at")
        start_ms = int(parse_iso(started).timestamp() * 1000) if started else None
        mlflow_run = client.create_run(
            experiments[name],
            start_time=start_ms,
            tags={
                "nbhygiene.run_id": run_id,
                "nbhygiene.key": record.get("key", ""),
                "nbhygiene.notebook": record["notebook"].get("path", ""),
                "mlflow.runName": run_id,
            },
        )
        mlflow_id = mlflow_run.info.run_id
        for key, value in (record.get("params") or {}).items():
            client.log_param(mlflow_id, key, json.dumps(value) if not isinstance(value, str) else value)
        for key, value in ((record["metrics_record"] or {}).get("values") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                client.log_metric(mlflow_id, key, float(value))
        paths = record["paths"]
        for path in (paths.output_notebook, paths.metrics_json):
            if os.path.exists(path):
                client.log_artifact(mlflow_id, path)
        if os.path.isdir(paths.figures_dir):
            client.log_artifacts(mlflow_id, paths.figures_dir, artifact_path="figures")
        end = record["status_record"].get("finished_at")
        client.set_terminated(
            mlflow_id,
            status="FINISHED"
            if status == "succeeded"
            else ("KILLED" if status == "interrupted" else "FAILED"),
            end_time=int(parse_iso(end).timestamp() * 1000) if end else None,
        )
        exported.append({"id": run_id, "mlflow_run_id": mlflow_id, "experiment": name})
    return {"exported": exported, "skipped": skipped}
