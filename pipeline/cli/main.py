"""The ``legday`` command line: the top of the house.

It is the only place (with ``flows/``) that reads the clock, the environment and the working
directory, and the only module of ``pipeline`` allowed to start Prefect flows. Every command is a
thin call into the library.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
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
from typer import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from pipeline.config import Settings, load_settings
from pipeline.errors import LegdayError, ReportError
from pipeline.ingest.core import (
    FileOutcome,
    IngestSummary,
    collect_files,
    default_workers,
    ingest_files,
    unpack_workspace,
)
from pipeline.store import db as st


def hoist_global_options(
    global_params: Sequence[Any],
    command_params: Callable[[str], Sequence[Any] | None],
    args: list[str],
) -> list[str]:
    """Move the app's own options found after the command name to before it.

    People type ``legday ingest PATH --db FILE``; Click only takes ``--db`` before the command.
    An option the command itself has (``report --athlete``) stays the command's. ``--`` ends
    the options, and the values of the command's own options are never taken for options.
    ``command_params`` gives a command's parameters by name (None: no such command).
    """

    def table(params: Sequence[Any]) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for p in params:
            if getattr(p, "param_type_name", "") == "option":
                for opt in [*p.opts, *p.secondary_opts]:
                    out[opt] = not (p.is_flag or p.count)
        return out

    globals_ = table(global_params)
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        name, eq, _ = args[i].partition("=")
        i += 2 if globals_.get(name) and not eq else 1
    params = command_params(args[i]) if i < len(args) else None
    if params is None:
        return args
    own = table(params)
    moved: list[str] = []
    kept: list[str] = []
    rest = args[i + 1 :]
    j = 0
    while j < len(rest):
        token = rest[j]
        if token == "--":
            kept += rest[j:]
            break
        name, eq, _ = token.partition("=")
        width = 2 if not eq else 1
        if name in globals_ and name not in own:
            take = width if globals_[name] else 1
            if j + take > len(rest):
                raise ValueError(f"option {name} needs a value")
            moved += rest[j : j + take]
            j += take
            continue
        take = width if own.get(name) else 1
        kept += rest[j : j + take]
        j += take
    return args[:i] + moved + [args[i]] + kept


class _Legday(TyperGroup):
    """The app's group: global options are taken after the command as well, and a usage
    mistake (unknown command or option, missing argument) is one line that says where help is.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        def params(name: str) -> Sequence[Any] | None:
            command = self.get_command(ctx, name)
            return command.params if command is not None else None

        try:
            hoisted = hoist_global_options(self.params, params, list(args))
        except ValueError as exc:
            raise UsageError(str(exc), ctx) from exc
        return super().parse_args(ctx, hoisted)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except NoArgsIsHelpError as exc:
            exc.show()  # `legday` alone: the help, as before
            sys.exit(exc.exit_code)
        except UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "legday"
            err.print(
                f"[red]error:[/red] {escape(exc.format_message())} (see `{escape(where)} --help`)",
                highlight=False,
            )
            sys.exit(exc.exit_code)
        except ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except Abort:
            err.print("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="legday",
    cls=_Legday,
    help="FIT files in, DuckDB out, and a daily report that flags intense runs too soon after leg day.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True, soft_wrap=True)


class _State:
    settings: Settings | None = None
    db: Path | None = None
    config: Path | None = None
    athlete: str | None = None


state = _State()


def settings() -> Settings:
    if state.settings is None:
        state.settings = load_settings(
            env=os.environ, cwd=Path.cwd(), config=state.config, db=state.db, athlete=state.athlete
        )
    return state.settings


def now_utc() -> datetime:
    return datetime.now(UTC)


def _wait_message(msg: str) -> None:
    err.print(f"[yellow]{msg}[/yellow]")


@app.callback()
def main(
    db: Annotated[Path | None, typer.Option(help="DuckDB file (env LEGDAY_DB)")] = None,
    config: Annotated[Path | None, typer.Option(help="legday.toml (env LEGDAY_CONFIG)")] = None,
    athlete: Annotated[str | None, typer.Option(help="athlete id (env LEGDAY_ATHLETE)")] = None,
) -> None:
    """Settings come from flags, then LEGDAY_* environment, then ./legday.toml, then defaults."""
    state.db, state.config, state.athlete = db, config, athlete
    state.settings = None


def _fail(exc: LegdayError) -> None:
    # escaped: a message may hold brackets ("[athletes.x.recovery]") that are not markup
    err.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
    raise typer.Exit(2 if not exc.retryable else 75)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="FIT files and folders (recursive)")],
    workers: Annotated[int, typer.Option(min=0, help="parser processes (default: all cores)")] = 0,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Store FIT files (and folders of them) in the DuckDB store.

    Example: legday ingest ~/Garmin/Activities
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
        analysis.refresh_store(cfg, now=now_utc(), on_wait=_wait_message)
    except LegdayError as exc:
        _fail(exc)


def _run_ingest(
    cfg: Settings, items: list[tuple[Path, str]], workers: int, show: bool
) -> IngestSummary:
    def run(progress: Callable[[FileOutcome], None] | None) -> IngestSummary:
        with unpack_workspace(cfg.unpack_root) as unpack_dir:
            return ingest_files(
                cfg.db_path,
                items,
                now=now_utc(),
                workers=workers or default_workers(),
                progress=progress,
                on_wait=_wait_message,
                unpack_dir=unpack_dir,
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
    if skipped:
        console.print(f"skipped {len(skipped)} file(s) that are not .fit (e.g. {skipped[0].name})")


def _format_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        w.writerows(rows)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=2)
    raise ValueError(fmt)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run read-only against the store")],
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
    timeout: Annotated[float, typer.Option(help="seconds to wait for a busy store")] = 60.0,
) -> None:
    """Run a read-only SQL query; the store and the disk cannot be changed through it.

    Example: legday query "select sport, count(*) from activities group by all"
    """
    if format not in ("table", "csv", "json"):
        err.print("[red]error:[/red] --format must be table, csv or json")
        raise typer.Exit(2)
    try:
        cfg = settings()
        with st.open_store(
            cfg.db_path, read_only=True, timeout_s=timeout, on_wait=_wait_message
        ) as s:
            columns, rows = s.user_query(sql)
    except LegdayError as exc:
        _fail(exc)
        return
    if format != "table":
        sys.stdout.write(_format_rows(columns, rows, format))
        if format == "json":
            sys.stdout.write("\n")
        return
    t = Table(show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    console.print(t)
    console.print(f"{len(rows)} row(s)")


@app.command()
def status() -> None:
    """What the store holds: files by outcome, rows per relation, quarantined files."""
    try:
        cfg = settings()
        with st.open_store(cfg.db_path, read_only=True, on_wait=_wait_message) as s:
            counts = st.store_counts(s)
            quarantined = s.rows(
                "SELECT status, reason_code, original_name, message FROM files "
                "WHERE status IN ('quarantined', 'partial') ORDER BY first_seen_utc DESC LIMIT 20"
            )
            version = s.schema_version()
    except LegdayError as exc:
        _fail(exc)
        return
    console.print(f"[bold]store[/bold] {cfg.db_path} (schema v{version})")
    t = Table(title="files")
    for col in ("athlete", "status", "files"):
        t.add_column(col)
    for a, s_, n in counts["files_by_status"]:
        t.add_row(a, s_, str(n))
    console.print(t)
    r = Table(title="relations")
    r.add_column("relation")
    r.add_column("rows", justify="right")
    for k, v in counts["relations"].items():
        r.add_row(k, f"{v:,}")
    console.print(r)
    for a, first, last, n in counts["activity_span"]:
        console.print(f"athlete {a}: {n} activities from {first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC)")
    if quarantined:
        q = Table(title="recent partial / quarantined files")
        for col in ("status", "reason", "file", "message"):
            q.add_column(col, overflow="fold")
        for row in quarantined:
            q.add_row(*(str(v or "") for v in row))
        console.print(q)


def _parse_day(value: str | None, cfg: Settings, athlete_id: str) -> date:
    if value in (None, "today"):
        return now_utc().astimezone(cfg.athlete(athlete_id).tz).date()
    if value == "yesterday":
        return now_utc().astimezone(cfg.athlete(athlete_id).tz).date() - timedelta(days=1)
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ReportError(f"--date must be YYYY-MM-DD, today or yesterday, not {value!r}") from exc


@app.command()
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
        cfg = settings()
        athlete_id = athlete or cfg.default_athlete
        cfg.athlete(athlete_id)
        produced = produce.produce_report(
            cfg,
            athlete_id,
            None if most_telling else _parse_day(date_, cfg, athlete_id),
            generated_at=now_utc(),
            out_dir=out or cfg.data_dir / "reports",
            on_wait=_wait_message,
            timeout_s=60,
        )
        rendered, paths = produced.rendered, produced.paths
    except LegdayError as exc:
        _fail(exc)
        return
    if format == "md" and sys.stdout.isatty():
        console.print(Markdown(rendered["md"]))
    else:
        # Plain text when piped: no re-wrapping, the Markdown stays as written.
        sys.stdout.write(rendered[format].rstrip("\n") + "\n")
    err.print(f"report files: {paths['md'].parent}/ (HTML: {paths['html']})")


@app.command()
def label(
    activity: Annotated[str, typer.Argument(help="activity id (or a unique prefix)")],
    kind: Annotated[str, typer.Argument(help="run, leg_strength, strength, ride, swim or other")],
    note: Annotated[str | None, typer.Option(help="why (kept with the label)")] = None,
    athlete: Annotated[str | None, typer.Option(help="athlete id")] = None,
) -> None:
    """Correct the kind of an activity; the correction survives re-ingest and re-classification.

    Example: legday label 3f2a9c leg_strength --note "front squats, watch said unknown"
    """
    from pipeline.derive import refresh as analysis

    try:
        cfg = settings()
        athlete_id = athlete or cfg.default_athlete
        with st.open_store(cfg.db_path, timeout_s=60, on_wait=_wait_message) as s:
            s.migrate(now_utc())
            full_id = analysis.set_label(s, athlete_id, activity, kind, note, now=now_utc())
            result = analysis.refresh(s, cfg, athlete_id, now=now_utc(), only=[full_id])
    except LegdayError as exc:
        _fail(exc)
        return
    console.print(f"labelled {full_id} as {kind}; {result.flags} flag(s) re-evaluated")


@app.command()
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
            on_wait=_wait_message,
            full=True,
            athletes=[athlete] if athlete else None,
        )
    except LegdayError as exc:
        _fail(exc)
        return
    for a, r in out.items():
        console.print(f"{a}: {r['classified']} classified, {r['flags']} flag(s)")


def _register_commands() -> None:
    from pipeline.cli.serve import register

    register(app)
    __import__("pipeline.cli.extras", fromlist=["register"]).register(app)  # demo, deployments


_register_commands()

if __name__ == "__main__":
    app(prog_name="legday")  # `python -m pipeline.cli.main` is legday too, in usage and errors
