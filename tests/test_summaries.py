"""Issue 12 item 4: export summaries stored, matched in refresh (either order of arrival) and used
by classification, learning and the recovery rules.

FIT files are written with garmin_fit_sdk's Encoder (``tests.test_possible_legs.Fit``), ingested
into a real DuckDB file under tmp_path; the Garmin summary JSON and the Strava CSV are generated
here in their documented shapes (../shared/research/exports.md sections 1-2) and read by the
real readers before ``store_summary_file`` stores them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipeline.config import ClassificationSettings, Settings
from pipeline.derive import refresh
from pipeline.derive.summary_hints import match_changes, says_strength, summary_hints
from pipeline.exports.garmin import read_garmin_summaries
from pipeline.exports.service import StoredSummaries, store_summary_file
from pipeline.exports.strava import read_strava_activities_csv
from pipeline.store import fatigue_sql
from pipeline.store.db import open_store
from tests.helpers import NOW, ingest
from tests.test_possible_legs import (
    BENCH_SETS,
    T0,
    UNKNOWN,
    UNKNOWN_SETS,
    Fit,
    _flags,
    _sessions,
    _settings,
    hard_run,
    strength,
)

LATER = T0 + timedelta(days=30)
GARMIN_ORIGIN = "export.zip!DI_CONNECT/DI-Connect-Fitness/me_0_summarizedActivities.json"


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def garmin_entry(
    aid: int,
    start: datetime,
    name: str,
    *,
    minutes: int = 60,
    kind: str = "strength_training",
    exercises: list[tuple[str, int, int, int]] | None = None,  # category, sets, reps, grams
) -> dict[str, Any]:
    """One entry of ``summarizedActivitiesExport`` with the keys the export carries."""
    return {
        "activityId": aid,
        "name": name,
        "activityType": kind,
        "sportType": "TRAINING",
        "startTimeGmt": _ms(start),
        "startTimeLocal": _ms(start + timedelta(hours=2)),
        "beginTimestamp": _ms(start),
        "duration": minutes * 60_000.0,
        "elapsedDuration": minutes * 60_000.0,
        "distance": 0.0,
        "avgHr": 110,
        "calories": 1450.0,
        "summarizedExerciseSets": [
            {"category": c, "sets": n, "reps": r, "maxWeight": g, "duration": n * 40_000}
            for c, n, r, g in (exercises if exercises is not None else [("UNKNOWN", 9, 75, -1)])
        ],
    }


def garmin_json(*entries: dict[str, Any]) -> bytes:
    return json.dumps([{"summarizedActivitiesExport": list(entries)}]).encode()


STRAVA_HEADER = [
    "Activity ID",
    "Activity Date",
    "Activity Name",
    "Activity Type",
    "Activity Description",
    "Elapsed Time",
    "Distance",
    "Max Heart Rate",
    "Relative Effort",
    "Commute",
    "Activity Private Note",
    "Activity Gear",
    "Filename",
    "Athlete Weight",
    "Bike Weight",
    "Elapsed Time",
    "Moving Time",
    "Distance",
    "Max Heart Rate",
    "Relative Effort",
    "Commute",
]


def strava_csv(*rows: tuple[str, datetime, str, str, int, str]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(STRAVA_HEADER)
    for aid, start, name, kind, elapsed, fname in rows:
        date = f"{start:%b} {start.day}, {start:%Y}, {start:%I:%M:%S %p}".replace(" 0", " ")
        w.writerow([aid, date, name, kind, "", str(elapsed), "0", "120", "10", "false", "", "",
                    fname, "70", "", "9999", str(elapsed), "0", "120", "10", "0"])  # fmt: skip
    return buf.getvalue().encode()


def put(
    settings: Settings,
    data: bytes,
    *,
    strava: bool = False,
    file_sha256: dict[str, str] | None = None,
) -> StoredSummaries:
    sf = read_strava_activities_csv(data) if strava else read_garmin_summaries(data)
    with open_store(settings.db_path) as s:
        s.migrate(NOW)
        return store_summary_file(
            s,
            "me",
            sf,
            origin="strava.zip!activities.csv" if strava else GARMIN_ORIGIN,
            origin_sha256=hashlib.sha256(data).hexdigest(),
            file_sha256=file_sha256 or {},
            now=NOW,
        )


def run_refresh(settings: Settings) -> None:
    refresh.refresh_store(settings, now=LATER)


def summary_rows(settings: Settings) -> list[dict[str, Any]]:
    with open_store(settings.db_path, read_only=True) as s:
        return s.frame("SELECT * FROM activity_summaries ORDER BY source, source_id").to_dicts()


def classification(settings: Settings, activity_id: str) -> dict[str, Any]:
    with open_store(settings.db_path, read_only=True) as s:
        return s.frame("SELECT * FROM classifications WHERE activity_id = ?", [activity_id]).row(
            0, named=True
        )


def lift_and_run(sessions: pl.DataFrame) -> tuple[dict[str, Any], dict[str, Any]]:
    lift = sessions.filter(pl.col("sport") == "training").row(0, named=True)
    run = sessions.filter(pl.col("kind") == "run").row(0, named=True)
    return lift, run


@pytest.mark.parametrize("summary_first", [False, True], ids=["fit-first", "summary-first"])
def test_a_leg_day_title_makes_a_definite_leg_session_in_either_order(
    tmp_path: Path, summary_first: bool
) -> None:
    settings = _settings(tmp_path)
    files = [
        strength(tmp_path, T0, sets=UNKNOWN_SETS),
        hard_run(tmp_path, T0 + timedelta(hours=13)),  # 12 h after the session's end
    ]
    summary = garmin_json(garmin_entry(20748058539, T0, "Leg day"))
    if summary_first:
        put(settings, summary)
        ingest(settings.db_path, files)
        run_refresh(settings)
    else:
        ingest(settings.db_path, files)
        run_refresh(settings)
        [before] = _flags(settings)
        assert before["rule"] == "possible_legs"  # the file alone: region unknown
        put(settings, summary)
        run_refresh(settings)
    lift, run = lift_and_run(_sessions(settings))
    assert (lift["kind"], lift["region"], lift["kind_source"]) == ("leg_strength", "lower", "rules")
    assert lift["kind_reason"] == (
        "leg day by export summary: Garmin Connect export summary: "
        "title 'Leg day' names lower body (leg day)"
    )
    assert classification(settings, lift["activity_id"])["evidence"] == "summary"
    [flag] = _flags(settings)
    assert (flag["rule"], flag["severity"]) == ("intense_24h", "alert")
    assert (flag["leg_activity_id"], flag["run_activity_id"]) == (
        lift["activity_id"],
        run["activity_id"],
    )
    assert flag["hours_between"] == pytest.approx(12.0)
    [row] = summary_rows(settings)
    assert (row["activity_id"], row["match_how"], row["delta_s"]) == (
        lift["activity_id"],
        "start_exact",
        0.0,
    )
    assert row["origin"] == GARMIN_ORIGIN and row["matched_utc"] is not None
    assert [e["category"] for e in row["exercises"]] == ["UNKNOWN"]
    with open_store(settings.db_path, read_only=True) as s:
        known = refresh.known_counts(s, settings, "me", T0 + timedelta(days=1))
    assert known.by_verdict == {"legs": 1, "not_legs": 0, "possible": 0}
    assert known.by_evidence["summary"] == 1 and not known.all_from_files


def test_upper_body_exercises_in_the_summary_clear_the_possible_flag(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ingest(
        settings.db_path,
        [strength(tmp_path, T0, sets=UNKNOWN_SETS), hard_run(tmp_path, T0 + timedelta(hours=16))],
    )
    run_refresh(settings)
    assert [f["rule"] for f in _flags(settings)] == ["possible_legs"]
    upper = [("BENCH_PRESS", 4, 32, 80000), ("ROW", 4, 40, 60000), ("UNKNOWN", 1, 10, -1)]
    put(settings, garmin_json(garmin_entry(1, T0 + timedelta(seconds=40), "Gym", exercises=upper)))
    run_refresh(settings)
    lift, _ = lift_and_run(_sessions(settings))
    assert (lift["kind"], lift["region"]) == ("strength", "upper")
    assert "Garmin Connect export summary: exercise summary" in lift["kind_reason"]
    assert classification(settings, lift["activity_id"])["evidence"] == "summary"
    assert _flags(settings) == []
    [row] = summary_rows(settings)
    assert (row["match_how"], row["delta_s"]) == ("start_tolerance_type_duration", 40.0)


def test_the_sets_verdict_stands_over_a_disagreeing_summary(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    put(settings, garmin_json(garmin_entry(1, T0, "Leg day")))
    ingest(
        settings.db_path,
        [strength(tmp_path, T0, sets=BENCH_SETS), hard_run(tmp_path, T0 + timedelta(hours=3))],
    )
    run_refresh(settings)
    lift, _ = lift_and_run(_sessions(settings))
    assert (lift["kind"], lift["region"]) == ("strength", "upper")
    assert lift["kind_reason"].endswith(
        "; the sets decide over the Garmin Connect export summary: "
        "title 'Leg day' names lower body (leg day)"
    )
    assert classification(settings, lift["activity_id"])["evidence"] == "sets"
    assert _flags(settings) == []


def test_strava_weight_training_row_matched_by_file_hash(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    # A training/generic file without sets: the file alone says "other", never a leg session.
    data = Fit(4242).build(T0, 50, sport="training", sub_sport="generic", hr=115)
    fit = tmp_path / "123.fit"
    fit.write_bytes(data)
    ingest(settings.db_path, [fit, hard_run(tmp_path, T0 + timedelta(hours=10))])
    run_refresh(settings)
    lift, _ = lift_and_run(_sessions(settings))
    assert lift["kind"] == "other" and _flags(settings) == []
    # Strava's date 2 h off (a local time): only the file can tie the row to the activity.
    row = ("123", T0 + timedelta(hours=2), "Lower A", "Weight Training", 3000,
           "activities/123.fit.gz")  # fmt: skip
    sha = hashlib.sha256(data).hexdigest()
    put(settings, strava_csv(row), strava=True, file_sha256={"activities/123.fit.gz": sha})
    run_refresh(settings)
    [stored] = summary_rows(settings)
    assert (stored["activity_id"], stored["match_how"]) == (lift["activity_id"], "file")
    assert stored["file_sha256"] == sha and stored["file_name"] == "activities/123.fit.gz"
    lift, _ = lift_and_run(_sessions(settings))
    assert (lift["kind"], lift["region"]) == ("leg_strength", "lower")
    assert classification(settings, lift["activity_id"])["evidence"] == "summary"
    assert (
        "Strava export (activities.csv): title 'Lower A' names lower body (lower)"
        in (lift["kind_reason"])
    )
    [flag] = _flags(settings)
    assert (flag["rule"], flag["leg_activity_id"]) == ("intense_24h", lift["activity_id"])


def test_a_label_carries_over_through_export_titles(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    week = T0 + timedelta(days=7)
    other_sets = [(10, 40.0, UNKNOWN)] * 6  # another set signature: only the title can match
    files = [
        strength(tmp_path, T0, sets=UNKNOWN_SETS),
        strength(tmp_path, week, sets=other_sets),
        strength(tmp_path, week + timedelta(days=2), sets=other_sets[:4]),
        hard_run(tmp_path, week + timedelta(hours=14)),
    ]
    ingest(settings.db_path, files)
    put(
        settings,
        garmin_json(
            garmin_entry(1, T0, "Program A"),
            garmin_entry(2, week, "program  a"),
            garmin_entry(3, week + timedelta(days=2), "Program B"),
        ),
    )
    run_refresh(settings)
    teacher, student, stranger = (
        _sessions(settings).filter(pl.col("sport") == "training").sort("start_utc")["activity_id"]
    )
    assert [f["rule"] for f in _flags(settings)] == ["possible_legs"]  # "Program A" says nothing
    with open_store(settings.db_path) as s:
        _, changes = refresh.preview_label(s, "me", teacher, "leg_strength", now=LATER)
        assert [(c.activity_id, c.name) for c in changes] == [(student, "program  a")]
        refresh.set_label(s, "me", teacher, "leg_strength", None, now=LATER)
        refresh.refresh(s, settings, "me", now=LATER, only=[teacher])
    rows = {r["activity_id"]: r for r in _sessions(settings).to_dicts()}
    assert (rows[student]["kind"], rows[student]["kind_source"]) == ("leg_strength", "learned")
    assert rows[student]["kind_reason"] == (
        f"learned from label on {teacher} (same title): leg_strength"
    )
    assert (rows[stranger]["kind"], rows[stranger]["kind_source"]) == ("strength", "rules")
    [flag] = _flags(settings)
    assert (flag["rule"], flag["leg_activity_id"]) == ("intense_24h", student)
    # The fatigue model sees the same effective kinds: label, learned, rules.
    with open_store(settings.db_path, read_only=True) as s:
        legs = set(fatigue_sql.leg_sessions(s, "me")["activity_id"])
    assert legs == {teacher, student}


def test_storing_the_same_summary_again_replaces_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ingest(settings.db_path, [strength(tmp_path, T0, sets=UNKNOWN_SETS)])
    first = put(settings, garmin_json(garmin_entry(7, T0, "Leg day")))
    assert (first.n_summaries, first.n_new, first.n_replaced) == (1, 1, 0)
    run_refresh(settings)
    [lift] = _sessions(settings)["activity_id"]
    matched = summary_rows(settings)[0]["matched_utc"]
    again = put(settings, garmin_json(garmin_entry(7, T0, "Leg day")))
    assert (again.n_summaries, again.n_new, again.n_replaced, again.n_unchanged) == (1, 0, 1, 1)
    [row] = summary_rows(settings)
    assert row["matched_utc"] == matched and row["activity_id"] == lift  # unchanged: kept
    # Renamed in Connect and exported again: the row is replaced and the session follows it.
    renamed = put(settings, garmin_json(garmin_entry(7, T0, "Upper")))
    assert (renamed.n_new, renamed.n_replaced, renamed.n_unchanged) == (0, 1, 0)
    assert [(r["title"], r["activity_id"]) for r in summary_rows(settings)] == [("Upper", None)]
    run_refresh(settings)
    assert [(r["title"], r["activity_id"]) for r in summary_rows(settings)] == [("Upper", lift)]
    got = classification(settings, lift)
    assert (got["kind"], got["region"], got["evidence"]) == ("strength", "upper", "summary")
    dup = put(settings, garmin_json(garmin_entry(7, T0, "Leg day"), garmin_entry(7, T0, "Legs")))
    assert dup.n_summaries == 1 and any("appears twice" in n for n in dup.notes)
    assert [r["title"] for r in summary_rows(settings)] == ["Legs"]


def test_an_ambiguous_match_is_stored_and_changes_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    files = [
        strength(tmp_path, T0, sets=UNKNOWN_SETS),
        strength(tmp_path, T0 + timedelta(seconds=60), sets=UNKNOWN_SETS),  # watch and phone
        hard_run(tmp_path, T0 + timedelta(hours=14)),
    ]
    ingest(settings.db_path, files)
    run_refresh(settings)
    with open_store(settings.db_path, read_only=True) as s:
        before = s.frame("SELECT activity_id, kind, region, reason FROM classifications")
    flags_before = [(f["rule"], f["leg_activity_id"]) for f in _flags(settings)]
    put(settings, garmin_json(garmin_entry(9, T0 + timedelta(seconds=30), "Leg day")))
    run_refresh(settings)
    [row] = summary_rows(settings)
    lifts = sorted(_sessions(settings).filter(pl.col("sport") == "training")["activity_id"])
    assert (row["match_how"], row["activity_id"]) == ("ambiguous", None)
    assert sorted(row["candidates"]) == lifts
    with open_store(settings.db_path, read_only=True) as s:
        after = s.frame("SELECT activity_id, kind, region, reason FROM classifications")
    assert after.sort("activity_id").equals(before.sort("activity_id"))
    assert [(f["rule"], f["leg_activity_id"]) for f in _flags(settings)] == flags_before
    assert {r for r, _ in flags_before} == {"possible_legs"}


def test_a_refresh_without_news_matches_and_classifies_nothing_again(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ingest(settings.db_path, [strength(tmp_path, T0, sets=UNKNOWN_SETS)])
    put(settings, garmin_json(garmin_entry(1, T0, "Leg day")))
    run_refresh(settings)
    matched = summary_rows(settings)[0]["matched_utc"]
    with open_store(settings.db_path) as s:
        result = refresh.refresh(s, settings, "me", now=LATER + timedelta(days=1))
    assert (result.classified, result.flags) == (0, 0)
    assert summary_rows(settings)[0]["matched_utc"] == matched


# -- the pure parts ------------------------------------------------------------------------------


def _matched(*rows: tuple[str, str, str | None, str, list[tuple[str, int, int, float]]]) -> Any:
    return pl.DataFrame(
        [
            {
                "activity_id": "A",
                "source": source,
                "source_id": sid,
                "title": title,
                "activity_type": kind,
                "exercises": [
                    {"category": c, "sets": n, "reps": r, "max_weight_kg": kg} for c, n, r, kg in ex
                ],
            }
            for source, sid, title, kind, ex in rows
        ]
    )


def test_hints_combine_sources_and_read_region_and_heavy_from_exercises() -> None:
    cfg = ClassificationSettings()
    heavy_squats = [("SQUAT", 5, 25, 120.0)]  # 5 reps a set, loaded: heavy (<= 6 reps)
    [legs] = summary_hints(
        _matched(("garmin_summary", "1", "Morning", "strength_training", heavy_squats)), cfg
    ).to_dicts()
    assert (legs["hint"], legs["region"], legs["heavy"], legs["strength"]) == (
        "legs",
        "lower",
        True,
        True,
    )
    assert legs["reason"].startswith("Garmin Connect export summary: exercise summary: leg_score")
    core = [("PLANK", 4, 4, 0.0), ("CRUNCH", 3, 45, 0.0), ("ROW", 2, 20, 30.0)]
    [abs_] = summary_hints(
        _matched(
            ("strava_csv", "9", "Abs", "Workout", []),
            ("garmin_summary", "1", None, "strength_training", core),
        ),
        cfg,
    ).to_dicts()
    assert (abs_["hint"], abs_["region"], abs_["heavy"]) == ("not_legs", "core", False)
    [split] = summary_hints(
        _matched(
            ("garmin_summary", "1", "Leg day", "strength_training", []),
            ("strava_csv", "9", "Upper", "Weight Training", []),
        ),
        cfg,
    ).to_dicts()
    assert split["hint"] == "unknown" and split["reason"].startswith(
        "export summaries disagree: Garmin Connect export summary: title 'Leg day'"
    )
    assert "Strava export (activities.csv): title 'Upper'" in split["reason"]
    assert [
        says_strength(t)
        for t in ("strength_training", "Weight Training", "hiit", "Run", "Workout", None)
    ] == [True, True, False, False, False, False]


def test_match_changes_names_the_activities_a_summary_left_and_joined() -> None:
    acts = pl.DataFrame(
        {
            "activity_id": ["A", "B"],
            "start_utc": [T0, T0 + timedelta(days=1)],
            "sport": ["training", "training"],
            "sub_sport": ["strength_training", "strength_training"],
            "elapsed_s": [3600.0, 3600.0],
            "timer_s": [3600.0, 3600.0],
            "file_sha256": ["a" * 64, "b" * 64],
        }
    )
    stored = pl.DataFrame(
        [
            {
                "source": "garmin_summary",
                "source_id": "1",
                "title": "x",
                "activity_type": "strength_training",
                "start_utc": T0 + timedelta(days=1),
                "duration_s": 3600.0,
                "file_name": None,
                "file_sha256": None,
                "activity_id": "A",
                "match_how": "start_exact",
                "delta_s": 0.0,
                "candidates": [],
                "match_note": None,
                "matched_utc": NOW,
            },
            {
                "source": "garmin_summary",
                "source_id": "2",
                "title": "y",
                "activity_type": "strength_training",
                "start_utc": T0 + timedelta(days=5),
                "duration_s": 3600.0,
                "file_name": None,
                "file_sha256": None,
                "activity_id": None,
                "match_how": "none",
                "delta_s": None,
                "candidates": [],
                "match_note": "no activity starts within 120 s",
                "matched_utc": NOW,
            },
        ]
    )
    changes, moved = match_changes(stored, acts)
    # Summary 1 now starts at B (a re-export moved it): A and B are classified again; summary 2
    # is unchanged and is not written.
    assert moved == {"A", "B"}
    assert changes.select("source_id", "activity_id", "match_how").rows() == [
        ("1", "B", "start_exact")
    ]
    again, none_moved = match_changes(
        stored.with_columns(
            pl.when(pl.col("source_id") == "1")
            .then(pl.lit("B"))
            .otherwise(None)
            .alias("activity_id")
        ),
        acts,
    )
    assert again.height == 0 and none_moved == set()
