"""``legday plan add/list/remove/import/check`` and ``legday notify``: planned workouts.

``register(app)`` adds the ``plan`` group and the ``notify`` command to the ``legday`` app. Each
command is a thin call into ``pipeline.plans.service`` (store work) or
``pipeline.plans.deliver`` (apprise); this module reads the clock, the settings and plan files,
and prints. Errors are one line that names the thing and the fix (exit 2).

I/O: the store (writer: plans and conflicts are written), plan files, the terminal, the network
(``notify``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.common import console, err, fail, now_utc, settings, wait_message
from pipeline.config import Settings
from pipeline.errors import LegdayError
from pipeline.plans import service as sv
from pipeline.plans.model import KINDS, PlanFileError, PlannedWorkout
from pipeline.store import db as st

plan_app = typer.Typer(
    help="Planned workouts and the 'coming up' check: hard runs planned too soon after legs.",
    no_args_is_help=True,
)


@contextmanager
def _store(cfg: Settings, now: datetime) -> Iterator[st.Store]:
    """The store, open for writing (waiting with a message while busy) and migrated."""
    with st.open_store(cfg.db_path, timeout_s=60, on_wait=wait_message) as s:
        s.migrate(now)
        yield s


def _when(p: PlannedWorkout) -> str:
    if p.all_day:
        return f"{p.start_local:%a %Y-%m-%d} (all day)"
    return f"{p.start_local:%a %Y-%m-%d %H:%M %Z}"


@plan_app.command("add")
def add(
    when: Annotated[
        str, typer.Argument(help="'YYYY-MM-DD HH:MM', 'YYYY-MM-DD' or 'tomorrow 07:30'")
    ],
    kind: Annotated[str, typer.Argument(help=f"{', '.join(KINDS)}")],
    intensity: Annotated[
        str | None, typer.Option(help="easy, moderate, hard or unknown (hard legs = heavy)")
    ] = None,
    title: Annotated[str | None, typer.Option(help="what you will call it")] = None,
) -> None:
    """Plan a session by hand (no calendar needed); local time of the athlete.

    Example: legday plan add "2026-10-31 08:00" run --intensity hard --title "6x800m"
    """
    try:
        cfg = settings()
        athlete = cfg.default_athlete
        now = now_utc()
        today = now.astimezone(cfg.athlete(athlete).tz).date()
        moment = sv.parse_when(when, today)
        with _store(cfg, now) as s:
            plan, replaced = sv.add_manual(
                s, cfg, athlete, moment, kind, now, intensity=intensity, title=title
            )
    except LegdayError as exc:
        fail(exc)
    verb = "replaced" if replaced else "planned"
    console.print(
        f"{verb} {escape(plan.title)} ({plan.kind}, {plan.intensity}) on {_when(plan)}; "
        f"key {plan.plan_key}",
        highlight=False,
    )


@plan_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="past plans too")] = False,
) -> None:
    """The plans stored for the athlete, from today on (--all: every one)."""
    try:
        cfg = settings()
        athlete = cfg.default_athlete
        now = now_utc()
        with _store(cfg, now) as s:
            since = None if all_ else now - timedelta(hours=24)
            plans = sv.list_plans(s, athlete, since=since)
    except LegdayError as exc:
        fail(exc)
    if not plans:
        console.print(
            f"no plans for {athlete!r}"
            + ("" if all_ else " from today on")
            + "; add one with legday plan add or legday plan import FILE.ics"
        )
        return
    # One plain line per plan (the key first, to copy into `plan remove`): readable in a
    # narrow terminal and when piped.
    for p in plans:
        console.print(
            f"{p.plan_key}  {_when(p)}  {p.title}  {p.kind}/{p.intensity}  ({p.source}) {p.reason}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@plan_app.command("remove")
def remove(
    key: Annotated[str, typer.Argument(help="plan key (or a unique prefix), see legday plan list")],
) -> None:
    """Remove a plan and the conflicts it caused (a calendar plan returns when it is imported again)."""
    try:
        cfg = settings()
        with _store(cfg, now_utc()) as s:
            gone = sv.remove_plan(s, cfg.default_athlete, key)
    except LegdayError as exc:
        fail(exc)
    console.print(
        f"removed {escape(gone.title)} on {_when(gone)} ({gone.plan_key})", highlight=False
    )


@plan_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="an iCalendar file (.ics) exported from a calendar")],
) -> None:
    """Read a calendar: its plans replace what the same calendar gave before.

    Example: legday plan import ~/Downloads/trainingpeaks.ics
    """
    try:
        if file.suffix.lower() == ".fit":
            raise PlanFileError(
                f"{file}: FIT workout and schedule files go through legday ingest {file} (or "
                "the inbox); legday plan import reads iCalendar files (.ics)"
            )
        if file.suffix.lower() != ".ics":
            raise PlanFileError(
                f"{file}: legday plan import reads iCalendar files (.ics); export the calendar "
                "as .ics, or plan by hand with legday plan add"
            )
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise PlanFileError(
                f"cannot read {file}: {exc.strerror or exc}; check the path"
            ) from exc
        cfg = settings()
        now = now_utc()
        with _store(cfg, now) as s:
            result = sv.import_ics(s, cfg, cfg.default_athlete, data, file.name, now)
    except LegdayError as exc:
        fail(exc)
    c = result.change
    console.print(
        f"calendar {escape(c.feed)!r}: {len(result.plans)} plan(s) read, {c.added} new, "
        f"{c.kept} updated, {c.removed} removed",
        highlight=False,
    )
    for note in result.notes:
        err.print(f"note: {escape(note)}", highlight=False)


@plan_app.command("check")
def check(
    days: Annotated[
        int | None, typer.Option(min=0, help="days ahead (default: horizon_days)")
    ] = None,
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="check as at this time: now, an ISO time with offset, or the athlete's local "
            "'YYYY-MM-DD [HH:MM]'",
        ),
    ] = "now",
) -> None:
    """Planned hard runs too soon after a leg session (done or planned), with what to do.

    Example: legday plan check --days 3 --as-of "2026-10-24 20:00"
    """
    try:
        cfg = settings()
        athlete = cfg.default_athlete
        now = now_utc()
        moment = _as_of(as_of, cfg, athlete, now)
        with _store(cfg, now) as s:
            conflicts = sv.check(s, cfg, athlete, moment, horizon_days=days)
    except LegdayError as exc:
        fail(exc)
    horizon = cfg.plans.horizon_days if days is None else days
    if not conflicts:
        console.print(f"no conflicts in the planned runs of the next {horizon} day(s)")
        return
    for c in conflicts:
        console.print(f"{c.severity.upper()}: {escape(c.message)}", highlight=False)
    console.print(f"{len(conflicts)} conflict(s) in the next {horizon} day(s)")


def _as_of(text: str, cfg: Settings, athlete: str, now: datetime) -> datetime:
    """``now``, an ISO time with its offset, or the athlete's local ``YYYY-MM-DD [HH:MM]``."""
    if text.strip().lower() == "now":
        return now
    try:
        given = datetime.fromisoformat(text.strip())
    except ValueError:
        given = None
    if given is not None and given.tzinfo is not None:
        return given.astimezone(UTC)
    tz = cfg.athlete(athlete).tz
    when = sv.parse_when(text, now.astimezone(tz).date())
    local = (
        when.replace(tzinfo=tz)
        if isinstance(when, datetime)
        else datetime.combine(when, time(0), tzinfo=tz)
    )
    return local.astimezone(UTC)


def notify(
    test: Annotated[
        bool, typer.Option("--test", help="send a test message and nothing else")
    ] = False,
) -> None:
    """Send what is new (conflicts, flags) to the apprise URLs of [plans] notify_urls.

    Example: legday notify --test
    """
    from pipeline.plans import deliver
    from pipeline.plans.notify import TEST_NOTIFICATION

    try:
        cfg = settings()
        urls = cfg.plans.notify_urls
        if not urls:
            raise LegdayError(
                "notifications are off: no notify_urls in [plans] of the config; add e.g. "
                'notify_urls = ["ntfy://ntfy.sh/your-topic"]'
            )
        if test:
            deliveries = deliver.send(TEST_NOTIFICATION, urls)
        else:
            now = now_utc()
            with _store(cfg, now) as s:
                deliveries = sv.check_and_notify(s, cfg, cfg.default_athlete, now).deliveries
    except LegdayError as exc:
        fail(exc)
    if not deliveries:
        console.print("nothing new to send")
    for d in deliveries:
        if d.ok:
            console.print(f"sent to {d.target} ({len(d.keys)} finding(s))", highlight=False)
        else:
            err.print(f"[red]error:[/red] {escape(d.reason)}", highlight=False)
    if any(not d.ok for d in deliveries):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``plan`` (add, list, remove, import, check) and ``notify`` to the ``legday`` app."""
    app.add_typer(plan_app, name="plan")
    app.command("notify")(notify)
