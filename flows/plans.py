"""The ``evening-check`` flow: check the coming days' plans and send what is new.

Runs at ``[plans] evening_check`` local time (20:00 by default), the evening before a planned
session, when moving it still helps. For each athlete one task checks the planned runs of the
next ``horizon_days`` against completed and planned leg sessions, stores the conflicts and sends
new conflicts and new flags to the apprise URLs (``pipeline.plans.service.evening_check``).
A delivery that fails is logged with its reason and tried again on the next run; it never fails
the flow. Notifications off (no ``notify_urls``): the conflicts are still stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import TRANSIENT_RETRIES, as_of_run_name, now_utc, resolve_settings
from pipeline.config import Settings
from pipeline.plans.service import CheckRun, evening_check

EVENING_CHECK = "evening-check"
EVENING_DESCRIPTION = (
    "Check the coming days' planned runs against leg sessions (done and planned), store the "
    "conflicts and send new ones to the apprise URLs of [plans] notify_urls."
)


def evening_schedule(settings: Settings) -> tuple[str, str]:
    """Cron expression and IANA zone of the evening check (the default athlete's zone)."""
    hh, mm = settings.plans.evening_check.split(":")
    return f"{int(mm)} {int(hh)} * * *", settings.athlete(settings.default_athlete).timezone


@task(name="check-plans", task_run_name="check plans of {athlete_id}", **TRANSIENT_RETRIES)
def check_plans_task(settings: Settings, athlete_id: str, now: datetime) -> CheckRun:
    return evening_check(settings, athlete_id, now)


@flow(name="evening-check", flow_run_name=as_of_run_name("evening check"), log_prints=False)
def evening_check_flow(
    config: str | None = None,
    db: str | None = None,
    athletes: list[str] | None = None,
    as_of: str = "now",
) -> dict[str, Any]:
    """Check every athlete's plans and notify new findings; returns counts per athlete.

    ``as_of`` is ``now`` or an ISO timestamp with its offset.
    """
    log = get_run_logger()
    settings = resolve_settings(config, db)
    now = now_utc() if as_of == "now" else datetime.fromisoformat(as_of)
    out: dict[str, Any] = {}
    for athlete_id in athletes or sorted(settings.athletes):
        run = check_plans_task(settings, athlete_id, now)
        for d in run.deliveries:
            if d.ok:
                log.info("%s: sent %d finding(s) to %s", athlete_id, len(d.keys), d.target)
            else:
                log.warning("%s: notification not delivered: %s", athlete_id, d.reason)
        out[athlete_id] = {
            "conflicts": len(run.conflicts),
            "flags": run.flags,
            "sent": sum(len(d.keys) for d in run.deliveries if d.ok),
            "failed": [d.reason for d in run.deliveries if not d.ok],
        }
    return out
