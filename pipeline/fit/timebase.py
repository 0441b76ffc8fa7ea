"""FIT times: device-relative clocks anchored, FIT seconds turned into UTC. No I/O.

FIT ``date_time`` values are seconds since 1989-12-31T00:00:00Z; values below 0x10000000 are
seconds since the device was switched on. ``anchor`` decides how such a file's times become
absolute: with its ``timestamp_correlation`` message, else with ``activity.local_timestamp``
(local time taken as UTC, with a warning); with neither the file cannot be placed on a day and
gets a fatal note. Timestamps stay FIT-second floats until one vectorised conversion per column
(``to_utc``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import polars as pl

from pipeline.fit import fields as fv
from pipeline.fit.decode import Collected
from pipeline.fit.schemas import UTC_TS, Note

FIT_EPOCH_S = 631065600  # 1989-12-31T00:00:00Z as a Unix timestamp
RELATIVE_LIMIT = 0x10000000  # FIT date_time values below this are seconds since power-on


def to_utc(seconds: Iterable[float | int | None], name: str) -> pl.Series:
    """A UTC timestamp column from FIT seconds (None stays null)."""
    micro = [None if s is None else round((s + FIT_EPOCH_S) * 1_000_000) for s in seconds]
    return pl.Series(name, micro, dtype=pl.Int64).cast(UTC_TS)


def to_datetime(seconds: float | None) -> datetime | None:
    """FIT seconds as a tz-aware UTC datetime, None when out of range."""
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds + FIT_EPOCH_S, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


class Clock:
    """Turns FIT date_time values into absolute FIT seconds, fixing device-relative ones."""

    def __init__(self, offset: float | None) -> None:
        self.offset = offset

    def __call__(self, v: float | int | None) -> float | None:
        if v is None:
            return None
        if v < RELATIVE_LIMIT:
            return None if self.offset is None else v + self.offset
        return float(v)


def anchor(
    c: Collected, strap_ts: list[float], warnings: list[Note]
) -> tuple[Clock, bool, Note | None]:
    """Find how to convert relative timestamps; returns (clock, had_relative, fatal_note).

    ``strap_ts`` are the times of the expanded strap ``hr`` samples (``hr.expand_hr``).
    """
    probe: list[int | float | None] = [c.rec_ts[0] if c.rec_ts else None]
    probe += [c.rec_ts[-1] if c.rec_ts else None]
    for fs in c.sessions:
        probe += [fv.integer(fs, "session", "start_time"), fv.integer(fs, "session", "timestamp")]
    for fs in c.laps[:1]:
        probe.append(fv.integer(fs, "lap", "start_time"))
    for fs in c.sets[:1]:
        probe.append(fv.integer(fs, "set", "timestamp"))
    if strap_ts:
        probe.append(strap_ts[0])
    if not any(v is not None and v < RELATIVE_LIMIT for v in probe):
        return Clock(None), False, None

    if c.correlation is not None:
        absolute = fv.num(c.correlation, "timestamp_correlation", "timestamp")
        system = fv.num(c.correlation, "timestamp_correlation", "system_timestamp")
        if absolute is not None and system is not None and absolute >= RELATIVE_LIMIT:
            absolute += fv.num(c.correlation, "timestamp_correlation", "fractional_timestamp") or 0
            system += (
                fv.num(c.correlation, "timestamp_correlation", "fractional_system_timestamp") or 0
            )
            warnings.append(
                Note(
                    "relative_timestamps",
                    "The device wrote times relative to power-on; they were converted with its "
                    "timestamp_correlation message. Nothing to do.",
                )
            )
            return Clock(absolute - system), True, None
    if c.activity is not None:
        ts = fv.integer(c.activity, "activity", "timestamp")
        local = fv.integer(c.activity, "activity", "local_timestamp")
        if ts is not None and local is not None and ts < RELATIVE_LIMIT <= local:
            warnings.append(
                Note(
                    "relative_timestamps",
                    "The device wrote times relative to power-on and only its local clock "
                    "anchors them, so times are local time taken as UTC (off by the watch's UTC "
                    "offset, up to 14 h). Check the session's day; set the watch's time zone "
                    "sync to avoid this.",
                )
            )
            return Clock(float(local - ts)), True, None
    return (
        Clock(None),
        True,
        Note(
            "relative_timestamps_unanchored",
            "The file's times are seconds since the device was switched on and nothing in it "
            "says when that was, so its sessions cannot be placed on a day. Re-export the "
            "activity from the vendor's app (which stores absolute times) and drop that file in.",
        ),
    )
