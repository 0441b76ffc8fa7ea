"""Typed contracts of the export readers: what a Garmin or Strava summary says about an activity.

The readers (``pipeline.exports.garmin``) turn export files into these frozen values; matching and the
title hint (``pipeline.exports.match``) take them as inputs. Nothing here reads files or clocks.
Every time is an aware UTC ``datetime``; units are in the field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pipeline.errors import LegdayError

__all__ = [
    "ActivitySummary",
    "ExerciseSummary",
    "ExportFormatError",
    "ExportSource",
    "SummaryFile",
]


class ExportSource(StrEnum):
    """Which export a summary came from (stored with it, named in classification reasons)."""

    GARMIN_SUMMARY = "garmin_summary"  # DI-Connect-Fitness/*_summarizedActivities.json
    STRAVA_CSV = "strava_csv"  # activities.csv of a Strava bulk export


class ExportFormatError(LegdayError):
    """A file is not the export file it was handed in as (not JSON, not a Strava CSV, ...).

    ``reason_code`` is stable: ``not_json``, ``not_garmin_summary``, ``not_strava_csv``.
    Only a file that cannot be read *at all* raises; oddities inside a readable file become
    ``unexpected`` notes instead.
    """

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code


@dataclass(frozen=True)
class ExerciseSummary:
    """One entry of Garmin's ``summarizedExerciseSets``: an exercise category over a session."""

    category: str  # as given, upper case in Garmin exports: SQUAT, DEADLIFT, UNKNOWN
    sub_category: str | None = None  # API copy has it; in the export UNCONFIRMED
    sets: int | None = None
    reps: int | None = None  # total over the sets
    max_weight_kg: float | None = None  # from grams
    volume_kg: float | None = None  # from grams, when present (UNCONFIRMED in the export)
    duration_s: float | None = None  # from milliseconds


@dataclass(frozen=True)
class ActivitySummary:
    """What one export row or entry says about one activity, with what was odd about it."""

    source: ExportSource
    source_id: str  # Garmin activityId, Strava Activity ID
    title: str | None  # the name the person gave it in Connect / Strava
    activity_type: str | None  # as given: 'strength_training', 'Weight Training', 'Run'
    start_utc: datetime | None  # aware UTC; None only when no readable start exists
    duration_s: float | None
    exercises: tuple[ExerciseSummary, ...] = ()
    file_name: str | None = None  # Strava 'Filename', e.g. 'activities/123.fit.gz'
    sport_type: str | None = None  # Garmin 'sportType' (values UNCONFIRMED)
    start_local: datetime | None = None  # naive wall clock (Garmin startTimeLocal), if given
    unexpected: tuple[str, ...] = ()  # what lenient parsing skipped, guessed or fell back on


@dataclass(frozen=True)
class SummaryFile:
    """All summaries of one export file, and notes about the file as a whole.

    ``notes`` holds what belongs to no single activity: the top-level shape, entries skipped
    because nothing identifies them, rows of the wrong width.
    """

    source: ExportSource
    summaries: tuple[ActivitySummary, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
