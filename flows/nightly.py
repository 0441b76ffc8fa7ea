"""The ``nightly`` flow: sweep the inbox, refresh the analysis, rebuild and publish the reports.

Runs on a cron schedule in the athlete's zone (03:30 by default). For each athlete it rebuilds
yesterday's and today's reports (local dates in the athlete's zone), writes the report files,
keeps them in the store and publishes them as a Markdown artifact ``recovery-report-<athlete>``.
Each writer session is short (the report is built on a read-only connection and stored in one
transaction), so a person's ``legday query`` gets in between.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.common import TRANSIENT_RETRIES, as_of_run_name, now_utc, refresh_task, resolve_settings
from flows.inbox import ingest_inbox_files, resolve_inbox
from flows.plans import check_plans_task
from pipeline.config import Settings
from pipeline.inbox import sweep_inbox
from pipeline.report import produce


@task(
    name="build-report",
    task_run_name="report {athlete_id} {day}",
    **TRANSIENT_RETRIES,
)
def report_task(
    settings: Settings, athlete_id: str, day: date, generated_at: datetime, out_dir: Path
) -> produce.ProducedReport:
    return produce.produce_report(
        settings, athlete_id, day, generated_at=generated_at, out_dir=out_dir
    )


def artifact_key(athlete_id: str) -> str:
    """``recovery-report-<athlete>``: Prefect keys allow lowercase letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", athlete_id.lower()).strip("-") or "athlete"
    return f"recovery-report-{slug}"


def local_days(now: datetime, settings: Settings, athlete_id: str) -> tuple[date, date]:
    """Yesterday and today in the athlete's zone."""
    today = now.astimezone(settings.athlete(athlete_id).tz).date()
    return today - timedelta(days=1), today


@flow(name="nightly", flow_run_name=as_of_run_name("nightly"), log_prints=False)
def nightly_flow(
    inbox: str | None = None,
    config: str | None = None,
    db: str | None = None,
    athletes: list[str] | None = None,
    out_dir: str | None = None,
    as_of: str = "now",
    stalled_s: float = 120.0,
) -> dict[str, Any]:
    """Sweep the inbox, refresh, and rebuild yesterday's and today's reports of every athlete.

    ``as_of`` is ``now`` or an ISO timestamp (to rebuild the reports of another night).
    """
    log = get_run_logger()
    settings = resolve_settings(config, db)
    now = now_utc() if as_of == "now" else datetime.fromisoformat(as_of)
    swept: dict[str, Any] = {"counts": {}}
    if inbox or os.environ.get("LEGDAY_INBOX"):
        root = resolve_inbox(inbox)
        files, _skipped = sweep_inbox(root, settings, now=now_utc(), stalled_s=stalled_s)
        swept = ingest_inbox_files(settings, files, log)
        log.info("inbox sweep of %s: %s", root, swept["counts"] or "nothing left behind")
    refresh_task(settings)
    # New flags and conflicts are sent now too (the evening check sends before the run).
    for athlete_id in athletes or sorted(settings.athletes):
        checked = check_plans_task(settings, athlete_id, now)
        for d in checked.deliveries:
            if not d.ok:
                log.warning("%s: notification not delivered: %s", athlete_id, d.reason)
    folder = Path(out_dir) if out_dir else settings.data_dir / "reports"
    reports: dict[str, list[dict[str, Any]]] = {}
    for athlete_id in athletes or sorted(settings.athletes):
        produced = [
            report_task(settings, athlete_id, day, now, folder)
            for day in local_days(now, settings, athlete_id)
        ]
        yesterday, today = produced
        create_markdown_artifact(
            key=artifact_key(athlete_id),
            markdown=f"{today.markdown}\n\n---\n\n{yesterday.markdown}",
            description=(
                f"Recovery report of {athlete_id} for {today.day} and {yesterday.day} "
                f"({settings.athlete(athlete_id).timezone}); files in {folder / athlete_id}"
            ),
        )
        reports[athlete_id] = [
            {
                "day": p.day.isoformat(),
                "flags": p.flags,
                "paths": {k: str(v) for k, v in p.paths.items()},
            }
            for p in produced
        ]
    return {"swept": swept["counts"], "reports": reports}
