"""``legday report``, ``legday label`` and ``legday reclassify``: what the analysis says.

``report`` builds, prints and writes the day's recovery report; ``label`` corrects the kind of an
activity (kept across re-ingest); ``reclassify`` recomputes every kind and flag after a settings
change. Each is one call into ``pipeline.report`` or ``pipeline.derive``. I/O: the clock, the
store, the report files and the terminal.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown

from pipeline.cli.common import (
    console,
    err,
    fail,
    now_utc,
    readable_settings,
    settings,
    wait_message,
)
from pipeline.config import Settings
from pipeline.errors import LegdayError, ReportError
from pipeline.store import db as st


def _parse_day(value: str | None, cfg: Settings, athlete_id: str) -> date:
    if value in (None, "today"):
        return now_utc().astimezone(cfg.athlete(athlete_id).tz).date()
    if value == "yesterday":
        return now_utc().astimezone(cfg.athlete(athlete_id).tz).date() - timedelta(days=1)
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ReportError(f"--date must be YYYY-MM-DD, today or yesterday, not {value!r}") from exc


def report(
    date_: Annotated[
        str | None, typer.Option("--date", help="local date YYYY-MM-DD, today or yesterday")
    ] = None,
    athlete: Annotated[
        str | None, typer.Option(help="athlete id (default: the default athlete)")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="md, json or html to print")] = "md",
    out: Annotated[
        Path | None, typer.Option(help="folder for the report files (md, json, html)")
    ] = None,
    most_telling: Annotated[
        bool, typer.Option("--most-telling", help="pick the day with the strongest flags")
    ] = False,
) -> None:
    """Build the daily recovery report, print it, and write md/json/html files.

    Example: legday report --date 2026-10-20 --format md --out reports/
    """
    from pipeline.report import produce

    if format not in ("md", "json", "html"):
        err.print("[red]error:[/red] --format must be md, json or html")
        raise typer.Exit(2)
    try:
        cfg = readable_settings()
        athlete_id = athlete or cfg.default_athlete
        cfg.athlete(athlete_id)
        produced = produce.produce_report(
            cfg,
            athlete_id,
            None if most_telling else _parse_day(date_, cfg, athlete_id),
            generated_at=now_utc(),
            out_dir=out or cfg.data_dir / "reports",
            on_wait=wait_message,
            timeout_s=60,
        )
        rendered, paths = produced.rendered, produced.paths
    except LegdayError as exc:
        fail(exc)
        return
    if format == "md" and sys.stdout.isatty():
        console.print(Markdown(rendered["md"]))
    else:
        # Plain text when piped: no re-wrapping, the Markdown stays as written.
        sys.stdout.write(rendered[format].rstrip("\n") + "\n")
    err.print(f"report files: {paths['md'].parent}/ (HTML: {paths['html']})")


def label(
    activity: Annotated[str, typer.Argument(help="activity id (or a unique prefix)")],
    kind: Annotated[str, typer.Argument(help="run, leg_strength, strength, ride, swim or other")],
    note: Annotated[str | None, typer.Option(help="why (kept with the label)")] = None,
    athlete: Annotated[str | None, typer.Option(help="athlete id")] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="show which other sessions it would change; write nothing"),
    ] = False,
) -> None:
    """Correct the kind of an activity; the correction survives re-ingest and re-classification.

    Sessions like it (same set signature, workout name or title) learn the kind too.
    Example: legday label 3f2a9c leg_strength --note "front squats, watch said unknown"
    """
    from pipeline.derive import refresh as analysis

    if dry_run:
        _label_dry_run(activity, kind, athlete)
        return
    try:
        cfg = settings()
        athlete_id = athlete or cfg.default_athlete
        with st.open_store(cfg.db_path, timeout_s=60, on_wait=wait_message) as s:
            s.migrate(now_utc())
            full_id = analysis.set_label(s, athlete_id, activity, kind, note, now=now_utc())
            result = analysis.refresh(s, cfg, athlete_id, now=now_utc(), only=[full_id])
    except LegdayError as exc:
        fail(exc)
        return
    console.print(f"labelled {full_id} as {kind}; {result.flags} flag(s) re-evaluated")


def _label_dry_run(activity: str, kind: str, athlete: str | None) -> None:
    """``legday label --dry-run``: the other sessions a label would change, read-only."""
    from pipeline.derive import refresh as analysis

    try:
        cfg = readable_settings()
        athlete_id = athlete or cfg.default_athlete
        with st.open_store(cfg.db_path, read_only=True, timeout_s=60, on_wait=wait_message) as s:
            full_id, changes = analysis.preview_label(s, athlete_id, activity, kind, now=now_utc())
    except LegdayError as exc:
        fail(exc)
        return
    console.print(
        f"dry run: labelling {full_id} as {kind} would change {len(changes)} other session(s)",
        highlight=False,
    )
    tz = cfg.athlete(athlete_id).tz
    for c in changes:
        when = f"{c.start_utc.astimezone(tz):%Y-%m-%d %H:%M}" if c.start_utc else "no time"
        console.print(
            f"  {when} {c.activity_id} {c.name or ''}: {c.kind_before} ({c.source_before}) "
            f"-> {c.kind_after} ({c.reason_after})",
            highlight=False,
            markup=False,
        )
    console.print("nothing written", highlight=False)


def reclassify(
    athlete: Annotated[str | None, typer.Option(help="athlete id (default: all)")] = None,
) -> None:
    """Recompute kinds, intensities and flags of every activity (after changing settings)."""
    from pipeline.derive import refresh as analysis

    try:
        cfg = settings()
        out = analysis.refresh_store(
            cfg,
            now=now_utc(),
            on_wait=wait_message,
            full=True,
            athletes=[athlete] if athlete else None,
        )
    except LegdayError as exc:
        fail(exc)
        return
    for a, r in out.items():
        console.print(f"{a}: {r['classified']} classified, {r['flags']} flag(s)")
