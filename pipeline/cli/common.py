"""What every ``legday`` command shares: the consoles, the global options, errors, the clock.

The app's callback (``pipeline.cli.main``) records ``--db``, ``--config`` and ``--athlete`` in
``state``; commands read the settings through ``settings()``, which loads them once per
invocation. Keeping this state here, not in the module that builds the app, means the command
modules never import the app (no import cycle), and ``python -m pipeline.cli.main`` shares it
with every command like the console script does.

I/O: reads the environment, the working directory and the clock; prints to the terminal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.config import Settings, load_settings
from pipeline.errors import LegdayError

console = Console()
err = Console(stderr=True, soft_wrap=True)


@dataclass
class GlobalOptions:
    """The app's own options of this invocation, and the settings loaded from them."""

    db: Path | None = None
    config: Path | None = None
    athlete: str | None = None
    settings: Settings | None = None


state = GlobalOptions()


def set_global_options(db: Path | None, config: Path | None, athlete: str | None) -> None:
    """Record the global options of a new invocation (forgetting settings loaded before)."""
    state.db, state.config, state.athlete = db, config, athlete
    state.settings = None


def settings() -> Settings:
    """Flags, then LEGDAY_* environment, then ./legday.toml, then defaults (loaded once)."""
    if state.settings is None:
        state.settings = load_settings(
            env=os.environ, cwd=Path.cwd(), config=state.config, db=state.db, athlete=state.athlete
        )
    return state.settings


def now_utc() -> datetime:
    return datetime.now(UTC)


def readable_settings(timeout_s: float = 60.0) -> Settings:
    """``settings()``, with the store brought to this legday's schema first: read-only commands
    (report, status, query, evidence) read a store an older legday wrote at once, instead of
    failing until the next ingest migrates it. ``timeout_s``: how long to wait for a busy store."""
    from pipeline.store.db import bring_up_to_date

    cfg = settings()
    bring_up_to_date(cfg.db_path, now_utc(), timeout_s=timeout_s, on_wait=wait_message)
    return cfg


def wait_message(msg: str) -> None:
    """Tell the person why nothing happens (the store is busy) while a command waits."""
    err.print(f"[yellow]{msg}[/yellow]")


def fail(exc: LegdayError) -> NoReturn:
    """End the command with the error's one line: exit 2, or 75 (EX_TEMPFAIL) when retryable."""
    # escaped: a message may hold brackets ("[athletes.x.recovery]") that are not markup
    err.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
    raise typer.Exit(2 if not exc.retryable else 75)
