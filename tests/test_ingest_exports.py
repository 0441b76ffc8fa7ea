"""Issue 12 item 4 and issue 13, ingest side: export zips, loose export folders, ``.fit.gz`` and
calendars given to ``legday ingest`` (``ingest_paths``) or dropped in the inbox end where they
belong, each with a ``files`` row and an outcome; a hard run after a leg day that only the
export's summary names is flagged, definitely.

The exports are built here with the layouts of ``../shared/research/exports.md``: Garmin's zip
with its summary JSON beside a nested zip of original FIT files, Strava's zip with
``activities.csv`` (duplicated column names, quoted dates) beside gzipped FIT files. The FIT
files are written with the garmin-fit-sdk Encoder (``tests.test_possible_legs.Fit``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipeline.config import AthleteSettings, Settings
from pipeline.derive import refresh
from pipeline.ingest.outcomes import FileStatus, IngestSummary
from pipeline.ingest.run import ingest_paths
from pipeline.store.db import open_store
from tests.test_exports import zip_bytes as zipped
from tests.test_possible_legs import UNKNOWN_SETS, Fit

T0 = datetime(2026, 10, 19, 16, 0, tzinfo=UTC)  # Monday 18:00 in Berlin
NOW = T0 + timedelta(days=3)
_serial = iter(range(5000, 6000))


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "s.duckdb",
        data_dir=tmp_path,
        default_athlete="me",
        athletes={"me": AthleteSettings(timezone="Europe/Berlin", max_hr=190, resting_hr=50)},
    )


def lift(start: datetime, *, sets: bool = True) -> bytes:
    """60 min of strength with nine sets the watch could not name (or no sets at all)."""
    return Fit(next(_serial)).build(
        start, 60, sport="training", sub_sport="strength_training", hr=110,
        sets=UNKNOWN_SETS if sets else None,
    )  # fmt: skip


def hard_run(start: datetime) -> bytes:
    return Fit(next(_serial)).build(start, 40, sport="running", sub_sport="generic", hr=180)


def ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def garmin_entry(
    aid: int, start: datetime, name: str, sets: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "activityId": aid, "name": name, "activityType": "strength_training",
        "sportType": "TRAINING", "startTimeGmt": ms(start),
        "startTimeLocal": ms(start + timedelta(hours=2)), "beginTimestamp": ms(start),
        "duration": 3_600_000.0, "elapsedDuration": 3_600_000.0, "distance": 0.0,
        "summarizedExerciseSets": sets,
    }  # fmt: skip


def garmin_json(entries: list[dict[str, Any]]) -> bytes:
    return json.dumps([{"summarizedActivitiesExport": entries}]).encode()


def garmin_export(fits: dict[str, bytes], entries: list[dict[str, Any]]) -> bytes:
    """Export Your Data: the summaries in DI-Connect-Fitness, the FIT files in a nested zip."""
    return zipped(
        {
            "DI_CONNECT/DI-Connect-Fitness/me@example.com_0_summarizedActivities.json": (
                garmin_json(entries)
            ),
            "DI_CONNECT/DI-Connect-Wellness/2026-10-01_2027-01-09_123_sleepData.json": b"[]",
            "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip": zipped(fits),
        }
    )


#: Strava's header: five names appear twice (the second copies hold other units).
STRAVA_HEADER = [
    "Activity ID", "Activity Date", "Activity Name", "Activity Type", "Activity Description",
    "Elapsed Time", "Distance", "Max Heart Rate", "Relative Effort", "Commute",
    "Activity Private Note", "Activity Gear", "Filename", "Athlete Weight", "Bike Weight",
    "Elapsed Time", "Moving Time", "Distance", "Max Heart Rate", "Relative Effort", "Commute",
]  # fmt: skip


def strava_csv(rows: list[tuple[str, datetime, str, str, int, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(STRAVA_HEADER)
    for aid, start, name, kind, elapsed, fname in rows:
        # "Oct 19, 2026, 4:00:00 PM": UTC, with commas, so the writer quotes it.
        date = start.strftime("%b %d, %Y, %I:%M:%S %p").replace(" 0", " ")
        w.writerow([aid, date, name, kind, "", str(elapsed), "0", "", "", "false", "", "", fname,
                    "70", "", "9999", str(elapsed), "0", "", "", "0"])  # fmt: skip
    return buf.getvalue().encode()


def run_ingest(settings: Settings, paths: list[Path]) -> IngestSummary:
    summary = ingest_paths(settings, paths, now=NOW)
    refresh.refresh_store(settings, now=NOW)
    return summary


def sessions(settings: Settings) -> pl.DataFrame:
    with open_store(settings.db_path, read_only=True) as s:
        return refresh.session_frame(s, "me", since=None).sort("start_utc")


def flags(settings: Settings) -> list[dict[str, Any]]:
    with open_store(settings.db_path, read_only=True) as s:
        return s.frame("SELECT * FROM recovery_flags ORDER BY run_start_utc").to_dicts()


def files(settings: Settings) -> dict[str, dict[str, Any]]:
    with open_store(settings.db_path, read_only=True) as s:
        rows = s.frame("SELECT * FROM files").to_dicts()
    return {r["original_name"]: r for r in rows}


def summaries(settings: Settings) -> list[dict[str, Any]]:
    with open_store(settings.db_path, read_only=True) as s:
        return s.frame("SELECT * FROM activity_summaries ORDER BY source_id").to_dicts()


LEGS = [{"category": "UNKNOWN", "sets": 9, "reps": 75, "maxWeight": 100000, "duration": 900000}]
UPPER = [
    {"category": "BENCH_PRESS", "sets": 5, "reps": 25, "maxWeight": 80000, "duration": 500000},
    {"category": "ROW", "sets": 4, "reps": 40, "maxWeight": 60000, "duration": 400000},
]


def test_a_garmin_export_whose_title_alone_says_legs_flags_the_run(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    export = tmp_path / "garmin-export.zip"
    export.write_bytes(
        garmin_export(
            {
                "me_1_ACTIVITY.fit": lift(T0),
                "me_2_ACTIVITY.fit": hard_run(T0 + timedelta(hours=14)),
            },
            [garmin_entry(111, T0, "Leg day", LEGS)],
        )
    )
    summary = run_ingest(settings, [export])
    by_type = {o.file_type: o for o in summary.outcomes}
    assert summary.counts()["quarantined"] == 0
    side = by_type["garmin_summary"]
    assert side.status is FileStatus.STORED and side.member_of == str(export)
    assert side.name.startswith("garmin-export.zip!") and "1 activit" in (side.message or "")
    assert files(settings)["me@example.com_0_summarizedActivities.json"]["file_type"] == (
        "garmin_summary"
    )
    [row] = summaries(settings)
    lifted = sessions(settings).filter(pl.col("sport") == "training").row(0, named=True)
    assert row["activity_id"] == lifted["activity_id"] and row["match_how"] != "none"
    assert lifted["kind"] == "leg_strength"
    assert "Garmin" in lifted["kind_reason"] and "Leg day" in lifted["kind_reason"]
    [flag] = flags(settings)
    assert flag["rule"] != "possible_legs" and flag["leg_activity_id"] == lifted["activity_id"]
    # The file has no name: the session is shown by the title the person gave it in Connect.
    assert lifted["name"] == "Leg day" and "Leg day" in flag["message"]


def test_an_upper_body_session_named_by_its_summary_is_never_flagged(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    export = tmp_path / "export.zip"
    export.write_bytes(
        garmin_export(
            {"a.fit": lift(T0), "b.fit": hard_run(T0 + timedelta(hours=14))},
            [garmin_entry(112, T0, "Push day", UPPER)],
        )
    )
    run_ingest(settings, [export])
    lifted = sessions(settings).filter(pl.col("sport") == "training").row(0, named=True)
    assert lifted["kind"] == "strength" and lifted["region"] not in ("lower", "unknown")
    assert flags(settings) == []


def test_a_strava_export_matches_by_file_name_through_the_gzipped_fit(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    export = tmp_path / "export_12345.zip"
    export.write_bytes(
        zipped(
            {
                "activities.csv": strava_csv(
                    [
                        ("9001", T0, "Lower A", "Weight Training", 3600, "activities/9001.fit.gz"),
                        (
                            "9002",
                            T0 + timedelta(hours=14),
                            "Intervals",
                            "Run",
                            2400,
                            "activities/9002.fit.gz",
                        ),
                    ]
                ),
                "profile.csv": b"Athlete ID\n1\n",
                "activities/9001.fit.gz": gzip.compress(lift(T0, sets=False)),
                "activities/9002.fit.gz": gzip.compress(hard_run(T0 + timedelta(hours=14))),
            }
        )
    )
    summary = run_ingest(settings, [export])
    assert summary.counts()["stored"] == 4  # the zip, two FIT files, the CSV
    rows = {r["source_id"]: r for r in summaries(settings)}
    assert {r["match_how"] for r in rows.values()} == {"file"}
    lifted = sessions(settings).filter(pl.col("sport") == "training").row(0, named=True)
    assert rows["9001"]["activity_id"] == lifted["activity_id"]
    assert lifted["kind"] == "leg_strength" and "Strava" in lifted["kind_reason"]
    assert [f["rule"] != "possible_legs" for f in flags(settings)] == [True]


def test_summary_first_then_the_fit_files_of_an_unpacked_strava_folder(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    folder = tmp_path / "export_1"
    (folder / "activities").mkdir(parents=True)
    (folder / "activities.csv").write_bytes(
        strava_csv([("7", T0, "Leg day", "Weight Training", 3600, "activities/7.fit.gz")])
    )
    (folder / "media.txt").write_text("not taken")
    first = run_ingest(settings, [folder])
    assert [o.file_type for o in first.outcomes] == ["strava_csv"]
    assert [p.name for p in first.skipped] == ["media.txt"]
    assert sessions(settings).height == 0
    (folder / "activities" / "7.fit.gz").write_bytes(gzip.compress(lift(T0)))
    (folder / "activities" / "8.fit").write_bytes(hard_run(T0 + timedelta(hours=14)))
    second = run_ingest(settings, [folder])
    assert second.counts() == {"stored": 3, "partial": 0, "duplicate": 1, "quarantined": 0}
    assert files(settings)["7.fit.gz"]["file_type"] == "gzip"
    lifted = sessions(settings).filter(pl.col("sport") == "training").row(0, named=True)
    assert lifted["kind"] == "leg_strength"
    [flag] = flags(settings)
    assert flag["leg_activity_id"] == lifted["activity_id"]


def test_calendars_and_files_that_are_not_what_they_say(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    cal = tmp_path / "training.ics"
    cal.write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nX-WR-CALNAME:Coach\r\n"
        b"BEGIN:VEVENT\r\nUID:a@t\r\nDTSTAMP:20261019T000000Z\r\n"
        b"DTSTART:20261022T050000Z\r\nDTEND:20261022T060000Z\r\nSUMMARY:6x800m intervals\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    bad_cal = tmp_path / "broken.ics"
    bad_cal.write_bytes(b"BEGIN:VCALENDAR\r\nthis is not a calendar")
    not_json = tmp_path / "notes.json"
    not_json.write_bytes(b"{ not json")
    summary = run_ingest(settings, [cal, bad_cal, not_json])
    out = {Path(o.path).name: o for o in summary.outcomes}
    assert out["training.ics"].status is FileStatus.STORED
    assert "1 planned session" in (out["training.ics"].message or "")
    assert (out["broken.ics"].status, out["broken.ics"].reason_code) == (
        FileStatus.QUARANTINED,
        "calendar_unreadable",
    )
    assert out["notes.json"].status is FileStatus.QUARANTINED
    assert out["notes.json"].reason_code == "not_json"
    stored = files(settings)
    assert {n: stored[n]["status"] for n in out} == {n: o.status.value for n, o in out.items()}
    with open_store(settings.db_path, read_only=True) as s:
        plans = s.frame("SELECT title, intensity FROM planned_workouts").to_dicts()
    assert plans == [{"title": "6x800m intervals", "intensity": "hard"}]
    again = ingest_paths(settings, [cal], now=NOW)
    assert [o.status for o in again.outcomes] == [FileStatus.DUPLICATE]


@pytest.mark.parametrize("corrupt", [b"\x1f\x8b\x08\x00garbage", b"plain bytes"])
def test_a_broken_fit_gz_is_quarantined_with_a_reason(tmp_path: Path, corrupt: bytes) -> None:
    settings = settings_for(tmp_path)
    path = tmp_path / "1.fit.gz"
    path.write_bytes(corrupt)
    [outcome] = ingest_paths(settings, [path], now=NOW).outcomes
    assert (outcome.status, outcome.reason_code) == (FileStatus.QUARANTINED, "gzip_corrupt")
    assert "1.fit.gz" in (outcome.message or "") and "gunzipped" in (outcome.message or "")


def test_the_inbox_takes_an_export_zip_and_a_calendar_and_files_them(tmp_path: Path) -> None:
    from pipeline.inbox.filing import ingest_and_file
    from pipeline.inbox.scan import scan_inbox

    settings = settings_for(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "export.zip").write_bytes(
        garmin_export(
            {"a.fit": lift(T0), "b.fit": hard_run(T0 + timedelta(hours=14))},
            [garmin_entry(113, T0, "Beine", [])],
        )
    )
    (inbox / "plan.ics").write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:b@t\r\n"
        b"DTSTAMP:20261019T000000Z\r\nDTSTART;VALUE=DATE:20261023\r\nSUMMARY:Squats\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    taken, skipped = scan_inbox(inbox, settings)
    assert skipped == [] and len(taken) == 2
    run = ingest_and_file(settings, taken, now=NOW)
    refresh.refresh_store(settings, now=NOW)
    assert sorted(p.name for p in inbox.iterdir()) == []
    kept = sorted(p.name for p in (tmp_path / "archive").rglob("*") if p.is_file())
    assert kept == ["export.zip", "plan.ics"]
    assert {o.file_type for o in run.summary.outcomes} >= {"garmin_summary", "calendar"}
    with open_store(settings.db_path, read_only=True) as s:
        plans = s.frame("SELECT kind, all_day FROM planned_workouts").to_dicts()
    assert plans == [{"kind": "leg_strength", "all_day": True}]
    lifted = sessions(settings).filter(pl.col("sport") == "training").row(0, named=True)
    assert lifted["kind"] == "leg_strength"  # "Beine": German for legs, from the title alone
    assert len(flags(settings)) == 1
