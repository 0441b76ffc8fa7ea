"""The ``legday`` command line: the typer app, its global options and its commands.

The top of the house. The CLI (with ``flows/``) is the only place that reads the clock, the
environment and the working directory, and the only part of ``pipeline`` that starts Prefect.
Every command is a thin call into the library and lives in its own module; this one builds the
app and registers them, and nothing imports it back (the shared state is in ``common``).

    legday = "pipeline.cli.main:app"   (pyproject's console script)
    python -m pipeline.cli             (the same app, through ``pipeline/cli/__main__.py``)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import (
    evidence_cmd,
    extras,
    ingest_cmd,
    plan_cmd,
    query_cmd,
    report_cmd,
    serve,
)
from pipeline.cli.common import set_global_options
from pipeline.cli.group import LegdayGroup, hoist_global_options

__all__ = ["LegdayGroup", "app", "hoist_global_options"]

app = typer.Typer(
    name="legday",
    cls=LegdayGroup,
    help="FIT files in, DuckDB out, and a daily report that flags intense runs too soon after leg day.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    db: Annotated[Path | None, typer.Option(help="DuckDB file (env LEGDAY_DB)")] = None,
    config: Annotated[Path | None, typer.Option(help="legday.toml (env LEGDAY_CONFIG)")] = None,
    athlete: Annotated[str | None, typer.Option(help="athlete id (env LEGDAY_ATHLETE)")] = None,
) -> None:
    """Settings come from flags, then LEGDAY_* environment, then ./legday.toml, then defaults."""
    set_global_options(db, config, athlete)


# The order of `legday --help`.
app.command("ingest")(ingest_cmd.ingest)
app.command("query")(query_cmd.query)
app.command("status")(query_cmd.status)
app.command("report")(report_cmd.report)
app.command("label")(report_cmd.label)
app.command("reclassify")(report_cmd.reclassify)
app.command("watch")(serve.watch)
app.command("serve")(serve.serve)
app.command("demo")(extras.demo)
app.command("deployments")(extras.deployments)
plan_cmd.register(app)  # plan add/list/remove/import/check, notify
evidence_cmd.register(app)  # evidence

if __name__ == "__main__":
    # `python -m pipeline.cli.main` still works (older scripts); `python -m pipeline.cli` is the
    # documented way.
    app(prog_name="legday")
