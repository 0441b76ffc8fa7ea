"""``legday serve`` as a process tree on a real Prefect server on loopback: kills and restarts.

One Prefect server (``LocalServer``, on a free port that is not 4200) serves the whole module.
``legday serve`` runs as a child process pointed at it; the test SIGKILLs ``serve`` and its
flow-run process at chosen moments (a run was just requested; it has taken the files; its
ingest task has finished and the refresh runs, with the Prefect server killed too) and starts it again. Every file must end
stored (or duplicate) and filed away within a bounded time, with no manual step, and at no
moment may more than one ``ingest-inbox`` run be pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.inbox import probe_file
from pipeline.store import db as st

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.prefect


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    assert port != 4200
    return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pipeline.cli.prefect_local import LocalServer

    srv = LocalServer(tmp_path_factory.mktemp("prefect-server"), _free_port())
    srv.start(timeout_s=120)
    yield srv
    srv.stop()


def wait_for(
    cond: Callable[[], bool],
    timeout: float,
    what: str,
    explain: Callable[[], str] | None = None,
) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.1)
    detail = f"; {explain()}" if explain is not None else ""
    raise AssertionError(f"{what}: not within {timeout:.0f} s{detail}")


def descendants(pid: int) -> list[int]:
    """Pids below ``pid`` (Linux ``/proc``), children first."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Serve:
    """``legday serve`` as a child process (own session) against the module's server."""

    def __init__(self, base: Path, server: Any) -> None:
        self.base = base
        self.server = server
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.pending_seen: list[int] = []

    def start(self) -> None:
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PYTHONPATH=str(ROOT),
            PREFECT_API_URL=self.server.api_url,
            PREFECT_HOME=str(self.base / "client-home"),
            PREFECT_CLIENT_METRICS_ENABLED="false",
            PYTHONUNBUFFERED="1",
        )
        log = (self.base / f"serve-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "--config",
                str(self.base / "legday.toml"),
                "serve",
                "--inbox",
                str(self.base / "inbox"),
                "--settle",
                "0.3",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_tree(self) -> None:
        """SIGKILL serve and every process below it (the flow-run child included) at once."""
        assert self.proc is not None
        for pid in [self.proc.pid, *descendants(self.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def flow_processes(self) -> list[int]:
        assert self.proc is not None
        return [p for p in descendants(self.proc.pid) if "prefect.engine" in cmdline(p)]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill_tree()

    def current_log(self) -> str:
        return (self.base / f"serve-{self.starts}.log").read_text(errors="replace")

    def log(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.base.glob("serve-*.log"))
        )


def ingest_runs(api_url: str) -> list[Any] | None:
    """All ``ingest-inbox`` runs, or None when the server does not answer (it may be restarting)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # Explicit settings, not the environment: in a full run the session's Prefect harness has
    # its own settings context, which would win over PREFECT_API_URL and ask the wrong server.
    try:
        with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as c:
            d = c.read_deployment_by_name("ingest-inbox/ingest-inbox")
            return c.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id]))
            )
    except Exception as exc:
        print(f"reading runs failed: {exc!r}")
        return None


def state_count(runs: list[Any] | None, *types: str) -> int | None:
    if runs is None:
        return None
    return sum(1 for r in runs if r.state is not None and r.state.type.value in types)


def test_ui_of_a_server_on_another_port_calls_that_port(server: Any) -> None:
    """Defect 5: the UI asks /ui-settings where its API is; it must be the chosen port."""
    with urllib.request.urlopen(f"{server.ui_url}/ui-settings", timeout=10) as r:
        api_url = json.load(r)["api_url"]
    assert api_url == f"http://127.0.0.1:{server.port}/api"


def test_serve_recovers_by_itself_after_sigkills(
    server: Any,
    tmp_path: Path,
    sample_dir: Path,
    corpus_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defects 1 and 2: kill -9 at three moments, restart, the inbox drains by itself."""
    monkeypatch.setenv("PREFECT_API_URL", server.api_url)
    base = tmp_path
    (base / "inbox").mkdir()
    (base / "legday.toml").write_text(
        f'data_dir = "{base / "data"}"\n' + (sample_dir / "legday.toml").read_text()
    )
    # Complete real files from many devices: enough work (≈8 s) to be killed in the middle.
    files = [
        f
        for f in sorted(corpus_dir.glob("*.fit"))
        if (probe := probe_file(f)) is not None and probe.state == "complete"
    ][:30]
    for f in files:
        shutil.copy(f, base / "inbox" / f.name)
    inbox = base / "inbox"
    archive = base / "data" / "archive"
    serve = Serve(base, server)
    max_pending = 0

    def runs() -> list[Any] | None:
        nonlocal max_pending
        found = ingest_runs(server.api_url)
        max_pending = max(max_pending, state_count(found, "SCHEDULED", "PENDING") or 0)
        return found

    def count(*types: str) -> int:
        """How many runs are in ``types``; -1 while the server does not answer."""
        n = state_count(runs(), *types)
        return -1 if n is None else n

    def run_active() -> bool:
        return count("PENDING", "RUNNING") > 0

    def archived() -> int:
        return len(list(archive.rglob("*.fit"))) if archive.exists() else 0

    try:
        # Kill points are read from serve's own log, so they do not depend on the machine's speed.
        # 1. The run was just requested (scheduled, not started yet).
        serve.start()
        wait_for(lambda: "new flow run" in serve.current_log(), 180, "a first ingest run")
        serve.kill_tree()
        # 2. The run has taken the files and the ingest begins.
        serve.start()
        wait_for(lambda: "file(s): " in serve.current_log(), 180, "a run taking files")
        serve.kill_tree()
        # 3. The ingest task finished (files stored and moved), the refresh runs; the Prefect
        #    server is killed as well.
        serve.start()
        wait_for(
            lambda: "Task run 'ingest and file" in serve.current_log(), 180, "an ingest finishing"
        )
        serve.kill_tree()
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        server.start(timeout_s=120)
        # Restart: no person involved from here on.
        serve.start()
        wait_for(lambda: not any(inbox.iterdir()), 180, "the inbox draining after the kills")
        wait_for(
            lambda: count("SCHEDULED", "PENDING", "RUNNING") == 0,
            180,
            "the last run finishing",
        )
        # A burst while serve runs: coalesced into few runs, one pending at most.
        before_runs = len(runs() or [])
        for i, f in enumerate(files[:6]):
            shutil.copy(f, inbox / f"again-{i}.fit")
            time.sleep(0.15)
        wait_for(lambda: not any(inbox.iterdir()), 180, "the burst being taken")
        wait_for(
            lambda: count("SCHEDULED", "PENDING", "RUNNING") == 0 and count("COMPLETED") > 0,
            180,
            "burst runs",
            explain=lambda: (
                "runs: "
                + ", ".join(
                    f"{r.name} {r.state.name if r.state else '?'} "
                    f"(expected {r.expected_start_time:%H:%M:%S})"
                    for r in (runs() or [])[-6:]
                )
                + f"; serve log tail: {serve.current_log()[-600:]!r}"
            ),
        )
        # The flow-run process exits a moment after its run completed; a stop before that
        # makes Prefect's runner mark the run cancelled.
        wait_for(lambda: not serve.flow_processes(), 30, "the flow-run process exiting")
        burst_runs = len(runs() or []) - before_runs
    finally:
        serve.stop()
    log = serve.log()
    final = runs()
    assert final is not None
    assert max_pending <= 1, log
    assert 1 <= burst_runs <= 3, (burst_runs, log)
    crashed = [r for r in final if r.state.type.value == "CRASHED"]
    # Kill 1 leaves a run scheduled (cancelled as surplus at restart) or already pending
    # (crashed); kills 2 and 3 leave running runs (crashed). Each killed run was ended.
    surplus = log.count("cancelled 1 surplus scheduled ingest run(s)")
    assert len(crashed) >= 2 and len(crashed) + surplus == 3, [
        (r.name, r.state.type.value) for r in final
    ]
    assert log.count("its runner had stopped") == len(crashed)
    assert "its runner had stopped" in log
    assert all(r.state.type.value in ("COMPLETED", "CRASHED", "CANCELLED") for r in final)
    completed = [r for r in final if r.state.type.value == "COMPLETED"]
    assert completed and all(not r.name.startswith("inbox: waiting") for r in completed), [
        (r.name, r.state.type.value) for r in final
    ]
    with st.open_store(base / "data" / "legday.duckdb", read_only=True) as s:
        rows = s.rows(
            "SELECT s.path, f.status FROM file_sightings s JOIN files f USING (athlete_id, sha256)"
        )
    by_name: dict[str, set[str]] = {}
    for path, status in rows:
        by_name.setdefault(Path(path).name, set()).add(status)
    assert all(f.name in by_name for f in files), sorted(set(f.name for f in files) - set(by_name))
    assert not any("store_error" in v for v in by_name.values())
    assert all(f"again-{i}.fit" in by_name for i in range(6))
    filed = [p.name for p in (base / "data").rglob("*.fit") if "unpacked" not in p.parts]
    assert sorted(filed) == sorted([f.name for f in files] + [f"again-{i}.fit" for i in range(6)])
    # "What happened to my file?": the run's artifact has a row per file with where it is now.
    table = latest_artifact(server.api_url, "inbox-files")
    assert "| again-5.fit | sam | duplicate |" in table
    assert "| archive/" in table and "/again-5.fit |" in table


def latest_artifact(api_url: str, key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def read() -> str:
        async with get_client() as c:
            found = await c.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            return "\n".join(str(a.data) for a in found)

    with temporary_settings({PREFECT_API_URL: api_url}):  # not the session harness's server
        return asyncio.run(read())
