"""The ``ingest-inbox`` flow: take every ready file of the inbox, ingest it, file it away.

Runs are requested by the watcher (``flows.service.request_ingest_run``): at most one is pending
at any time, and a run takes everything ready when it starts, so a burst of files is one run.
When it has looked at the inbox, the run renames itself after the files it took
(``inbox: 3 files (a.fit …)``), logs one line per file and publishes a Markdown artifact
``inbox-files`` (file → status, reason, where it is now): the Prefect UI answers "what happened
to my file?". Only paths inside the configured inbox are accepted.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.common import TRANSIENT_RETRIES, now_utc, refresh_task, resolve_settings
from flows.plans import check_plans_task
from flows.service import describe_files
from pipeline.config import Settings
from pipeline.errors import InboxError
from pipeline.inbox import InboxFile, classify_path, ingest_and_file, sweep_inbox

ARTIFACT_KEY = "inbox-files"


def resolve_inbox(inbox: str | None) -> Path:
    value = inbox or os.environ.get("LEGDAY_INBOX")
    if not value:
        raise InboxError("no inbox given: pass the inbox parameter or set LEGDAY_INBOX")
    return Path(value).absolute()


@task(
    name="ingest-and-file",
    task_run_name="ingest and file {label}",
    **TRANSIENT_RETRIES,
)
def ingest_and_file_task(settings: Settings, files: list[InboxFile], label: str) -> dict[str, Any]:
    return ingest_and_file(settings, files, now=now_utc(), workers=1).as_dict()


def ingest_inbox_files(settings: Settings, files: list[InboxFile], log: Any) -> dict[str, Any]:
    """Run the ingest and refresh tasks for ``files`` inside a flow; log what needs a look."""
    if not files:
        return {"counts": {}, "files": []}
    result = ingest_and_file_task(settings, files, describe_files(files))
    for f in result["files"]:
        if f["status"] in ("partial", "quarantined"):
            log.warning("%s: %s (%s) %s", f["file"], f["status"], f["reason_code"], f["message"])
        if f["error"]:
            log.warning("%s: %s", f["file"], f["error"])
    counts = result["counts"]
    if counts.get("stored") or counts.get("partial"):
        refresh_task(settings)
        # A leg day just stored, or a new plan, can make a planned run a conflict: check now,
        # not only at the evening check (a finding is sent once, whichever run finds it first).
        now = now_utc()
        for athlete_id in sorted(
            {f["athlete"] for f in result["files"] if f["status"] in ("stored", "partial")}
        ):
            checked = check_plans_task(settings, athlete_id, now)
            for d in checked.deliveries:
                if not d.ok:
                    log.warning("%s: notification not delivered: %s", athlete_id, d.reason)
    return result


def _where(destination: str | None, error: str | None, data_dir: Path) -> str:
    if destination is None:
        return f"still in the inbox ({error})" if error else "still in the inbox"
    path = Path(destination)
    with contextlib.suppress(ValueError):
        return str(path.relative_to(data_dir))
    return str(path)


def files_table(result: dict[str, Any], data_dir: Path) -> str:
    """Markdown: one row per file, its status, the reason and where it is now."""
    rows = [
        "| file | athlete | status | reason | now at |",
        "|---|---|---|---|---|",
    ]
    for f in result["files"]:
        reason = f"{f['reason_code']}: {f['message']}" if f["reason_code"] else ""
        cells = [
            f["file"],
            f["athlete"],
            f["status"],
            reason,
            _where(f["destination"], f["error"], data_dir),
        ]
        rows.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def _rename_run(name: str) -> None:
    """Name the current run after the files it took (best effort: the UI only)."""
    run_id = flow_run.get_id()
    if not run_id:
        return
    from prefect.client.orchestration import get_client

    with contextlib.suppress(Exception), get_client(sync_client=True) as client:
        client.update_flow_run(UUID(str(run_id)), name=name)


@flow(name="ingest-inbox", log_prints=False)
def ingest_inbox_flow(
    path: str | None = None,
    inbox: str | None = None,
    config: str | None = None,
    db: str | None = None,
    sweep: bool = True,
    settle_s: float = 2.0,
    stalled_s: float = 120.0,
) -> dict[str, Any]:
    """Ingest every ready file of the inbox (and ``path`` if given), then file them away."""
    log = get_run_logger()
    settings = resolve_settings(config, db)
    root = resolve_inbox(inbox)
    files: list[InboxFile] = []
    if path:
        p = Path(path).absolute()
        if not p.is_relative_to(root):
            raise InboxError(f"{p} is not inside the inbox {root}; refusing to touch it")
        if p.exists():
            verdict = classify_path(root, p, settings)
            if isinstance(verdict, InboxFile):
                files.append(verdict)
            else:
                log.warning("left alone: %s (%s)", p, verdict.message)
    if sweep:
        ready, _skipped = sweep_inbox(
            root, settings, now=now_utc(), settle_s=settle_s, stalled_s=stalled_s
        )
        seen = {f.path for f in files}
        files += [f for f in ready if f.path not in seen]
    _rename_run(f"inbox: {describe_files(files)}")
    log.info("took %d file(s): %s", len(files), ", ".join(f.path.name for f in files) or "-")
    result = ingest_inbox_files(settings, files, log)
    for f in result["files"]:
        log.info(
            "%s: %s → %s",
            f["file"],
            f["status"],
            _where(f["destination"], f["error"], settings.data_dir),
        )
    if files:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        create_markdown_artifact(
            key=ARTIFACT_KEY,
            markdown=f"## Inbox files taken {stamp}\n\n{files_table(result, settings.data_dir)}\n",
            description=f"What became of each file this run took ({describe_files(files)})",
        )
    log.info("inbox: %s", result["counts"] or "nothing to do")
    return result
