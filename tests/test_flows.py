"""The Prefect side: deployments served against a test harness and run through the API."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("legday")
    cfg = base / "legday.toml"
    cfg.write_text(f'data_dir = "{base / "data"}"\n' + (sample_dir / "legday.toml").read_text())
    inbox = base / "inbox"
    inbox.mkdir()
    return {"base": base, "config": cfg, "inbox": inbox, "data": base / "data"}


@pytest.fixture(scope="session")
def served(prefect_harness: None, project: dict[str, Path]) -> Iterator[dict[str, Any]]:
    """Both deployments served by the same runner thread ``legday serve`` uses."""
    from flows.common import resolve_settings
    from flows.deployments import runner_deployments
    from pipeline.cli.prefect_local import RunnerThread

    settings = resolve_settings(str(project["config"]))
    params = {"inbox": str(project["inbox"]), "config": str(project["config"])}
    runner = RunnerThread(runner_deployments(settings, parameters=params), limit=2)
    runner.start()
    assert runner.ready.wait(60) and runner.error is None
    yield {"settings": settings, **params}
    runner.stop()


def test_prefect_yaml_is_the_python_definition(sample_dir: Path) -> None:
    from flows.common import resolve_settings
    from flows.deployments import prefect_yaml

    committed = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert committed == prefect_yaml(resolve_settings(str(sample_dir / "legday.toml")))
    by_name = {d["name"]: d for d in committed["deployments"]}
    assert by_name["ingest-inbox"]["concurrency_limit"] == 1
    # No event trigger: one run per file made 283 runs for 185 files; the watcher requests a
    # run only when none is pending (flows.service.request_ingest_run).
    assert "triggers" not in by_name["ingest-inbox"]
    assert by_name["nightly"]["schedules"] == [
        {"cron": "30 3 * * *", "timezone": "Europe/Berlin", "active": True}
    ]
    # The evening check: the night before a planned run, at [plans] evening_check local time.
    assert by_name["evening-check"]["schedules"] == [
        {"cron": "0 20 * * *", "timezone": "Europe/Berlin", "active": True}
    ]
    assert by_name["evening-check"]["entrypoint"] == "flows.plans.evening_check_flow"


def test_artifact_keys_are_valid() -> None:
    from flows.nightly import artifact_key

    assert artifact_key("sam") == "recovery-report-sam"
    assert artifact_key("Kim_O'Neil") == "recovery-report-kim-o-neil"


def test_deployments_registered_with_trigger_schedule_and_limit(served: dict[str, Any]) -> None:
    from prefect.client.orchestration import get_client

    async def read() -> tuple[Any, Any]:
        async with get_client() as c:
            return (
                await c.read_deployment_by_name("ingest-inbox/ingest-inbox"),
                await c.read_deployment_by_name("nightly/nightly"),
                await c.read_deployment_by_name("evening-check/evening-check"),
            )

    ingest, nightly, evening = asyncio.run(read())
    assert ingest.global_concurrency_limit is not None
    assert ingest.global_concurrency_limit.limit == 1
    cron = nightly.schedules[0].schedule
    assert (cron.cron, cron.timezone) == ("30 3 * * *", "Europe/Berlin")
    cron = evening.schedules[0].schedule
    assert (cron.cron, cron.timezone) == ("0 20 * * *", "Europe/Berlin")
    assert "inbox" not in evening.parameters  # the evening check takes no inbox


def test_nightly_through_its_deployment_sweeps_and_publishes(
    served: dict[str, Any], project: dict[str, Path], sample_dir: Path
) -> None:
    """Files left in the inbox are swept; reports of both local days are written and published."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.deployments import run_deployment

    from pipeline.store import db as st

    for f in sorted(sample_dir.glob("*.fit"))[:10]:  # 19-25 Oct 2026
        shutil.copy(f, project["inbox"] / f.name)
        # Left behind hours ago (missed by the watcher), not still being copied.
        old = time.time() - 3600
        os.utime(project["inbox"] / f.name, (old, old))
    run = run_deployment(
        "nightly/nightly",
        parameters={"as_of": "2026-10-26T02:30:00+00:00", "stalled_s": 0.0},
        timeout=240,
    )
    assert run.state is not None and run.state.is_completed(), run.state
    assert run.name == "nightly 2026-10-26 02:30 UTC"
    assert list(project["inbox"].glob("*.fit")) == []
    reports = project["data"] / "reports" / "sam"
    for day in ("2026-10-25", "2026-10-26"):
        for ext in ("md", "json", "html"):
            assert (reports / f"{day}.{ext}").stat().st_size > 0
    assert "Sun 25 Oct 2026" in (reports / "2026-10-25.md").read_text()
    with st.open_store(project["data"] / "legday.duckdb", read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM reports WHERE athlete_id = 'sam'") == 6
        assert s.scalar("SELECT count(*) FROM activities") == 10

    async def artifacts() -> list[Any]:
        async with get_client() as c:
            return await c.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["recovery-report-sam"]))
            )

    found = asyncio.run(artifacts())
    assert (
        found
        and "Mon 26 Oct 2026" in found[0].data
        and "Sun 25 Oct 2026" in found[0].data
        and found[0].flow_run_id == run.id
    )


def test_ingest_flow_stores_files_in_batches_and_refreshes(
    prefect_harness: None, tmp_path: Path, sample_dir: Path
) -> None:
    """The ``ingest`` flow: one task per batch of files, the library's outcomes, flags derived."""
    from prefect.client.orchestration import get_client

    from flows.ingest import ingest_flow
    from pipeline.store import db as st

    db = tmp_path / "flow.duckdb"
    bad = tmp_path / "broken.fit"
    bad.write_bytes(b"not a fit file" * 10)
    files = [str(p) for p in sorted(sample_dir.glob("*.fit"))] + [str(bad)]
    totals = ingest_flow(
        files, db=str(db), config=str(sample_dir / "legday.toml"), workers=1, batch_size=8
    )
    assert totals == {"stored": 16, "partial": 0, "duplicate": 0, "quarantined": 1}
    with st.open_store(db, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM activities") == 16
        assert s.scalar("SELECT count(*) FROM recovery_flags WHERE severity = 'alert'") == 2

    async def task_names() -> list[str]:
        async with get_client() as client:
            runs = await client.read_task_runs()
            return sorted(r.name for r in runs if r.name.startswith("ingest files"))

    names = asyncio.run(task_names())
    assert "ingest files 1-8 of 17" in names and "ingest files 17-17 of 17" in names
