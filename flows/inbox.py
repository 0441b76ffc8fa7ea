"""The ``ingest-inbox`` flow and the event that starts it.

The watcher emits ``legday.fit.ready`` (``emit_file_ready``) for each file that became ready;
the ``ingest-inbox`` deployment's trigger turns the event into a run with the file's path. A run
ingests that file and, with ``sweep`` on, every other file of the inbox that is ready by age,
so a burst of files is mostly taken by its first run and the later runs find nothing left to
do. Only paths inside the configured inbox are accepted: the event payload never decides which
folder is emptied.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.events import emit_event
from prefect.runtime import flow_run

from flows.common import TRANSIENT_RETRIES, now_utc, refresh_task, resolve_settings
from pipeline.config import Settings
from pipeline.errors import InboxError
from pipeline.inbox import InboxFile, classify_path, ingest_and_file, sweep_inbox

EVENT_FILE_READY = "legday.fit.ready"
RESOURCE_PREFIX = "legday.inbox.file."


def resource_id(path: Path) -> str:
    return RESOURCE_PREFIX + hashlib.sha256(str(path).encode()).hexdigest()[:16]


def emit_file_ready(files: list[InboxFile], inbox: Path) -> None:
    """Tell Prefect that files are ready (one event each; the trigger starts the runs)."""
    for f in files:
        emit_event(
            event=EVENT_FILE_READY,
            resource={
                "prefect.resource.id": resource_id(f.path),
                "prefect.resource.name": f.path.name,
            },
            payload={"path": str(f.path), "athlete": f.athlete_id, "inbox": str(inbox)},
        )


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


def describe(files: list[InboxFile]) -> str:
    if len(files) == 1:
        return files[0].path.name
    return f"{len(files)} files ({files[0].path.name} …)"


def ingest_inbox_files(settings: Settings, files: list[InboxFile], log: Any) -> dict[str, Any]:
    """Run the ingest and refresh tasks for ``files`` inside a flow; log what needs a look."""
    if not files:
        return {"counts": {}, "files": []}
    result = ingest_and_file_task(settings, files, describe(files))
    for f in result["files"]:
        if f["status"] in ("partial", "quarantined"):
            log.warning("%s: %s (%s) %s", f["file"], f["status"], f["reason_code"], f["message"])
        if f["error"]:
            log.warning("%s: %s", f["file"], f["error"])
    counts = result["counts"]
    if counts.get("stored") or counts.get("partial"):
        refresh_task(settings)
    return result


def _run_name() -> str:
    path = flow_run.parameters.get("path")
    return f"inbox: {Path(path).name}" if path else "inbox: sweep"


@flow(name="ingest-inbox", flow_run_name=_run_name, log_prints=False)
def ingest_inbox_flow(
    path: str | None = None,
    inbox: str | None = None,
    config: str | None = None,
    db: str | None = None,
    sweep: bool = True,
    settle_s: float = 2.0,
    stalled_s: float = 120.0,
) -> dict[str, Any]:
    """Ingest a file that landed in the inbox (and any other ready one), then file them away."""
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
        else:
            log.info("%s is no longer in the inbox (already taken by an earlier run)", p.name)
    if sweep:
        ready, _skipped = sweep_inbox(
            root, settings, now=now_utc(), settle_s=settle_s, stalled_s=stalled_s
        )
        seen = {f.path for f in files}
        files += [f for f in ready if f.path not in seen]
    result = ingest_inbox_files(settings, files, log)
    log.info("inbox: %s", result["counts"] or "nothing to do")
    return result
