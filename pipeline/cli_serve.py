"""``legday watch`` and ``legday serve``: the commands that keep the pipeline running by itself.

``register(app)`` adds them to the ``legday`` Typer app. Like the rest of the CLI this is the
edge of the house: it reads the clock and the environment, starts processes and threads, and
handles signals. Prefect is imported only inside ``serve`` and ``watch --via-prefect``, after the
environment that points Prefect at the right server and folder is set.

- ``legday watch INBOX``: the watcher alone. Without ``--via-prefect`` it ingests ready files
  itself (one batch per group of files that became ready together), then archives them.
- ``legday serve --inbox DIR``: a local Prefect server on 127.0.0.1 (unless ``PREFECT_API_URL``
  is set), the ``ingest-inbox`` and ``nightly`` deployments served, and the watcher emitting
  ``legday.fit.ready`` events. Ctrl-C (or SIGTERM) stops watcher, runner and server, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from pipeline.config import Settings
from pipeline.errors import InboxError, LegdayError
from pipeline.inbox import Filed, InboxFile, archive_dir, ingest_and_file, quarantine_dir
from pipeline.watcher import Handler, InboxWatcher, WatchOptions, check_inbox

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

#: Settings of a local Prefect server that keep it quiet and offline.
QUIET_SERVER_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_CLIENT_METRICS_ENABLED": "false",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _settings() -> Settings:
    from pipeline import cli

    return cli.settings()


def _setup_logging() -> None:
    handler = RichHandler(console=err, show_path=False, rich_tracebacks=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("legday",):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(logging.INFO)
        lg.propagate = False


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM asks for a clean stop; a second one interrupts at once."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        err.print(f"[yellow]{signal.Signals(signum).name}: stopping…[/yellow]")
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _print_filed(f: Filed, data_dir: Path) -> None:
    o = f.outcome
    colour = {"stored": "green", "partial": "yellow", "duplicate": "cyan"}.get(o.status, "red")
    where = "left in the inbox: " + (f.error or "?")
    if f.destination is not None:
        with contextlib.suppress(ValueError):
            where = "→ " + str(f.destination.relative_to(data_dir))
        if where.startswith("left"):
            where = f"→ {f.destination}"
    note = f" ({o.reason_code}: {o.message})" if o.status in ("partial", "quarantined") else ""
    console.print(
        f"[{colour}]{o.status:<11}[/{colour}] {Path(o.path).name} {where}{note}",
        markup=True,
        highlight=False,
    )


def direct_handler(cfg: Settings, workers: int) -> Handler:
    """Ingest each batch through the library, file it away, refresh the analysis."""
    from pipeline import analysis
    from pipeline.cli import _wait_message

    def handle(batch: list[InboxFile]) -> None:
        started = time.monotonic()
        run = ingest_and_file(
            cfg,
            batch,
            now=_now(),
            workers=min(workers, len(batch)),
            on_wait=_wait_message,
            on_filed=lambda f: _print_filed(f, cfg.data_dir),
        )
        c = run.counts()
        if c["stored"] or c["partial"]:
            analysis.refresh_store(cfg, now=_now(), on_wait=_wait_message)
        err.print(
            f"batch of {len(batch)} file(s) done in {time.monotonic() - started:.1f} s: "
            f"{c['stored']} stored, {c['partial']} partial, {c['duplicate']} duplicate, "
            f"{c['quarantined']} quarantined"
        )

    return handle


def event_handler(inbox: Path) -> Handler:
    """Emit ``legday.fit.ready`` per file; the ``ingest-inbox`` deployment does the rest."""
    from flows.inbox import emit_file_ready

    def handle(batch: list[InboxFile]) -> None:
        emit_file_ready(batch, inbox)
        for f in batch:
            err.print(f"ready: {f.path.name} (athlete {f.athlete_id}) → event legday.fit.ready")

    return handle


def _watch_options(settle: float, stalled: float, force_polling: bool) -> WatchOptions:
    return WatchOptions(settle_s=settle, stalled_s=stalled, force_polling=force_polling)


SettleOpt = Annotated[
    float, typer.Option(help="seconds a complete file must stay unchanged before it is taken")
]
StalledOpt = Annotated[
    float,
    typer.Option(
        help="seconds after which an incomplete or non-FIT file that stopped changing is taken (and quarantined)"
    ),
]
PollingOpt = Annotated[
    bool, typer.Option(help="poll instead of OS notifications (network mounts, Docker volumes)")
]


def watch(
    inbox: Annotated[Path, typer.Argument(help="folder to watch (subfolders = athletes)")],
    settle: SettleOpt = 2.0,
    stalled: StalledOpt = 120.0,
    force_polling: PollingOpt = False,
    via_prefect: Annotated[
        bool,
        typer.Option(
            help="emit legday.fit.ready events for the ingest-inbox deployment instead of ingesting here"
        ),
    ] = False,
    workers: Annotated[int, typer.Option(help="parser processes per batch")] = 1,
) -> None:
    """Watch a folder and ingest FIT files as they land; archive or quarantine them afterwards.

    Example: legday watch ~/Garmin/inbox
    """
    from pipeline.cli import _fail

    try:
        cfg = _settings()
        folder = check_inbox(inbox)
        if via_prefect:
            if not os.environ.get("PREFECT_API_URL"):
                raise InboxError(
                    "--via-prefect needs a Prefect server: set PREFECT_API_URL (or use legday serve)"
                )
            handler = event_handler(folder)
        else:
            handler = direct_handler(cfg, max(1, workers))
        _setup_logging()
        stop = threading.Event()
        watcher = InboxWatcher(
            folder,
            cfg,
            handler,
            clock=time.monotonic,
            options=_watch_options(settle, stalled, force_polling),
        )
        err.print(
            f"watching {folder} (default athlete {cfg.default_athlete}; archive "
            f"{archive_dir(cfg)}, quarantine {quarantine_dir(cfg)}); Ctrl-C to stop"
        )
        with _stop_on_signals(stop):
            watcher.run(stop)
        if via_prefect:
            _flush_events()
    except LegdayError as exc:
        _fail(exc)
    err.print("watcher stopped")


# -- serve ----------------------------------------------------------------------------------


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
        return {"PREFECT_HOME": str(self.home), **QUIET_SERVER_ENV}

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
        # The server spawns its own children (uvicorn, services): signal the whole group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def _flush_events() -> None:
    """Send events still queued in Prefect's background worker before exiting."""
    with contextlib.suppress(Exception):
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=10)


class RunnerThread(threading.Thread):
    """Prefect's Runner on its own event loop, so the main thread keeps the signals."""

    def __init__(self, deployments: list[Any], limit: int) -> None:
        super().__init__(name="legday-runner", daemon=True)
        self.deployments = deployments
        self.limit = limit
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

        self.loop = asyncio.get_running_loop()
        self.runner = Runner(name="legday", pause_on_shutdown=False, limit=self.limit)
        for d in self.deployments:
            await self.runner.aadd_deployment(d)
        self.ready.set()
        await self.runner.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.loop is not None and self.runner is not None and self.runner.started:
            fut = asyncio.run_coroutine_threadsafe(self.runner.astop(), self.loop)
            with contextlib.suppress(Exception):
                fut.result(timeout=timeout_s)
        self.join(timeout=timeout_s)


def serve(
    inbox: Annotated[Path, typer.Option(help="folder to watch (subfolders = athletes)")],
    port: Annotated[
        int, typer.Option(help="port of the local Prefect server (0: 4200 or any free one)")
    ] = 0,
    settle: SettleOpt = 2.0,
    stalled: StalledOpt = 120.0,
    force_polling: PollingOpt = False,
    limit: Annotated[
        int, typer.Option(help="flow runs at the same time (ingest is always one)")
    ] = 2,
) -> None:
    """Run everything on this machine: Prefect server, the two deployments, and the watcher.

    Uses the Prefect server of PREFECT_API_URL when set; otherwise starts one on 127.0.0.1 with
    its database in <data_dir>/prefect. Example: legday serve --inbox ~/Garmin/inbox
    """
    from pipeline.cli import _fail

    server: LocalServer | None = None
    runner: RunnerThread | None = None
    watcher_thread: threading.Thread | None = None
    stop = threading.Event()
    try:
        cfg = _settings()
        folder = check_inbox(inbox)
        _setup_logging()
        with _stop_on_signals(stop):
            if not os.environ.get("PREFECT_API_URL"):
                home = (cfg.data_dir / "prefect").absolute()
                server = LocalServer(home, port or free_port())
                err.print(f"starting a local Prefect server (data in {home}) …")
                t0 = time.monotonic()
                server.start()
                err.print(f"Prefect server ready in {time.monotonic() - t0:.1f} s")
                # Before prefect is imported: its settings are read from the environment.
                os.environ.update(server.env())
                os.environ["PREFECT_API_URL"] = server.api_url
            if stop.is_set():
                return
            from flows.deployments import runner_deployments

            params: dict[str, Any] = {"inbox": str(folder), "db": str(cfg.db_path.absolute())}
            if cfg.config_file is not None:
                params["config"] = str(Path(cfg.config_file).absolute())
            runner = RunnerThread(runner_deployments(cfg, parameters=params), limit)
            runner.start()
            runner.ready.wait(timeout=120)
            if runner.error is not None:
                raise InboxError(f"the Prefect runner failed to start: {runner.error}")
            watcher = InboxWatcher(
                folder,
                cfg,
                event_handler(folder),
                clock=time.monotonic,
                options=_watch_options(settle, stalled, force_polling),
            )
            watcher_thread = threading.Thread(
                target=watcher.run, args=(stop,), name="legday-watcher", daemon=True
            )
            watcher_thread.start()
            ui = server.ui_url if server else os.environ["PREFECT_API_URL"].removesuffix("/api")
            console.print(
                f"[bold]legday serve[/bold]: watching {folder}; deployments ingest-inbox and "
                f"nightly ({cfg.nightly_cron}, {cfg.athlete(cfg.default_athlete).timezone}) served\n"
                f"Prefect UI: {ui}   (Ctrl-C to stop)"
            )
            while not stop.wait(0.5):
                if not watcher_thread.is_alive() or not runner.is_alive():
                    err.print("[red]the watcher or the runner stopped unexpectedly[/red]")
                    break
    except LegdayError as exc:
        _shutdown(stop, watcher_thread, runner, server)
        _fail(exc)
        return
    _shutdown(stop, watcher_thread, runner, server)
    err.print("stopped: watcher, runner and Prefect server")


def _shutdown(
    stop: threading.Event,
    watcher_thread: threading.Thread | None,
    runner: RunnerThread | None,
    server: LocalServer | None,
) -> None:
    stop.set()
    if watcher_thread is not None:
        watcher_thread.join(timeout=30)
    if "prefect" in sys.modules:
        _flush_events()
    if runner is not None:
        runner.stop()
    if server is not None:
        server.stop()


def register(app: typer.Typer) -> None:
    """Add ``watch`` and ``serve`` to the ``legday`` app."""
    app.command("watch")(watch)
    app.command("serve")(serve)
