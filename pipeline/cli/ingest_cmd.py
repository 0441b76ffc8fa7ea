"""``legday ingest``: store FIT files (and folders and zip archives of them), then refresh.

A thin call into ``pipeline.ingest``; this module only resolves paths, shows progress and prints
the summary. I/O: the terminal, the clock, and (through the library) the files and the store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pipeline.cli.common import console, err, fail, now_utc, settings, wait_message
from pipeline.config import Settings
from pipeline.errors import LegdayError
from pipeline.ingest import (
    FileOutcome,
    IngestSummary,
    collect_files,
    default_workers,
    ingest_paths,
)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="FIT files and folders (recursive)")],
    workers: Annotated[int, typer.Option(min=0, help="parser processes (default: all cores)")] = 0,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Store FIT files, folders, export zips (Garmin, Strava) and calendars in the store.

    Example: legday ingest ~/Garmin/Activities ~/Downloads/export_12345.zip
    """
    # Absolute, so that file_sightings (and the report's "last seen at") say where, wherever
    # legday runs from next.
    paths = [p.absolute() for p in paths]
    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        err.print(
            f"[red]error:[/red] no such file or folder: {escape(str(missing[0]))}{more}; "
            "check the path, nothing was ingested",
            markup=True,
            highlight=False,
        )
        raise typer.Exit(2)
    try:
        cfg = settings()
        files, skipped = collect_files(paths)
        files = [f for f in files if f.exists()]
        athlete = cfg.default_athlete
        summary = _run_ingest(cfg, [(f, athlete) for f in files], workers, progress)
        _print_summary(summary, skipped, cfg.db_path)
        from pipeline.derive import refresh as analysis

        # Always: the refresh only computes what is missing, and a run killed before its
        # refresh leaves stored activities that a re-run sees as "already known".
        analysis.refresh_store(cfg, now=now_utc(), on_wait=wait_message)
    except LegdayError as exc:
        fail(exc)


def _run_ingest(
    cfg: Settings, items: list[tuple[Path, str]], workers: int, show: bool
) -> IngestSummary:
    def run(progress: Callable[[FileOutcome], None] | None) -> IngestSummary:
        return ingest_paths(
            cfg,
            items,
            now=now_utc(),
            workers=workers or default_workers(),
            on_progress=progress,
            on_wait=wait_message,
        )

    if not show or len(items) < 5:
        return run(None)
    with Progress(
        TextColumn("[bold]ingest[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task("ingest", total=len(items), rate="")

        def tick(_o: FileOutcome) -> None:
            bar.advance(task)
            t = bar.tasks[0]
            if t.elapsed:
                bar.update(task, rate=f"{t.completed / t.elapsed:.1f} files/s")

        return run(tick)


def _print_summary(summary: IngestSummary, skipped: list[Path], db_path: Path) -> None:
    c = summary.counts()
    console.print(
        f"[bold]{len(summary.outcomes)} file(s)[/bold] in {summary.seconds:.1f} s → "
        f"[green]{c['stored']} stored[/green], {c['duplicate']} duplicate(s), "
        f"[yellow]{c['partial']} partial[/yellow], [red]{c['quarantined']} quarantined[/red]"
        f"  (store: {db_path})"
    )
    flagged = [o for o in summary.outcomes if o.status in ("partial", "quarantined")]
    if flagged:
        t = Table(title="files that need a look", show_lines=False)
        for col in ("status", "reason", "file", "what to know"):
            t.add_column(col, overflow="fold")
        for o in flagged:
            t.add_row(o.status, o.reason_code or "", o.name, o.message or "")
        console.print(t)
    if summary.reasons():
        console.print(
            "reasons: " + ", ".join(f"{k} ×{v}" for k, v in sorted(summary.reasons().items()))
        )
    # Plans and export summaries change what the report says: name each one read.
    for o in summary.outcomes:
        if o.file_type in _SIDE_TYPES and o.status in ("stored", "partial"):
            console.print(f"{o.name}: {o.message}", markup=False, highlight=False)
    for note in summary.plan_notes:
        console.print(f"plans: {note}", markup=False, highlight=False)
    if skipped:
        console.print(
            f"skipped {len(skipped)} file(s) legday does not read (e.g. {skipped[0].name}); "
            "it reads .fit, .fit.gz, .zip, .ics and export summaries"
        )


#: File types whose outcome is worth a line of its own (not activities).
_SIDE_TYPES = ("calendar", "garmin_summary", "strava_csv", "workout", "schedules")
