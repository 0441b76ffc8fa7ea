"""Issue 12: strength sessions whose region is unknown are possible leg sessions, never a silent
all-clear; a person's label carries over to sessions like it; how much is known is counted.

FIT files are written here with the garmin-fit-sdk Encoder (as sample_data/generate.py does),
stored through ingest and refresh in a real DuckDB under tmp_path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from garmin_fit_sdk import Encoder, Profile

from pipeline.config import AthleteSettings, RecoverySettings, Settings
from pipeline.derive import refresh
from pipeline.derive.known import count_known, known_since
from pipeline.derive.learned import FEATURES_SCHEMA, learn
from pipeline.derive.likeness import set_signature, title_key
from pipeline.derive.possible_legs import POSSIBLY_RECOVERING, sessions_to_settle
from pipeline.derive.recovery import legs_state, recovery_flags
from pipeline.store.db import open_store
from pipeline.store.evidence_counts_sql import strength_sessions
from tests.helpers import ingest

MESG = {m["name"]: num for num, m in Profile["messages"].items()}
FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
UNKNOWN = 65534
BENCH = 0  # exercise_category bench_press
T0 = datetime(2026, 10, 19, 16, 0, tzinfo=UTC)  # Monday 18:00 in Berlin


def _ts(dt: datetime) -> int:
    return int((dt - FIT_EPOCH).total_seconds())


class Fit:
    """A small activity file: records at 10 s, optional sets, a sport name, a workout."""

    def __init__(self, serial: int) -> None:
        self.enc = Encoder()
        self.serial = serial

    def w(self, mesg: str, **fields: Any) -> None:
        self.enc.write_mesg({"mesg_num": MESG[mesg], **fields})

    def build(
        self,
        start: datetime,
        minutes: int,
        *,
        sport: str,
        sub_sport: str,
        hr: int,
        name: str | None = None,
        workout: str | None = None,
        sets: list[tuple[int, float, int]] | None = None,  # (reps, kg, category code)
    ) -> bytes:
        t0, end = _ts(start), _ts(start) + minutes * 60
        self.w("file_id", type="activity", manufacturer="garmin", product=4315,
               serial_number=self.serial, time_created=t0)  # fmt: skip
        if name is not None:
            self.w("sport", sport=sport, sub_sport=sub_sport, name=name)
        if workout is not None:
            self.w("workout", wkt_name=workout, sport=sport, sub_sport=sub_sport)
        for i in range(0, minutes * 60, 10):
            self.w("record", timestamp=t0 + i, heart_rate=hr)
        for i, (reps, kg, cat) in enumerate(sets or []):
            at = t0 + 60 + i * 90
            self.w("set", timestamp=at + 40, start_time=at, duration=40.0, message_index=i,
                   set_type="active", repetitions=reps, weight=kg, category=[cat],
                   category_subtype=[UNKNOWN if cat == UNKNOWN else 0])  # fmt: skip
        common = {"timestamp": end, "start_time": t0, "total_elapsed_time": minutes * 60.0,
                  "total_timer_time": minutes * 60.0}  # fmt: skip
        self.w("lap", **common)
        self.w("session", **common, sport=sport, sub_sport=sub_sport, avg_heart_rate=hr,
               max_heart_rate=hr + 5, first_lap_index=0, num_laps=1)  # fmt: skip
        self.w("activity", timestamp=end, total_timer_time=minutes * 60.0, num_sessions=1,
               type="manual", event="activity", event_type="stop",
               local_timestamp=end + 7200)  # fmt: skip
        return bytes(self.enc.close())


_serial = iter(range(1000, 2000))


def strength(
    folder: Path,
    start: datetime,
    *,
    sets: list[tuple[int, float, int]] | None = None,
    name: str | None = None,
) -> Path:
    path = folder / f"strength-{start:%m%d%H%M}.fit"
    data = Fit(next(_serial)).build(
        start, 60, sport="training", sub_sport="strength_training", hr=110, name=name, sets=sets
    )
    path.write_bytes(data)
    return path


def hard_run(folder: Path, start: datetime) -> Path:
    path = folder / f"run-{start:%m%d%H%M}.fit"
    # 180 bpm throughout with max HR 190: 95 % HRmax on average, hard by any measure.
    path.write_bytes(
        Fit(next(_serial)).build(start, 40, sport="running", sub_sport="generic", hr=180)
    )
    return path


UNKNOWN_SETS = [(5, 100.0, UNKNOWN)] * 3 + [(8, 60.0, UNKNOWN)] * 3 + [(12, 20.0, UNKNOWN)] * 3
BENCH_SETS = [(5, 80.0, BENCH)] * 8


def _settings(tmp_path: Path, mode: str = "possible", **recovery: Any) -> Settings:
    return Settings(
        db_path=tmp_path / "s.duckdb",
        data_dir=tmp_path,
        default_athlete="me",
        athletes={
            "me": AthleteSettings(
                timezone="Europe/Berlin",
                max_hr=190,
                resting_hr=50,
                recovery=RecoverySettings(unknown_strength=mode, **recovery),  # type: ignore[arg-type]
            )
        },
    )


def _store(tmp_path: Path, settings: Settings, paths: list[Path]) -> None:
    summary = ingest(settings.db_path, paths)
    assert summary is not None
    refresh.refresh_store(settings, now=T0 + timedelta(days=30))


def _flags(settings: Settings) -> list[dict[str, Any]]:
    with open_store(settings.db_path, read_only=True) as s:
        return s.frame("SELECT * FROM recovery_flags ORDER BY run_start_utc").to_dicts()


def _sessions(settings: Settings) -> pl.DataFrame:
    with open_store(settings.db_path, read_only=True) as s:
        return refresh.session_frame(s, "me", since=None)


@pytest.mark.parametrize("sets", [UNKNOWN_SETS, None], ids=["sets-all-unknown", "no-sets"])
def test_a_hard_run_after_an_unknown_strength_session_is_flagged_possible(
    tmp_path: Path, sets: list[tuple[int, float, int]] | None
) -> None:
    settings = _settings(tmp_path)
    _store(
        tmp_path,
        settings,
        [strength(tmp_path, T0, sets=sets), hard_run(tmp_path, T0 + timedelta(hours=14))],
    )
    sessions = _sessions(settings)
    lift = sessions.filter(pl.col("kind") == "strength").row(0, named=True)
    assert lift["region"] == "unknown" and lift["kind_source"] == "rules"
    run = sessions.filter(pl.col("kind") == "run").row(0, named=True)
    assert run["intensity"] == "hard"
    [flag] = _flags(settings)
    assert (flag["rule"], flag["severity"]) == ("possible_legs", "warning")
    assert flag["leg_activity_id"] == lift["activity_id"]
    assert flag["hours_between"] == pytest.approx(13.0)
    msg = flag["message"]
    assert "region is unknown" in msg
    assert f"legday label {lift['activity_id']} leg_strength" in msg
    assert f"legday label {lift['activity_id']} strength" in msg
    # The legs are not "ready" while the possible leg session is inside its 48 h window.
    end = lift["end_utc"]
    state = legs_state(sessions, end + timedelta(hours=20), settings.athlete("me").recovery, 14)
    assert state["status"] == POSSIBLY_RECOVERING
    assert state["possible_leg_activity_ids"] == (lift["activity_id"],)
    later = legs_state(sessions, end + timedelta(hours=48), settings.athlete("me").recovery, 14)
    assert later["status"] == "ready"
    # The report's data: the session to settle, why, and the two commands.
    [ask] = sessions_to_settle(sessions, pl.DataFrame(_flags(settings)), state)
    assert ask.activity_id == lift["activity_id"] and ask.flagged_runs == (run["activity_id"],)
    assert [c.command for c in ask.commands] == [
        f"legday label {lift['activity_id']} leg_strength",
        f"legday label {lift['activity_id']} strength",
    ]
    assert (
        ("without set messages" in ask.why_unknown)
        if sets is None
        else ("active sets" in ask.why_unknown)
    )


def test_settling_by_label_turns_the_possible_flag_definite_or_clears_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path, possible_legs_severity="info")
    _store(
        tmp_path, settings, [strength(tmp_path, T0), hard_run(tmp_path, T0 + timedelta(hours=14))]
    )
    [flag] = _flags(settings)
    assert (flag["rule"], flag["severity"]) == ("possible_legs", "info")  # the setting
    now = T0 + timedelta(days=30)
    for kind, expected in (("leg_strength", ["intense_24h"]), ("strength", [])):
        with open_store(settings.db_path) as s:
            full = refresh.set_label(s, "me", flag["leg_activity_id"][:10], kind, None, now=now)
            refresh.refresh(s, settings, "me", now=now, only=[full])
        assert [f["rule"] for f in _flags(settings)] == expected, kind


def test_not_legs_ignores_and_legs_applies_the_normal_rules(tmp_path: Path) -> None:
    for mode, expected in (("not_legs", []), ("legs", [("intense_24h", "alert")])):
        folder = tmp_path / mode
        folder.mkdir()
        settings = _settings(folder, mode)
        _store(folder, settings, [strength(folder, T0), hard_run(folder, T0 + timedelta(hours=14))])
        assert [(f["rule"], f["severity"]) for f in _flags(settings)] == expected, mode
        with open_store(settings.db_path, read_only=True) as s:
            counted = refresh.known_counts(s, settings, "me", T0 + timedelta(days=1))
        assert counted.unknown_region == 1 and counted.by_evidence["none"] == 1
        assert counted.by_verdict["possible"] == 0
        said = "not legs" if mode == "not_legs" else "leg sessions"
        assert counted.mode_sentence() == (
            f"1 strength session(s) of unknown region counted as {said} (unknown_strength = {mode})"
        )
        sessions = _sessions(settings)
        state = legs_state(sessions, T0 + timedelta(hours=20), settings.athlete("me").recovery, 14)
        assert state["status"] == ("ready" if mode == "not_legs" else "recovering")


def test_an_upper_body_session_identified_by_its_sets_is_never_flagged(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _store(
        tmp_path,
        settings,
        [strength(tmp_path, T0, sets=BENCH_SETS), hard_run(tmp_path, T0 + timedelta(hours=3))],
    )
    sessions = _sessions(settings)
    lift = sessions.filter(pl.col("kind") == "strength").row(0, named=True)
    assert lift["region"] == "upper"
    assert _flags(settings) == []
    state = legs_state(sessions, T0 + timedelta(hours=5), settings.athlete("me").recovery, 14)
    assert state["status"] == "ready"


def test_a_label_carries_over_to_a_later_session_of_the_same_program(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    week = T0 + timedelta(days=7)
    # Same program both weeks; a different program the week after must not learn.
    other = [(10, 40.0, UNKNOWN)] * 6
    files = [
        strength(tmp_path, T0, sets=UNKNOWN_SETS, name="Strength"),
        strength(tmp_path, week, sets=UNKNOWN_SETS, name="Strength"),
        strength(tmp_path, week + timedelta(days=3), sets=other, name="Strength"),
        hard_run(tmp_path, week + timedelta(hours=14)),
    ]
    _store(tmp_path, settings, files)
    before = _sessions(settings).filter(pl.col("sport") == "training").sort("start_utc")
    teacher, student, stranger = before["activity_id"].to_list()
    assert [f["rule"] for f in _flags(settings)] == ["possible_legs"]
    now = T0 + timedelta(days=30)
    with open_store(settings.db_path) as s:
        full, changes = refresh.preview_label(s, "me", teacher[:10], "leg_strength", now=now)
        assert full == teacher
        assert [(c.activity_id, c.kind_before, c.kind_after) for c in changes] == [
            (student, "strength", "leg_strength")
        ]
        assert s.rows("SELECT count(*) FROM labels")[0][0] == 0  # a dry run writes nothing
        refresh.set_label(s, "me", teacher, "leg_strength", None, now=now)
        refresh.refresh(s, settings, "me", now=now, only=[teacher])
    after = _sessions(settings).filter(pl.col("sport") == "training").sort("start_utc")
    rows = {r["activity_id"]: r for r in after.to_dicts()}
    assert (rows[student]["kind"], rows[student]["kind_source"]) == ("leg_strength", "learned")
    assert rows[student]["kind_reason"] == (
        f"learned from label on {teacher} (same set signature): leg_strength"
    )
    assert (rows[stranger]["kind"], rows[stranger]["kind_source"]) == ("strength", "rules")
    [flag] = _flags(settings)
    assert (flag["rule"], flag["leg_activity_id"]) == ("intense_24h", student)
    with open_store(settings.db_path, read_only=True) as s:
        view = s.frame(
            "SELECT activity_id, kind, kind_source, kind_reason FROM activity_overview "
            "WHERE sport = 'training' ORDER BY start_utc"
        )
        until = T0 + timedelta(days=20)  # the 28 days before hold all three sessions
        counted = count_known(
            "me",
            strength_sessions(s, "me", known_since(until), until),
            settings.athlete("me").recovery,
            until,
        )
    assert view.equals(after.select(view.columns))
    assert counted.by_verdict == {"legs": 2, "not_legs": 0, "possible": 1}
    assert (counted.by_evidence["label"], counted.by_evidence["learned"]) == (1, 1)
    assert counted.by_evidence["none"] == 1
    # An explicit label on the student wins over what it learned.
    with open_store(settings.db_path) as s:
        refresh.set_label(s, "me", student, "strength", "bench day", now=now)
        refresh.refresh(s, settings, "me", now=now, only=[student])
    assert _flags(settings) == []


def _features(*rows: tuple[str, int, str | None, str | None, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "activity_id": aid,
                "start_utc": T0 + timedelta(days=day),
                "name": name,
                "workout_name": None,
                "set_signature": sig,
                "kind": "strength",
                "region": region,
            }
            for aid, day, name, sig, region in rows
        ],
        schema=FEATURES_SCHEMA,
    )


def _labels(*rows: tuple[str, str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"activity_id": a, "kind": k, "note": None, "labelled_utc": T0 + timedelta(hours=h)}
            for a, k, h in rows
        ],
        schema={
            "activity_id": pl.String(),
            "kind": pl.String(),
            "note": pl.String(),
            "labelled_utc": pl.Datetime("us", "UTC"),
        },
    )


def test_learning_rules_titles_recency_and_what_never_learns() -> None:
    features = _features(
        ("A", 0, "Lower A", "3x5@100", "unknown"),
        ("B", 1, "Lower A", None, "unknown"),  # same title
        ("C", 2, "Upper", "3x5@100", "unknown"),  # same signature as A and D
        ("D", 3, "Morning", "3x5@100", "unknown"),
        ("E", 4, "Lower A", None, "upper"),  # its sets said upper: never learns
        ("F", 5, "Munich Strength", None, "unknown"),  # device title: no key
        ("G", 6, "Munich Strength", None, "unknown"),
    )
    labels = _labels(("A", "leg_strength", 1), ("D", "strength", 2), ("F", "leg_strength", 3))
    got = {r["activity_id"]: r for r in learn(features, labels).to_dicts()}
    assert set(got) == {"B", "C"}
    assert (got["B"]["kind"], got["B"]["matched_by"]) == ("leg_strength", "title")
    # C shares A's and D's signature: D was labelled last and wins.
    assert (got["C"]["kind"], got["C"]["teacher_activity_id"]) == ("strength", "D")
    assert got["C"]["reason"] == "learned from label on D (same set signature): strength"


def test_set_signature_and_titles() -> None:
    def sets(*specs: tuple[int | None, float | None]) -> list[dict[str, Any]]:
        return [{"repetitions": r, "weight_kg": w} for r, w in specs]

    assert set_signature(sets((5, 100.0), (5, 100.4), (5, 99.0), (8, 0.0))) == "3x5@100|1x8@bw"
    assert set_signature(sets((12, 0.5), (12, 1.0), (12, None))) == "2x12@2.5|1x12@bw"
    # 45 lb (20.41 kg) rounds like 20 kg: a program logged in pounds stays stable.
    assert set_signature(sets((10, 20.41), (10, 20.0), (10, 20.2))) == "3x10@20"
    assert set_signature(sets((5, 100.0), (5, 100.0))) is None  # too few sets
    assert set_signature(sets((None, None), (None, None), (None, None))) is None
    assert title_key("  Lower   A ") == "lower a"
    assert [title_key(t) for t in ("Strength", "Munich Strength", "Workout", "", None)] == [
        None
    ] * 5


def test_flags_without_region_columns_are_unchanged() -> None:
    """Frames without region (plans, older callers) see no possible leg session at all."""
    rows = [
        {"activity_id": "S", "kind": "strength", "start_utc": T0, "end_utc": T0,
         "intensity": None, "heavy": False},
        {"activity_id": "R", "kind": "run", "start_utc": T0 + timedelta(hours=5),
         "end_utc": T0 + timedelta(hours=6), "intensity": "hard", "heavy": None},
    ]  # fmt: skip
    frame = pl.DataFrame(rows).with_columns(
        pl.col("start_utc", "end_utc").cast(pl.Datetime("us", "UTC"))
    )
    assert recovery_flags(frame, RecoverySettings(), 14).height == 0


def test_label_dry_run_on_the_command_line_lists_the_sessions_and_writes_nothing(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    settings = _settings(tmp_path)
    week = T0 + timedelta(days=7)
    files = [strength(tmp_path, T0, sets=UNKNOWN_SETS), strength(tmp_path, week, sets=UNKNOWN_SETS)]
    _store(tmp_path, settings, files)
    teacher, student = _sessions(settings).sort("start_utc")["activity_id"].to_list()
    config = tmp_path / "legday.toml"
    config.write_text('default_athlete = "me"\n[athletes.me]\ntimezone = "Europe/Berlin"\n')
    args = ["--config", str(config), "--db", str(settings.db_path), "label", teacher[:12]]
    done = CliRunner().invoke(app, [*args, "leg_strength", "--dry-run"])
    assert done.exit_code == 0, done.output
    assert f"labelling {teacher} as leg_strength would change 1 other session(s)" in " ".join(
        done.output.split()
    )
    assert student in done.output and "strength (rules) -> leg_strength" in done.output
    assert "nothing written" in done.output
    with open_store(settings.db_path, read_only=True) as s:
        assert s.rows("SELECT count(*) FROM labels")[0][0] == 0


def _report(settings: Settings, day: str) -> dict[str, str]:
    from datetime import date

    from pipeline.report.produce import daily_report

    with open_store(settings.db_path, read_only=True) as s:
        built = daily_report(
            s, settings, "me", date.fromisoformat(day), generated_at=T0 + timedelta(days=3)
        )
    return built.render()


def _valid(text: str) -> dict[str, Any]:
    import json

    import jsonschema

    from pipeline.report.model import REPORT_SCHEMA_PATH

    schema = json.loads(REPORT_SCHEMA_PATH.read_text(encoding="utf-8"))
    doc: dict[str, Any] = json.loads(text)
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    return doc


def test_the_report_asks_to_settle_the_possible_leg_session_in_every_format(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    _store(
        tmp_path, settings, [strength(tmp_path, T0), hard_run(tmp_path, T0 + timedelta(hours=14))]
    )
    lift = _sessions(settings).filter(pl.col("kind") == "strength")["activity_id"][0]
    out = _report(settings, "2026-10-20")
    doc = _valid(out["json"])
    assert doc["legs"]["status"] == "possibly recovering"
    assert doc["legs"]["possible_leg_activity_ids"] == [lift]
    [flag] = doc["flags"]
    assert (flag["rule"], flag["severity"]) == ("possible_legs", "warning")
    [ask] = doc["sessions_to_settle"]
    assert ask["activity_id"] == lift and ask["inside_window"] is True
    assert [c["command"] for c in ask["commands"]] == [
        f"legday label {lift} leg_strength",
        f"legday label {lift} strength",
    ]
    assert doc["known"]["by_verdict"]["possible"] == 1
    md = " ".join(out["md"].split())
    assert "Status: POSSIBLY RECOVERING" in md and "## Sessions to settle (1)" in md
    assert f"`legday label {lift} leg_strength` if it trained legs" in md
    assert "1 strength session(s) in 28 days: 0 legs, 0 not legs, 1 possible" in md
    assert "Sessions to settle (1)</h2>" in out["html"]
    assert f"<code>legday label {lift} strength</code>" in out["html"]
    assert "POSSIBLY RECOVERING" in out["html"]


def test_with_not_legs_the_report_has_no_flag_and_says_so_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "not_legs")
    _store(
        tmp_path, settings, [strength(tmp_path, T0), hard_run(tmp_path, T0 + timedelta(hours=14))]
    )
    out = _report(settings, "2026-10-20")
    doc = _valid(out["json"])
    assert doc["flags"] == [] and "sessions_to_settle" not in doc
    assert doc["legs"]["status"] == "ready"
    note = (
        "1 strength session(s) of unknown region counted as not legs (unknown_strength = not_legs)"
    )
    assert doc["known"]["setting_note"] == note
    assert " ".join(out["md"].split()).count(note) == 1
    assert out["html"].count(note) == 1


def test_status_shows_how_much_is_known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import pipeline.cli.query_cmd as query_cmd
    from pipeline.cli.main import app

    settings = _settings(tmp_path)
    _store(
        tmp_path,
        settings,
        [strength(tmp_path, T0), strength(tmp_path, T0 + timedelta(days=2), sets=BENCH_SETS)],
    )
    config = tmp_path / "legday.toml"
    config.write_text('default_athlete = "me"\n[athletes.me]\ntimezone = "Europe/Berlin"\n')
    monkeypatch.setattr(query_cmd, "now_utc", lambda: T0 + timedelta(days=5))
    done = CliRunner().invoke(
        app, ["--config", str(config), "--db", str(settings.db_path), "status"]
    )
    assert done.exit_code == 0, done.output
    assert (
        "athlete me: 2 strength session(s) in 28 days: 0 legs, 1 not legs, 1 possible; "
        "by evidence: sets 1, none 1"
    ) in " ".join(done.output.split())


def test_the_possible_window_counts_real_hours_across_the_dst_change() -> None:
    """Berlin leaves summer time on Sun 25 Oct 2026: 47.5 real hours after a session that ended
    Sat 19:00 CEST is Mon 17:30 CET, 48.5 h by the wall clock — still inside the 48 h window."""
    end = datetime(2026, 10, 24, 17, 0, tzinfo=UTC)
    rows = [
        {"activity_id": "S", "kind": "strength", "region": "unknown", "start_utc": end - timedelta(hours=1),
         "end_utc": end, "intensity": None, "heavy": False, "name": "Gym"},
        {"activity_id": "R", "kind": "run", "region": None, "start_utc": end + timedelta(hours=47.5),
         "end_utc": end + timedelta(hours=48), "intensity": "hard", "heavy": None, "name": "Tempo"},
        {"activity_id": "R2", "kind": "run", "region": None, "start_utc": end + timedelta(hours=48),
         "end_utc": end + timedelta(hours=49), "intensity": "hard", "heavy": None, "name": "Tempo"},
    ]  # fmt: skip
    frame = pl.DataFrame(rows).with_columns(
        pl.col("start_utc", "end_utc").cast(pl.Datetime("us", "UTC"))
    )
    flags = recovery_flags(frame, RecoverySettings(), 14, tz=ZoneInfo("Europe/Berlin"))
    [flag] = flags.to_dicts()
    assert (flag["run_activity_id"], flag["rule"]) == ("R", "possible_legs")
    assert flag["hours_between"] == pytest.approx(47.5)
    assert "Mon 26 Oct 18:00 CET (48 h)" in flag["message"]


def test_unaccustomed_does_not_depend_on_how_far_back_the_frame_was_read(tmp_path: Path) -> None:
    """Found in the field test: a leg day after a 14-day gap, with history from a year before,
    was unaccustomed in the flag (72 h, refresh read from the year before) but accustomed in the
    report's legs state (48 h, read from 252 days before). Both now see where history begins."""
    settings = _settings(tmp_path)
    legs = [(5, 100.0, 28)] * 6  # squat sets: a leg session by its sets
    _store(
        tmp_path,
        settings,
        [
            hard_run(tmp_path, T0 - timedelta(days=400)),
            strength(tmp_path, T0, sets=legs),
            hard_run(tmp_path, T0 + timedelta(hours=14)),
        ],
    )
    [flag] = _flags(settings)
    assert "unaccustomed" in flag["message"] and "(72 h)" in flag["message"]
    with open_store(settings.db_path, read_only=True) as s:
        recent = refresh.session_frame(s, "me", since=T0 - timedelta(days=252))
    assert recent["start_utc"].min() >= T0 - timedelta(days=1)  # the old run is not in it
    state = legs_state(recent, T0 + timedelta(hours=20), settings.athlete("me").recovery, 14)
    assert state["unaccustomed"] is True and state["window_hours"] == 72
