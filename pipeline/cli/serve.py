"""``legday watch`` and ``legday serve``: the commands that keep the pipeline running by itself.

``register(app)`` adds them to the ``legday`` Typer app. Like the rest of the CLI this is the
edge of the house: it reads the clock and the environment, starts processes and threads, and
handles signals. Prefect is imported only inside ``serve`` and ``watch --via-prefect``, after the
environment that points Prefect at the right server and folder is set.

- ``legday watch INBOX``: the watcher alone. Without ``--via-prefect`` it ingests ready files
  itself (one batch per group of files that became ready together), then archives them.
- ``legday serve --inbox DIR``: a local Prefect server on 127.0.0.1 (unless ``PREFECT_API_URL``
  is set), the ``ingest-inbox`` and ``nightly`` deployments served, and the watcher requesting an
  ``ingest-inbox`` run when files are ready and none is pending (``flows.service``). At start,
  runs orphaned by a killed ``serve`` are crashed (their slot freed) before the runner starts.
  Ctrl-C (or SIGTERM) stops watcher, runner and server, in order.
- ``legday serve --install-unit``: writes a systemd user unit that runs the same ``serve`` on boot.
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from pipeline.config import Settings
from pipeline.errors import InboxError, LegdayError
from pipeline.inbox.core import Filed, InboxFile, archive_dir, ingest_and_file, quarantine_dir
from pipeline.inbox.watcher import Handler, InboxWatcher, WatchOptions, check_inbox

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


_APP: list[typer.Typer] = []


def _settings() -> Settings:
    """The settings of the ``legday`` app these commands were registered on.

    Under ``python -m pipeline.cli.main`` that app lives in ``__main__``, whose global options are
    not those of a second import of ``pipeline.cli.main``.
    """
    from pipeline.cli import main as cli

    main = sys.modules.get("__main__")
    main_app = getattr(main, "app", None)
    main_settings = getattr(main, "settings", None)
    if main_app is not cli.app and any(main_app is a for a in _APP) and callable(main_settings):
        found: Settings = main_settings()
        return found
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
    from pipeline.cli.main import _wait_message
    from pipeline.derive import refresh as analysis

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


def run_request_handler(wake: Callable[[], None] | None = None) -> Handler:
    """Request an ``ingest-inbox`` run for ready files unless one is pending (it takes them).

    ``wake`` asks the runner to look for the new run at once instead of at its next poll.
    """
    from prefect.client.orchestration import get_client

    from flows.service import describe_files, request_ingest_run

    async def request(batch: list[InboxFile]) -> Any:
        async with get_client() as client:
            return await request_ingest_run(client, batch)

    def handle(batch: list[InboxFile]) -> None:
        req = asyncio.run(request(batch))
        what = describe_files(batch)
        if req.created:
            err.print(f"ready: {what} → new flow run {req.run_name!r}")
            if wake is not None:
                wake()
        else:
            err.print(f"ready: {what} → taken by the pending flow run {req.run_name!r}")

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
            help="request ingest-inbox flow runs (one pending at a time) instead of ingesting here"
        ),
    ] = False,
    workers: Annotated[int, typer.Option(help="parser processes per batch")] = 1,
) -> None:
    """Watch a folder and ingest FIT files as they land; archive or quarantine them afterwards.

    Example: legday watch ~/Garmin/inbox
    """
    from pipeline.cli.main import _fail

    try:
        cfg = _settings()
        folder = check_inbox(inbox)
        if via_prefect:
            if not os.environ.get("PREFECT_API_URL"):
                raise InboxError(
                    "--via-prefect needs a Prefect server: set PREFECT_API_URL (or use legday serve)"
                )
            handler = run_request_handler()
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


def _flush_events() -> None:
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


async def _reconcile() -> None:
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


def unit_text(argv: list[str], env: dict[str, str], workdir: Path) -> str:
    """A systemd user unit that runs ``argv`` (a ``legday serve`` command line) on boot."""
    import shlex

    lines = [
        "[Unit]",
        "Description=legday serve: FIT inbox watcher, Prefect server and flows",
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={workdir}",
        *(f"Environment={shlex.quote(f'{k}={v}')}" for k, v in sorted(env.items())),
        "ExecStart=" + " ".join(shlex.quote(a) for a in argv),
        # SIGTERM is a clean stop (watcher, runner, server); restart after any crash.
        "KillSignal=SIGTERM",
        "TimeoutStopSec=60",
        "Restart=always",
        "RestartSec=5",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def default_unit_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user" / "legday.service"


def install_unit(cfg: Settings, folder: Path, unit_path: Path, extra: list[str]) -> Path:
    """Write the unit for ``serve`` with this config, inbox and store; return its path."""
    legday = Path(sys.executable).with_name("legday")
    argv = [str(legday)] if legday.exists() else [sys.executable, "-m", "pipeline.cli.main"]
    if cfg.config_file is not None:
        argv += ["--config", str(Path(cfg.config_file).absolute())]
    argv += ["--db", str(cfg.db_path.absolute()), "serve", "--inbox", str(folder), *extra]
    env = {k: v for k, v in os.environ.items() if k.startswith("LEGDAY_") or k == "PREFECT_API_URL"}
    unit_path.parent.mkdir(parents=True, exist_ok=True)
    unit_path.write_text(unit_text(argv, env, Path.cwd()), encoding="utf-8")
    return unit_path


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
    install_unit_: Annotated[
        bool,
        typer.Option(
            "--install-unit",
            help="write a systemd user unit that runs this serve on boot, print how to enable it",
        ),
    ] = False,
    unit_path: Annotated[
        Path | None,
        typer.Option(
            help="where --install-unit writes (default ~/.config/systemd/user/legday.service)"
        ),
    ] = None,
) -> None:
    """Run everything on this machine: Prefect server, the two deployments, and the watcher.

    Uses the Prefect server of PREFECT_API_URL when set; otherwise starts one on 127.0.0.1 with
    its database in <data_dir>/prefect. Example: legday serve --inbox ~/Garmin/inbox
    """
    from pipeline.cli.main import _fail

    if install_unit_:
        try:
            cfg = _settings()
            folder = check_inbox(inbox)
            extra = [f"--settle={settle}", f"--stalled={stalled}", f"--limit={limit}"]
            if port:
                extra.append(f"--port={port}")
            if force_polling:
                extra.append("--force-polling")
            written = install_unit(cfg, folder, unit_path or default_unit_path(), extra)
        except LegdayError as exc:
            _fail(exc)
            return
        console.print(f"wrote {written}\nenable it with:\n")
        console.print(
            "  systemctl --user daemon-reload && systemctl --user enable --now legday\n"
            "  loginctl enable-linger $USER   # start at boot, before you log in\n"
            "  journalctl --user -u legday -f  # its log",
            highlight=False,
        )
        return

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
                stale = stop_stale_server(home)
                if stale is not None:
                    err.print(
                        f"stopped the Prefect server a killed serve left running (pid {stale})"
                    )
                server = LocalServer(home, port or free_port())
                err.print(f"starting a local Prefect server (data in {home}) …")
                t0 = time.monotonic()
                server.start()
                err.print(f"Prefect server ready in {time.monotonic() - t0:.1f} s")
                # Before prefect is imported: its settings are read from the environment.
                os.environ.update(server.env())
                os.environ["PREFECT_API_URL"] = server.api_url
            os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", RUNNER_POLL_S)
            if stop.is_set():
                return
            from flows.deployments import runner_deployments

            params: dict[str, Any] = {
                "inbox": str(folder),
                "db": str(cfg.db_path.absolute()),
                "settle_s": settle,
                "stalled_s": stalled,
            }
            if cfg.config_file is not None:
                params["config"] = str(Path(cfg.config_file).absolute())
            runner = RunnerThread(
                runner_deployments(cfg, parameters=params), limit, before_start=_reconcile
            )
            runner.start()
            runner.ready.wait(timeout=120)
            if runner.error is not None:
                raise InboxError(f"the Prefect runner failed to start: {runner.error}")
            watcher = InboxWatcher(
                folder,
                cfg,
                run_request_handler(runner.wake),
                clock=time.monotonic,
                options=WatchOptions(
                    settle_s=settle, stalled_s=stalled, retry_s=60.0, force_polling=force_polling
                ),
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
    _APP.append(app)
    app.command("watch")(watch)
    app.command("serve")(serve)
