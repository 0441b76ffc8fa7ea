"""What every flow shares: settings at the edge, the retry policy and the refresh task.

Flows are the edge of the house together with the CLI: they may read the environment and the
clock; the library they call never does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.runtime import flow_run
from prefect.states import State

from pipeline.config import Settings, load_settings
from pipeline.derive import refresh as analysis
from pipeline.errors import is_retryable


def resolve_settings(
    config: str | None = None, db: str | None = None, athlete: str | None = None
) -> Settings:
    return load_settings(
        env=os.environ,
        cwd=Path.cwd(),
        config=Path(config) if config else None,
        db=Path(db) if db else None,
        athlete=athlete,
    )


def now_utc() -> datetime:
    return datetime.now(UTC)


def as_of_run_name(prefix: str) -> Callable[[], str]:
    """A ``flow_run_name`` callable: ``<prefix> YYYY-MM-DD HH:MM UTC`` of the run's ``as_of``."""

    def name() -> str:
        as_of = flow_run.parameters.get("as_of") or "now"
        when = now_utc() if as_of == "now" else datetime.fromisoformat(as_of)
        return f"{prefix} {when:%Y-%m-%d %H:%M} UTC"

    return name


def retry_if_transient(_task: Any, _task_run: Any, state: State) -> bool:
    """Retry only errors that say waiting can help (a busy store), never a broken file."""
    try:
        state.result(raise_on_failure=True)
    except BaseException as exc:  # the state's own exception is re-raised here
        return is_retryable(exc)
    return False


# Every task that touches the store: retried only when waiting can help (a busy store).
TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [5, 15, 60],
    "retry_condition_fn": retry_if_transient,
}


@task(
    name="refresh-analysis",
    task_run_name="refresh kinds, metrics and flags",
    **TRANSIENT_RETRIES,
)
def refresh_task(settings: Settings) -> dict[str, Any]:
    return analysis.refresh_store(settings, now=now_utc())
