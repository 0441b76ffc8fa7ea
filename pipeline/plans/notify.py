"""What a notification says and which findings it carries: the pure half of notifications.

A finding is anything with a stable ``finding_key``, a ``severity`` and a one-line ``message``:
a ``pipeline.plans.check.Conflict`` (planned run inside a leg window), or a recovery flag of a
completed run wrapped by ``flag_findings``. ``new_findings`` keeps the ones not sent before (the
caller keeps the sent keys in the store, and records them only after a delivery succeeded, so a
failed delivery is retried on the next run and a delivered one is never sent twice).
``compose`` turns them into plain text: a title and one line per finding, strongest first.
Sending (apprise) is another module's job; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Protocol, TypeVar

import polars as pl

from pipeline.derive.recovery import SEVERITY_RANK, format_local
from pipeline.plans.check import Conflict


class Finding(Protocol):
    """What a notification can carry."""

    @property
    def finding_key(self) -> str: ...

    @property
    def severity(self) -> str: ...

    @property
    def message(self) -> str: ...


@dataclass(frozen=True)
class FlagFinding:
    """A recovery flag of a completed run, as a finding (key: its ``flag_id`` and rule)."""

    finding_key: str
    severity: str
    message: str


@dataclass(frozen=True)
class Notification:
    """Plain text ready for any channel; ``keys`` are the findings it delivers."""

    title: str
    body: str
    keys: tuple[str, ...]
    notify_type: str  # 'warning' when an alert or warning is in it, else 'info'


def flag_findings(flags: pl.DataFrame) -> list[FlagFinding]:
    """Rows of ``pipeline.derive.recovery.FLAG_SCHEMA`` as findings (a changed rule is a new finding)."""
    return [
        FlagFinding(f"{row['flag_id']}|{row['rule']}", str(row["severity"]), str(row["message"]))
        for row in flags.select("flag_id", "rule", "severity", "message").to_dicts()
    ]


F = TypeVar("F", bound=Finding)


def new_findings(findings: Iterable[F], already_sent_keys: Iterable[str]) -> list[F]:
    """Findings whose key was never sent, each key once, in the given order."""
    seen = set(already_sent_keys)
    out: list[F] = []
    for f in findings:
        if f.finding_key in seen:
            continue
        seen.add(f.finding_key)
        out.append(f)
    return out


def conflict_line(c: Conflict, tz: tzinfo) -> str:
    """One line: severity, when, what, the leg session, when the legs are ready, what to do."""
    status = "planned" if c.leg.planned else "done"
    return (
        f"{c.severity.upper()} {format_local(c.run.start_utc, tz)} {c.run.title}: "
        f"{c.hours_between:.1f} h after '{c.leg.title}' ({status}), under "
        f"{c.threshold_hours:g} h; legs ready {format_local(c.legs_ready_utc, tz)}; "
        f"{c.suggestion}"
    )


def _line(f: Finding, tz: tzinfo) -> str:
    if isinstance(f, Conflict):
        return conflict_line(f, tz)
    return f"{f.severity.upper()} {' '.join(f.message.split())}"


def compose(
    findings: Sequence[Finding], tz: tzinfo, *, athlete: str | None = None
) -> Notification | None:
    """The notification for these findings, or None when there is nothing to say."""
    if not findings:
        return None
    ordered = sorted(
        enumerate(findings), key=lambda i_f: (-SEVERITY_RANK.get(i_f[1].severity, 0), i_f[0])
    )
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    parts = [
        f"{counts[s]} {s}{'s' if counts[s] > 1 else ''}"
        for s in sorted(counts, key=lambda s: -SEVERITY_RANK.get(s, 0))
    ]
    planned = sum(isinstance(f, Conflict) for f in findings)
    what = (
        "coming up"
        if planned == len(findings)
        else "after leg day"
        if planned == 0
        else "coming up and after leg day"
    )
    who = f" ({athlete})" if athlete else ""
    title = f"legday{who}: {', '.join(parts)} — {what}"
    body = "\n".join(_line(f, tz) for _, f in ordered)
    strong = any(SEVERITY_RANK.get(f.severity, 0) >= SEVERITY_RANK["warning"] for f in findings)
    return Notification(
        title=title,
        body=body,
        keys=tuple(f.finding_key for _, f in ordered),
        notify_type="warning" if strong else "info",
    )


TEST_NOTIFICATION = Notification(
    title="legday: test notification",
    body="If you can read this, legday can reach you. Nothing else to report.",
    keys=(),
    notify_type="info",
)
