"""``legday query`` and ``legday status``: look into the store, never change it.

Both open the store read-only; the SQL of ``status`` is in ``pipeline.store.cli_sql``, a
person's own SQL goes through ``Store.user_query``. I/O: the store and the terminal.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.common import console, err, fail, now_utc, readable_settings, wait_message
from pipeline.errors import LegdayError
from pipeline.store import db as st
from pipeline.store.cli_sql import store_status

#: The schema version whose store has what the "how much is known" counts read.
_KNOWN_SINCE = 6


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
        cfg = readable_settings(timeout)
        with st.open_store(
            cfg.db_path, read_only=True, timeout_s=timeout, on_wait=wait_message
        ) as s:
            columns, rows = s.user_query(sql)
    except LegdayError as exc:
        fail(exc)
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


def status() -> None:
    """What the store holds: files by outcome, rows per relation, how much is known of the
    strength sessions of the last 28 days, quarantined files."""
    from pipeline.derive.refresh import known_counts

    try:
        cfg = readable_settings()
        with st.open_store(cfg.db_path, read_only=True, on_wait=wait_message) as s:
            found = store_status(s)
            # learned_kinds (migration 6) is read by the counts; an older store has no counts
            # until a writer (ingest, label, reclassify) migrates it.
            known = [
                known_counts(s, cfg, span.athlete_id, now_utc())
                for span in found.activity_spans
                if span.athlete_id in cfg.athletes and found.schema_version >= _KNOWN_SINCE
            ]
    except LegdayError as exc:
        fail(exc)
    console.print(f"[bold]store[/bold] {cfg.db_path} (schema v{found.schema_version})")
    t = Table(title="files")
    for col in ("athlete", "status", "files"):
        t.add_column(col)
    for a, s_, n in found.files_by_status:
        t.add_row(a, s_, str(n))
    console.print(t)
    r = Table(title="relations")
    r.add_column("relation")
    r.add_column("rows", justify="right")
    for k, v in found.relations.items():
        r.add_row(k, f"{v:,}")
    console.print(r)
    for span in found.activity_spans:
        console.print(
            f"athlete {span.athlete_id}: {span.activities} activities from "
            f"{span.first_utc:%Y-%m-%d} to {span.last_utc:%Y-%m-%d} (UTC)"
        )
    for counts in known:
        note = counts.mode_sentence()
        console.print(
            f"athlete {counts.athlete_id}: {counts.sentence()}" + (f"; {note}" if note else ""),
            highlight=False,
        )
    if found.recent_flagged:
        q = Table(title="recent partial / quarantined files")
        for col in ("status", "reason", "file", "message"):
            q.add_column(col, overflow="fold")
        for f in found.recent_flagged:
            q.add_row(f.status, f.reason_code or "", f.original_name or "", f.message or "")
        console.print(q)
