"""What ``legday serve`` asks of the Prefect API: one pending ingest run, no orphaned run.

- ``request_ingest_run``: the watcher's handler. Ready files coalesce: a run of ``ingest-inbox``
  is created only when none is pending (``SCHEDULED``/``PENDING``), and a run takes everything
  ready when it starts. The API is asked each time, so this also holds after a restart.
- ``end_orphaned_runs``: at start, before the runner serves anything, runs of our deployments
  left ``RUNNING``/``PENDING``/``CANCELLING`` by a runner that is gone (SIGKILL, power cut, OOM)
  are forced to ``CRASHED``. Leaving ``RUNNING`` or ``CANCELLING`` releases the deployment's
  concurrency slot (Prefect's ``ReleaseFlowConcurrencySlots`` rule), so the next run can start;
  the files they held are still in the inbox (a file moves only after its outcome is committed)
  and the next run takes them. Surplus ``SCHEDULED`` ingest runs (left by a crash or by the
  one-run-per-file trigger of older versions) are cancelled: the watcher requests one run for
  everything ready.
- ``ensure_zombie_automation``: Prefect's documented zombie detection, for the time ``serve`` is
  up: flow runs emit ``prefect.flow-run.heartbeat`` every ``HEARTBEAT_S``; a legday run that
  misses them for ``ZOMBIE_AFTER_S`` is set to ``CRASHED`` by the server, which frees its slot
  (a flow-run process killed while its runner lives is reported by the runner itself).
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.states import Cancelled, Crashed

from pipeline.inbox import InboxFile

INGEST_INBOX_FULL = "ingest-inbox/ingest-inbox"
NIGHTLY_FULL = "nightly/nightly"
#: Seconds between heartbeats of a flow run, and how long without one makes it a zombie.
HEARTBEAT_S = 30
ZOMBIE_AFTER_S = 3 * HEARTBEAT_S
ZOMBIE_AUTOMATION = "legday: crash flow runs without heartbeat"

PENDING = [StateType.SCHEDULED, StateType.PENDING]
ACTIVE = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]


def describe_files(files: list[InboxFile]) -> str:
    """``a.fit`` or ``3 files (a.fit …)``: a run name that says what it is about."""
    if not files:
        return "nothing ready"
    if len(files) == 1:
        return files[0].path.name
    return f"{len(files)} files ({files[0].path.name} …)"


async def _deployment_id(client: PrefectClient, name: str) -> UUID | None:
    from prefect.exceptions import ObjectNotFound

    try:
        return (await client.read_deployment_by_name(name)).id
    except ObjectNotFound:
        return None


async def runs_in(
    client: PrefectClient, deployment_ids: list[UUID], states: list[StateType]
) -> list[FlowRun]:
    if not deployment_ids:
        return []
    return await client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids)),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=states))
        ),
        sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        limit=200,
    )


@dataclass(frozen=True)
class RunRequest:
    """What ``request_ingest_run`` did: created a run, or found one already pending."""

    created: bool
    run_name: str
    run_id: UUID


async def request_ingest_run(client: PrefectClient, files: list[InboxFile]) -> RunRequest:
    """Create an ``ingest-inbox`` run unless one is already pending (it will take ``files``)."""
    deployment_id = await _deployment_id(client, INGEST_INBOX_FULL)
    if deployment_id is None:
        raise LookupError(f"the deployment {INGEST_INBOX_FULL} is not registered")
    pending = await runs_in(client, [deployment_id], PENDING)
    if pending:
        return RunRequest(False, pending[0].name, pending[0].id)
    run = await client.create_flow_run_from_deployment(
        deployment_id, name=f"inbox: waiting for {describe_files(files)}"
    )
    return RunRequest(True, run.name, run.id)


def _processes_of(run_ids: set[str]) -> list[int]:
    """Live flow-run processes (Linux ``/proc``) whose ``PREFECT__FLOW_RUN_ID`` is in ``run_ids``."""
    pids: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            env = (entry / "environ").read_bytes().split(b"\0")
            for item in env:
                if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                    if item.split(b"=", 1)[1].decode() in run_ids:
                        pids.append(int(entry.name))
                    break
    return pids


@dataclass(frozen=True)
class Reconciled:
    """Runs ended at start: orphans crashed (with the pids killed) and surplus runs cancelled."""

    crashed: list[str]
    cancelled: list[str]
    killed_pids: list[int]


async def end_orphaned_runs(client: PrefectClient) -> Reconciled:
    """Crash runs of our deployments that no runner holds any more; cancel surplus ones.

    Called before this ``serve``'s runner starts: no run of these deployments can be in
    progress legitimately (one ``serve`` serves them). A flow-run process that outlived its
    runner is killed first: nothing would report its outcome, and a new run takes its files.
    """
    ingest_id = await _deployment_id(client, INGEST_INBOX_FULL)
    nightly_id = await _deployment_id(client, NIGHTLY_FULL)
    ids = [d for d in (ingest_id, nightly_id) if d is not None]
    orphans = await runs_in(client, ids, ACTIVE)
    killed = _processes_of({str(r.id) for r in orphans})
    for pid in killed:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    crashed = []
    for run in orphans:
        await client.set_flow_run_state(
            run.id,
            Crashed(
                message="its runner stopped (legday serve was killed or the machine restarted); "
                "ended at the next start, its files are taken by a new run"
            ),
            force=True,
        )
        crashed.append(run.name)
    cancelled = []
    if ingest_id is not None:
        for run in await runs_in(client, [ingest_id], [StateType.SCHEDULED]):
            await client.set_flow_run_state(
                run.id,
                Cancelled(message="superseded: the watcher requests one run for all ready files"),
                force=True,
            )
            cancelled.append(run.name)
    return Reconciled(crashed, cancelled, killed)


def zombie_automation_spec() -> dict[str, Any]:
    """The documented zombie-detection automation, limited to runs tagged ``legday``."""
    return {
        "name": ZOMBIE_AUTOMATION,
        "description": "A legday flow run that stops sending heartbeats is marked Crashed, "
        "which frees the ingest-inbox concurrency slot.",
        "trigger": {
            "type": "event",
            "posture": "Proactive",
            "after": ["prefect.flow-run.heartbeat"],
            "expect": [
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            ],
            "match": {"prefect.resource.id": ["prefect.flow-run.*"]},
            "match_related": {"prefect.resource.id": ["prefect.tag.legday"]},
            "for_each": ["prefect.resource.id"],
            "threshold": 1,
            "within": ZOMBIE_AFTER_S,
        },
        "actions": [
            {
                "type": "change-flow-run-state",
                "state": "CRASHED",
                "message": f"no heartbeat for {ZOMBIE_AFTER_S} s: its process is gone",
                # CANCELLING -> CRASHED is refused by the orchestration rules otherwise.
                "force": True,
            }
        ],
    }


async def ensure_zombie_automation(client: PrefectClient) -> bool:
    """Create the zombie automation, or bring an existing one up to date; True when created."""
    from prefect.events.schemas.automations import AutomationCore

    automation = AutomationCore.model_validate(zombie_automation_spec())
    existing = await client.read_automations_by_name(ZOMBIE_AUTOMATION)
    if existing:
        await client.update_automation(existing[0].id, automation)
        return False
    await client.create_automation(automation)
    return True
