"""``legday evidence``: what the athlete's own runs say about leg days (issue 14).

Runs are compared by hours since the end of the last leg session (0-24, 24-48, 48-72 h against
> 72 h) on efficiency, heart rate at the usual easy pace and cardiac drift; every difference is
shown with its n and bootstrap interval, or "not enough data". Suggested windows are printed,
never applied. One call into ``pipeline.derive.fatigue_service``; I/O: the store (read-only)
and the terminal.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from pipeline.cli.common import console, err, fail, readable_settings, wait_message
from pipeline.derive.evidence import EvidenceReport, Measure, describe
from pipeline.errors import LegdayError
from pipeline.store import db as st

MEASURE_WORDS = {
    Measure.EFFICIENCY: "efficiency (m per beat, steady laps)",
    Measure.HR_AT_EASY_PACE: "heart rate at your easy pace",
    Measure.CARDIAC_DRIFT: "cardiac drift (Pa:HR, %)",
}


def as_dict(report: EvidenceReport, athlete_id: str) -> dict[str, Any]:
    """The report as plain data (``--format json``)."""
    return {
        "athlete_id": athlete_id,
        "runs_used": report.runs_used,
        "runs_without_prior_leg": report.runs_without_prior_leg,
        "min_n": report.min_n,
        "confidence": report.confidence,
        "per_interval_confidence": report.per_interval_confidence,
        "results": [
            {
                "measure": r.measure.value,
                "bucket": r.bucket.value,
                "n": r.n,
                "baseline_n": r.baseline_n,
                "verdict": r.verdict.value,
                "difference": None
                if r.difference is None
                else {
                    "estimate": r.difference.estimate,
                    "low": r.difference.low,
                    "high": r.difference.high,
                    "unit": r.difference.unit,
                },
            }
            for r in report.results
        ],
        "suggestions": [
            {"measure": s.measure.value, "hours": s.hours, "reason": s.reason}
            for s in report.suggestions
        ],
        "suggested_window_hours": report.suggested_window_hours,
        "applied": False,  # suggestions are never applied; the person edits legday.toml
    }


def text_lines(report: EvidenceReport, athlete_id: str) -> list[str]:
    """The report for a person, one line per bucket (``evidence.describe``), measure by measure."""
    pct = report.per_interval_confidence * 100
    lines = [
        f"What {athlete_id}'s runs say: runs by hours since the end of the last leg session, "
        "each bucket against runs > 72 h after (the baseline)",
        f"{report.runs_used} runs after a leg session; {report.runs_without_prior_leg} with none "
        f"before them left out. A difference needs {report.min_n} runs in the bucket and in the "
        f"baseline; intervals are {pct:.2f} % bootstraps ({report.confidence:.0%} over all of "
        "them).",
    ]
    for measure in Measure:
        lines.append(f"{MEASURE_WORDS[measure]}:")
        lines.extend(f"  {describe(r)}" for r in report.results if r.measure == measure)
    lines.append("Suggested windows (never applied; set them in legday.toml yourself):")
    for s in report.suggestions:
        hours = f"{s.hours:g} h" if s.hours is not None else "none"
        lines.append(f"  {MEASURE_WORDS[s.measure]}: {hours} — {s.reason}")
    if report.suggested_window_hours is not None:
        lines.append(
            f"  longest supported window: {report.suggested_window_hours:g} h "
            "(recovery.warning_hours under [athletes.<id>.recovery])"
        )
    return lines


def evidence(
    athlete: Annotated[
        str | None, typer.Option(help="athlete id (default: the default athlete)")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    timeout: Annotated[float, typer.Option(help="seconds to wait for a busy store")] = 60.0,
) -> None:
    """Compare your runs by hours since leg day: n, difference and interval per bucket.

    Suggested personal windows are printed, never applied (set them in legday.toml).
    Example: legday evidence --format json
    """
    if format not in ("table", "json"):
        err.print("[red]error:[/red] --format must be table or json")
        raise typer.Exit(2)
    from pipeline.derive.fatigue_service import evidence_for

    try:
        cfg = readable_settings(timeout)
        athlete_id = athlete or cfg.default_athlete
        cfg.athlete(athlete_id)
        with st.open_store(
            cfg.db_path, read_only=True, timeout_s=timeout, on_wait=wait_message
        ) as store:
            report = evidence_for(store, cfg, athlete_id)
    except LegdayError as exc:
        fail(exc)
    if format == "json":
        print(json.dumps(as_dict(report, athlete_id), indent=2))
        return
    for line in text_lines(report, athlete_id):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``evidence`` to the ``legday`` app."""
    app.command("evidence")(evidence)
