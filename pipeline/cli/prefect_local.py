"""A local Prefect server and Prefect's Runner, as ``legday serve`` runs them.

``LocalServer`` is ``prefect server start`` on 127.0.0.1 in its own session, with its data in a
folder of legday's; ``stop_stale_server`` stops one a killed ``serve`` left behind;
``RunnerThread`` serves the deployments on its own event loop, after ``reconcile`` has crashed the
runs a killed ``serve`` orphaned. I/O: processes, sockets, signals, threads and the Prefect API.
Prefect itself is imported inside the functions: its settings are read from the environment,
which ``serve`` sets first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.cli.common import err
from pipeline.errors import InboxError

#: Settings of a local Prefect server that keep it quiet and offline.
QUIET_SERVER_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_CLIENT_METRICS_ENABLED": "false",
}


def free_port(preferred: int = 4200) -> int:
    """``preferred`` when nothing listens on it on 127.0.0.1, else a free port from the OS."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def stop_stale_server(home: Path, timeout_s: float = 15.0) -> int | None:
    """Stop a Prefect server left running by a ``serve`` that was killed; its pid, or None.

    ``serve`` starts the server in its own session (so Ctrl-C reaches legday first); when
    ``serve`` itself is SIGKILLed, that server lives on, holding the port and the database.
    Its pid is in ``<home>/server.pid``; it is stopped only if it still is a Prefect server.
    """
    pidfile = home / "server.pid"
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except (OSError, ValueError):
        return None
    if b"prefect" not in cmdline or b"server" not in cmdline:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    return pid


class LocalServer:
    """``prefect server start`` on 127.0.0.1 as a child process, with its data in ``home``."""

    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "PREFECT_HOME": str(self.home),
            **QUIET_SERVER_ENV,
            # The UI asks /ui-settings where the API is; without these it answers port 4200
            # whatever port the server listens on.
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_UI_API_URL": self.api_url,
            # Concurrency leases on disk: a slot taken before the server was killed is
            # released by the server's repossessor when its lease expires after a restart.
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": (
                "prefect.server.concurrency.lease_storage.filesystem"
            ),
            # A run that found the slot taken is retried in 2 s, not 30 s.
            "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
        }

    def start(self, timeout_s: float = 90.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        prefect_bin = Path(sys.executable).with_name("prefect")
        cmd = [str(prefect_bin)] if prefect_bin.exists() else [sys.executable, "-m", "prefect"]
        cmd += ["server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(self.env())
        with self.log_path.open("ab") as log:
            # Own session: Ctrl-C in the terminal reaches legday only, which stops the server
            # last, after the runner no longer needs it.
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        (self.home / "server.pid").write_text(f"{self.proc.pid}\n", encoding="utf-8")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise InboxError(
                    f"the Prefect server exited with code {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        self.stop()
        raise InboxError(
            f"the Prefect server did not answer within {timeout_s:.0f} s; see {self.log_path}"
        )

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        (self.home / "server.pid").unlink(missing_ok=True)
        # The server spawns its own children (uvicorn, services): signal the whole group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def flush_events() -> None:
    """Send events still queued in Prefect's background worker before exiting."""
    with contextlib.suppress(Exception):
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=10)


class RunnerThread(threading.Thread):
    """Prefect's Runner on its own event loop, so the main thread keeps the signals."""

    def __init__(
        self,
        deployments: list[Any],
        limit: int,
        before_start: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(name="legday-runner", daemon=True)
        self.deployments = deployments
        self.limit = limit
        self.before_start = before_start
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runner: Any = None
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        from prefect.runner import Runner

        from flows.service import HEARTBEAT_S

        self.loop = asyncio.get_running_loop()
        self.runner = Runner(
            name="legday", pause_on_shutdown=False, limit=self.limit, heartbeat_seconds=HEARTBEAT_S
        )
        for d in self.deployments:
            await self.runner.aadd_deployment(d)
        if self.before_start is not None:
            await self.before_start()
        self.ready.set()
        await self.runner.start()

    def wake(self) -> None:
        """Look for scheduled runs now instead of at the next poll (a run was just requested)."""
        poll = getattr(self.runner, "_get_and_submit_flow_runs", None)
        if self.loop is None or poll is None or not self.runner.started:
            return  # the regular poll finds it
        asyncio.run_coroutine_threadsafe(poll(), self.loop)

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.loop is not None and self.runner is not None and self.runner.started:
            fut = asyncio.run_coroutine_threadsafe(self.runner.astop(), self.loop)
            with contextlib.suppress(Exception):
                fut.result(timeout=timeout_s)
        self.join(timeout=timeout_s)


#: Seconds between the runner's polls for scheduled runs (Prefect's default is 10). The watcher
#: wakes the runner when it requests a run, so this only bounds retries and the nightly run.
RUNNER_POLL_S = "2"


async def reconcile() -> None:
    """Before the runner serves: crash orphaned runs, cancel surplus ones, set up zombie detection."""
    from prefect.client.orchestration import get_client

    from flows.service import end_orphaned_runs, ensure_zombie_automation

    async with get_client() as client:
        done = await end_orphaned_runs(client)
        for name in done.crashed:
            err.print(f"[yellow]crashed flow run {name!r}: its runner had stopped[/yellow]")
        if done.killed_pids:
            err.print(f"stopped orphaned flow-run processes {done.killed_pids}")
        if done.cancelled:
            err.print(f"cancelled {len(done.cancelled)} surplus scheduled ingest run(s)")
        try:
            await ensure_zombie_automation(client)
        except Exception as exc:  # zombie detection is a second line; serve works without it
            err.print(f"[yellow]zombie-detection automation not created: {exc}[/yellow]")
