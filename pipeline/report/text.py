"""Sentences and formats the Markdown and the HTML report share, so both say the same. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.derive.possible_legs import POSSIBLY_RECOVERING
from pipeline.derive.recovery import format_local
from pipeline.report.model import Known, LegsState, Report, SessionToSettle


def when(ts: datetime | None) -> str:
    """``Sun 25 Oct 18:40 CET (17:40 UTC)``; ``ts`` is in the athlete's zone, as in a report."""
    if ts is None:
        return "—"
    return f"{format_local(ts, ts.tzinfo or UTC)} ({ts.astimezone(UTC):%H:%M} UTC)"


def fmt(value: float | int | None, spec: str = ".1f") -> str:
    """A number in ``spec``, or an em dash for none."""
    return "—" if value is None else format(value, spec)


def plural(n: int, word: str) -> str:
    """``1 run``, ``2 runs``."""
    return f"{n} {word}{'s' if n != 1 else ''}"


def flag_counts(alerts: int, warnings: int, infos: int) -> list[str]:
    """``["1 alert", "2 warnings"]``: the severities that have flags, strongest first."""
    return [
        plural(n, label)
        for n, label in ((alerts, "alert"), (warnings, "warning"), (infos, "info"))
        if n
    ]


def headline(report: Report) -> str:
    """One sentence: how many flags of which severity, or that there are none."""
    s = report.summary
    parts = flag_counts(s.alerts, s.warnings, s.infos)
    if not parts:
        return "No flags: no run this day started too soon after a leg session."
    return "Flags: " + ", ".join(parts) + "."


def _possibly(legs: LegsState) -> str:
    n = len(legs.possible_leg_activity_ids)
    return (
        f"Status: POSSIBLY RECOVERING — {plural(n, 'possible leg session')} (strength, region "
        f"unknown) ended within the leg window; if it trained legs, intense running is advised "
        f'from {when(legs.possible_ok_from)}. See "Sessions to settle".'
    )


def legs_sentence(legs: LegsState) -> str:
    """The legs' state at the end of the day as a sentence."""
    if legs.last_leg_end is None:
        if legs.status == POSSIBLY_RECOVERING:
            return "No known leg session on record before the end of this day. " + _possibly(legs)
        return "No leg session on record before the end of this day: legs are ready."
    marks = [k for k, on in (("heavy", legs.heavy), ("unaccustomed", legs.unaccustomed)) if on]
    kind = " and ".join(marks) or "not heavy"
    text = (
        f"Last leg session: {legs.last_leg_name} ({kind}), "
        f"ended {when(legs.last_leg_end)}, "
        f"{fmt(legs.hours_since)} h before the end of the day. "
    )
    if legs.status == "recovering":
        text += (
            f"Status: RECOVERING ({fmt(legs.window_hours, 'g')} h window) — intense running "
            f"advised from {when(legs.intense_ok_from)}."
        )
    elif legs.status == POSSIBLY_RECOVERING:
        text += _possibly(legs)
    else:
        text += f"Status: READY for intense running since {when(legs.intense_ok_from)}."
    return text


def settle_line(s: SessionToSettle) -> str:
    """One possible leg session: what, when, why unknown, what it decides, the two commands."""
    decides = []
    if s.flagged_run_ids:
        decides.append(f"it decides the flag of {plural(len(s.flagged_run_ids), 'run')} today")
    if s.inside_window:
        decides.append("it keeps the legs possibly recovering")
    commands = ", ".join(f"`{c.command}` if {c.meaning}" for c in s.commands)
    return (
        f"{s.name} (`{s.activity_id}`), ended {when(s.end)}: region unknown — {s.why_unknown}"
        + (f"; {' and '.join(decides)}" if decides else "")
        + f". Settle it: {commands}."
    )


def known_lines(known: Known) -> list[str]:
    """How much is known, as one or two sentences."""
    return [known.sentence + "."] + ([known.setting_note + "."] if known.setting_note else [])
