"""The ``ingest`` flow: files and folders into the store, one task per batch of files.

Each task body is one call into ``pipeline.ingest.ingest_paths`` (the composition root that the
CLI, the inbox and the backfill call too: zip archives are unpacked here as well); the derived
tables (kinds, intensity, flags) are refreshed once at the end by one call into
``pipeline.derive.refresh``. Runs with or without a
Prefect server (without one, Prefect starts a temporary local one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from flows.common import TRANSIENT_RETRIES, now_utc, refresh_task, resolve_settings
from pipeline.config import Settings
from pipeline.ingest import collect_files, default_workers, ingest_paths


@task(
    name="ingest-batch",
    task_run_name="ingest {label}",
    **TRANSIENT_RETRIES,
)
def ingest_batch(
    settings: Settings, items: list[tuple[str, str]], workers: int, label: str
) -> dict[str, Any]:
    summary = ingest_paths(
        settings, [(Path(p), a) for p, a in items], now=now_utc(), workers=workers
    )
    return {
        "counts": summary.counts(),
        "reasons": summary.reasons(),
        "outcomes": [o.__dict__ for o in summary.outcomes],
    }


def _run_name() -> str:
    paths = flow_run.parameters.get("paths") or []
    first = Path(paths[0]).name if paths else "nothing"
    return f"ingest {first}" + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")


@flow(name="ingest", flow_run_name=_run_name, log_prints=False)
def ingest_flow(
    paths: list[str],
    athlete: str | None = None,
    db: str | None = None,
    config: str | None = None,
    workers: int = 0,
    batch_size: int = 500,
) -> dict[str, int]:
    """Ingest FIT files and folders; returns counts of outcomes."""
    log = get_run_logger()
    settings = resolve_settings(config, db, athlete)
    files, skipped = collect_files([Path(p) for p in paths])
    items = [(str(f), settings.default_athlete) for f in files]
    totals = {"stored": 0, "partial": 0, "duplicate": 0, "quarantined": 0}
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        label = f"files {start + 1}-{start + len(batch)} of {len(items)}"
        result = ingest_batch(settings, batch, workers or default_workers(), label)
        for k, v in result["counts"].items():
            totals[k] = totals.get(k, 0) + v
        for o in result["outcomes"]:
            if o["status"] in ("partial", "quarantined"):
                log.warning(
                    "%s: %s (%s) %s",
                    Path(o["path"]).name,
                    o["status"],
                    o["reason_code"],
                    o["message"],
                )
    if totals["stored"] or totals["partial"]:
        refresh_task(settings)
    log.info("ingest done: %s; %d non-FIT file(s) skipped", totals, len(skipped))
    return totals


if __name__ == "__main__":
    import sys

    ingest_flow(sys.argv[1:])
