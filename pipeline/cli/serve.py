"""``legday watch`` and ``legday serve``: the commands that keep the pipeline running by itself.

``pipeline.cli.main`` registers them on the ``legday`` app. Like the rest of the CLI this is the
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
- ``legday serve --install-unit``: writes a systemd user unit that runs the same ``serve`` on boot
  (``pipeline.cli.unit``).

The local Prefect server and the runner thread are in ``pipeline.cli.prefect_local``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from pipeline.cli.common import err, fail, now_utc, settings, wait_message
from pipeline.cli.prefect_local import (
    RUNNER_POLL_S,
    LocalServer,
    RunnerThread,
    flush_events,
    free_port,
    reconcile,
    stop_stale_server,
)
from pipeline.cli.unit import default_unit_path, install_unit
from pipeline.config import Settings
from pipeline.errors import InboxError, LegdayError
from pipeline.inbox import Filed, InboxFile, archive_dir, ingest_and_file, quarantine_dir
from pipeline.inbox.watcher import Handler, InboxWatcher, WatchOptions, check_inbox

# Soft-wrapped: a filed file's line stays one line, whatever the terminal's width.
console = Console(soft_wrap=True)


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
    from pipeline.derive import refresh as analysis

    def handle(batch: list[InboxFile]) -> None:
        started = time.monotonic()
        run = ingest_and_file(
            cfg,
            batch,
            now=now_utc(),
            workers=min(workers, len(batch)),
            on_wait=wait_message,
            on_filed=lambda f: _print_filed(f, cfg.data_dir),
        )
        c = run.counts()
        if c["stored"] or c["partial"]:
            analysis.refresh_store(cfg, now=now_utc(), on_wait=wait_message)
        err.print(
            f"batch of {len(batch)} file(s) done in {time.monotonic() - started:.1f} s: "
            f"{c['stored']} stored, {c['partial']} partial, {c['duplicate']} duplicate, "
            f"{c['quarantined']} quarantined"
        )

    return handle


def catch_up(cfg: Settings) -> None:
    """Refresh what a killed run left behind: files it stored whose kinds, metrics and flags it
    never computed. At start, so that they are not silent until the next file or the nightly."""
    from pipeline.derive import refresh as analysis

    if not cfg.db_path.exists():
        return
    out = analysis.refresh_store(cfg, now=now_utc(), on_wait=wait_message)
    n = sum(int(r.get("classified", 0)) for r in out.values())
    if n:
        err.print(f"classified {n} activit(ies) that a stopped run had stored but not refreshed")


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
        help="seconds after which a file that stopped changing before it was complete is taken (and quarantined)"
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
    """Watch a folder and ingest what lands (FIT, zips, calendars); archive or quarantine them afterwards.

    Example: legday watch ~/Garmin/inbox
    """
    try:
        cfg = settings()
        folder = check_inbox(inbox)
        if via_prefect:
            if not os.environ.get("PREFECT_API_URL"):
                raise InboxError(
                    "--via-prefect needs a Prefect server: set PREFECT_API_URL (or use legday serve)"
                )
            handler = run_request_handler()
        else:
            handler = direct_handler(cfg, max(1, workers))
            catch_up(cfg)
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
            flush_events()
    except LegdayError as exc:
        fail(exc)
    err.print("watcher stopped")


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
    """Run everything on this machine: Prefect server, the three deployments, and the watcher.

    Uses the Prefect server of PREFECT_API_URL when set; otherwise starts one on 127.0.0.1 with
    its database in <data_dir>/prefect. Example: legday serve --inbox ~/Garmin/inbox
    """
    if install_unit_:
        try:
            cfg = settings()
            folder = check_inbox(inbox)
            extra = [f"--settle={settle}", f"--stalled={stalled}", f"--limit={limit}"]
            if port:
                extra.append(f"--port={port}")
            if force_polling:
                extra.append("--force-polling")
            written = install_unit(cfg, folder, unit_path or default_unit_path(), extra)
        except LegdayError as exc:
            fail(exc)
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
        cfg = settings()
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
                runner_deployments(cfg, parameters=params), limit, before_start=reconcile
            )
            runner.start()
            runner.ready.wait(timeout=120)
            if runner.error is not None:
                raise InboxError(f"the Prefect runner failed to start: {runner.error}")
            # After the runner's reconcile stopped what a killed serve left running: no writer.
            catch_up(cfg)
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
                f"[bold]legday serve[/bold]: watching {folder}; deployments ingest-inbox, nightly "
                f"({cfg.nightly_cron}) and evening-check ({cfg.plans.evening_check}, "
                f"{cfg.athlete(cfg.default_athlete).timezone}) served\n"
                f"Prefect UI: {ui}   (Ctrl-C to stop)"
            )
            while not stop.wait(0.5):
                if not watcher_thread.is_alive() or not runner.is_alive():
                    err.print("[red]the watcher or the runner stopped unexpectedly[/red]")
                    break
    except LegdayError as exc:
        _shutdown(stop, watcher_thread, runner, server)
        fail(exc)
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
        flush_events()
    if runner is not None:
        runner.stop()
    if server is not None:
        server.stop()
