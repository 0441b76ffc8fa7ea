"""The three deployments of legday, defined once for ``legday serve`` and for ``prefect.yaml``.

- ``ingest-inbox``: a run is requested by the watcher when files are ready and no run is pending
  (``flows.service.request_ingest_run``: no trigger, so a burst of files is one run, not one per
  file); it takes every ready file; one run at a time (concurrency 1), so there is one DuckDB
  writer.
- ``nightly``: cron ``settings.nightly_cron`` (03:30 by default) in the default athlete's zone;
  it also sends new flags and conflicts.
- ``evening-check``: ``[plans] evening_check`` (20:00 by default) local time: the coming days'
  planned runs against leg sessions, new conflicts sent the evening before.

``runner_deployments`` builds them for ``prefect.serve``; ``prefect_yaml`` renders the same
definition for ``prefect deploy --all`` with a process work pool. ``prefect.yaml`` at the
project root is generated from it (``python -m flows.deployments --config legday.toml``) and a
test checks that the two agree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, cast

import yaml
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from flows.common import resolve_settings
from flows.inbox import ingest_inbox_flow
from flows.nightly import nightly_flow
from flows.plans import EVENING_CHECK, EVENING_DESCRIPTION, evening_check_flow, evening_schedule
from pipeline.config import Settings

INGEST_INBOX = "ingest-inbox"
NIGHTLY = "nightly"
WORK_POOL = "legday"
TAGS = ["legday"]

INGEST_DESCRIPTION = (
    "Ingest every ready file of the inbox, then archive or quarantine each one "
    "(requested by the watcher; at most one run pending)."
)
NIGHTLY_DESCRIPTION = (
    "Sweep the inbox, refresh the analysis, rebuild yesterday's and today's reports "
    "and publish them as artifacts."
)


def nightly_schedule(settings: Settings) -> tuple[str, str]:
    """Cron expression and IANA zone of the nightly run (the default athlete's zone)."""
    return settings.nightly_cron, settings.athlete(settings.default_athlete).timezone


def runner_deployments(settings: Settings, *, parameters: dict[str, Any]) -> list[RunnerDeployment]:
    """The deployments for ``prefect.serve``; ``parameters`` (inbox, config, db) go to each that takes them."""
    cron, tz = nightly_schedule(settings)
    ingest = ingest_inbox_flow.to_deployment(
        name=INGEST_INBOX,
        description=INGEST_DESCRIPTION,
        concurrency_limit=1,
        parameters=parameters,
        tags=TAGS,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    nightly = nightly_flow.to_deployment(
        name=NIGHTLY,
        description=NIGHTLY_DESCRIPTION,
        schedules=[Cron(cron, timezone=tz)],
        concurrency_limit=1,
        parameters=parameters,
        tags=TAGS,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    evening_cron, evening_tz = evening_schedule(settings)
    evening = evening_check_flow.to_deployment(
        name=EVENING_CHECK,
        description=EVENING_DESCRIPTION,
        schedules=[Cron(evening_cron, timezone=evening_tz)],
        concurrency_limit=1,
        # The evening check takes no inbox.
        parameters={k: v for k, v in parameters.items() if k in ("config", "db")},
        tags=TAGS,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    # to_deployment is dispatched sync here (no running loop), so these are deployments.
    return [cast(RunnerDeployment, d) for d in (ingest, nightly, evening)]


def prefect_yaml(settings: Settings) -> dict[str, Any]:
    """The ``prefect.yaml`` for ``prefect deploy --all`` (process work pool ``legday``).

    Parameters stay empty: on the worker, ``LEGDAY_CONFIG``, ``LEGDAY_DB`` and ``LEGDAY_INBOX``
    say where things are.
    """
    cron, tz = nightly_schedule(settings)
    evening_cron, evening_tz = evening_schedule(settings)
    return {
        "name": "legday",
        "prefect-version": "3.9.1",
        "build": None,
        "push": None,
        "deployments": [
            {
                "name": INGEST_INBOX,
                "description": INGEST_DESCRIPTION,
                "entrypoint": "flows.inbox.ingest_inbox_flow",
                "tags": list(TAGS),
                "parameters": {},
                "concurrency_limit": 1,
                "work_pool": {"name": WORK_POOL},
            },
            {
                "name": NIGHTLY,
                "description": NIGHTLY_DESCRIPTION,
                "entrypoint": "flows.nightly.nightly_flow",
                "tags": list(TAGS),
                "parameters": {},
                "concurrency_limit": 1,
                "work_pool": {"name": WORK_POOL},
                "schedules": [{"cron": cron, "timezone": tz, "active": True}],
            },
            {
                "name": EVENING_CHECK,
                "description": EVENING_DESCRIPTION,
                "entrypoint": "flows.plans.evening_check_flow",
                "tags": list(TAGS),
                "parameters": {},
                "concurrency_limit": 1,
                "work_pool": {"name": WORK_POOL},
                "schedules": [{"cron": evening_cron, "timezone": evening_tz, "active": True}],
            },
        ],
    }


HEADER = """\
# Generated by `legday --config sample_data/legday.toml deployments --out prefect.yaml` from
# flows/deployments.py (the same definition `legday serve` uses). Regenerate with your own
# legday.toml to get your athlete's timezone and nightly_cron. Entrypoints are module paths, so
# the file works from a clone and from an installed legday alike. See docs/automation.md.
#
#   prefect work-pool create legday --type process
#   prefect deploy --all
#   LEGDAY_CONFIG=... LEGDAY_INBOX=... prefect worker start --pool legday
#   legday watch INBOX --via-prefect    # requests ingest-inbox runs (one pending at a time)
"""


def render_yaml(settings: Settings) -> str:
    return HEADER + yaml.safe_dump(prefect_yaml(settings), sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write prefect.yaml from flows/deployments.py")
    parser.add_argument("--config", help="legday.toml (timezone and nightly_cron)")
    parser.add_argument("--out", default="-", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    text = render_yaml(resolve_settings(args.config))
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
