"""Classification rule table, keyword matching, labels, and the real Garmin strength files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipeline.config import AthleteSettings, ClassificationSettings, Settings
from pipeline.derive import refresh
from pipeline.derive.classify import CLASSIFIED_SCHEMA, KINDS, classify
from pipeline.derive.keywords import match_text
from pipeline.derive.labels import LABELS_SCHEMA, apply_labels, check_kind
from pipeline.derive.summary_hints import HINTS_SCHEMA
from pipeline.errors import ReportError
from pipeline.fit import parse_fit
from pipeline.store.db import open_store
from tests.helpers import ingest

CFG = ClassificationSettings()
T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)

SET_COLS: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "set_index": pl.Int32(),
    "set_type": pl.String(),
    "repetitions": pl.Int32(),
    "weight_kg": pl.Float64(),
    "category": pl.String(),
    "categories": pl.List(pl.String()),
    "exercise_name": pl.String(),
    "wkt_step_index": pl.Int32(),
}
STEP_COLS: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "step_index": pl.Int32(),
    "source": pl.String(),
    "name": pl.String(),
    "category": pl.String(),
    "exercise_name": pl.String(),
}


def acts(*rows: dict[str, Any]) -> pl.DataFrame:
    base = {"sport": None, "sub_sport": None, "sport_code": None, "sub_sport_code": None}
    full = [{"activity_id": f"a{i}", **base, "name": None, **r} for i, r in enumerate(rows)]
    schema = {
        "activity_id": pl.String(),
        "sport": pl.String(),
        "sub_sport": pl.String(),
        "sport_code": pl.Int32(),
        "sub_sport_code": pl.Int32(),
        "name": pl.String(),
    }
    return pl.DataFrame(full, schema=schema)


def sets_of(
    specs: list[
        tuple[list[str], int, float] | tuple[list[str], int, float, str | None, int | None]
    ],
    activity_id: str = "a0",
) -> pl.DataFrame:
    """Active sets (each followed by a rest set) from (categories, reps, kg[, exercise, step])."""
    rows = []
    for i, spec in enumerate(specs):
        cats, reps, kg = spec[0], spec[1], spec[2]
        exercise = spec[3] if len(spec) > 3 else None
        step = spec[4] if len(spec) > 4 else None
        known = [c for c in cats if c != "unknown"]
        rows.append(
            {
                "activity_id": activity_id,
                "set_index": 2 * i,
                "set_type": "active",
                "repetitions": reps,
                "weight_kg": kg,
                "category": known[0] if known else "unknown",
                "categories": cats,
                "exercise_name": exercise,
                "wkt_step_index": step,
            }
        )
        rows.append(
            {
                "activity_id": activity_id,
                "set_index": 2 * i + 1,
                "set_type": "rest",
                "repetitions": None,
                "weight_kg": None,
                "category": "unknown",
                "categories": [],
                "exercise_name": None,
                "wkt_step_index": None,
            }
        )
    return pl.DataFrame(rows, schema=SET_COLS)


def steps_of(names: list[tuple[int, str]], activity_id: str = "a0") -> pl.DataFrame:
    rows = [
        {
            "activity_id": activity_id,
            "step_index": i,
            "source": "workout_step",
            "name": n,
            "category": None,
            "exercise_name": None,
        }
        for i, n in names
    ]
    return pl.DataFrame(rows, schema=STEP_COLS)


NO_SETS = pl.DataFrame(schema=SET_COLS)
NO_STEPS = pl.DataFrame(schema=STEP_COLS)
STRENGTH = {"sport": "training", "sub_sport": "strength_training"}
U = ["unknown", "unknown", "unknown"]


def one(activity: dict[str, Any], sets: pl.DataFrame = NO_SETS, steps: pl.DataFrame = NO_STEPS,
        cfg: ClassificationSettings = CFG) -> dict[str, Any]:  # fmt: skip
    out = classify(acts(activity), sets, steps, cfg)
    assert out.height == 1
    return out.row(0, named=True)


# --- sport table --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sport", "sub_sport", "kind"),
    [
        ("running", "street", "run"),
        ("running", "trail", "run"),
        ("running", "treadmill", "run"),
        ("running", "track", "run"),
        ("running", "generic", "run"),
        ("running", "virtual_activity", "run"),
        ("running", None, "run"),
        ("cycling", "road", "ride"),
        ("cycling", "indoor_cycling", "ride"),
        ("cycling", "virtual_activity", "ride"),
        ("cycling", None, "ride"),
        ("e_biking", "e_bike_mountain", "ride"),
        ("swimming", "lap_swimming", "swim"),
        ("swimming", "open_water", "swim"),
        ("training", "yoga", "other"),
        ("training", "pilates", "other"),
        ("walking", "generic", "other"),
        ("hiking", None, "other"),
        ("cross_country_skiing", "generic", "other"),
        ("training", "cardio_training", "other"),
        ("generic", None, "other"),
        (None, None, "other"),
        ("training", "strength_training", "strength"),
    ],
)
def test_sport_table(sport: str | None, sub_sport: str | None, kind: str) -> None:
    row = one({"sport": sport, "sub_sport": sub_sport})
    assert row["kind"] == kind
    assert row["reason"]
    assert (row["region"] is None) == (kind not in ("strength", "leg_strength"))


def test_sport_codes_are_a_fallback_for_missing_names() -> None:
    assert one({"sport_code": 1})["kind"] == "run"
    assert one({"sport_code": 2})["kind"] == "ride"
    assert one({"sport_code": 21})["kind"] == "ride"
    assert one({"sport_code": 10, "sub_sport_code": 20})["kind"] == "strength"


# --- leg-day rule table -------------------------------------------------------------------------

SQ = ["squat", "unknown", "unknown"]
BENCH = ["bench_press", "unknown", "unknown"]
CURL_LEG = ["leg_curl", "unknown", "unknown"]
PLANK = ["plank", "unknown", "unknown"]


@pytest.mark.parametrize(
    ("specs", "kind", "region", "leg_score"),
    [
        pytest.param([(SQ, 8, 60.0)] * 4, "leg_strength", "lower", 4.0, id="4 squat sets = score"),
        pytest.param([(SQ, 8, 60.0)] * 3, "strength", "lower", 3.0, id="3 squat sets only"),
        pytest.param(
            [(SQ, 8, 60.0)] * 3 + [(BENCH, 8, 40.0)] * 3,
            "leg_strength",
            "lower",
            3.0,
            id="share 50% of 6 sets",
        ),
        pytest.param(
            [(SQ, 8, 60.0)] * 3 + [(BENCH, 8, 40.0)] * 6,
            "strength",
            "full",
            3.0,
            id="share 33% too low",
        ),
        pytest.param(
            [(SQ, 8, 60.0)] * 2 + [(BENCH, 8, 40.0)] * 2,
            "strength",
            "full",
            2.0,
            id="share 50% but only 4 sets",
        ),
        pytest.param([(CURL_LEG, 12, 30.0)] * 5, "leg_strength", "lower", 4.0, id="accessory 0.8"),
        pytest.param(
            [(CURL_LEG, 12, 30.0)] * 4, "strength", "lower", 3.2, id="0.8x4, too few for share"
        ),
        pytest.param(
            [(CURL_LEG, 12, 30.0)] * 4 + [(BENCH, 8, 40.0)] * 2,
            "leg_strength",
            "lower",
            3.2,
            id="0.8x4 = 53% of 6 by share",
        ),
        pytest.param([(BENCH, 8, 40.0)] * 12, "strength", "upper", 0.0, id="upper only"),
        pytest.param([(PLANK, 1, 0.0)] * 5, "strength", "core", 0.0, id="core only"),
        pytest.param(
            [(BENCH, 8, 40.0)] * 2 + [(PLANK, 1, 0.0)] * 3, "strength", "core", 0.0, id="core>upper"
        ),
        pytest.param([(U, 10, 0.0)] * 12, "strength", "unknown", 0.0, id="all unknown"),
        pytest.param(
            [(["bench_press", "lunge", "squat"], 6, 14.0)] * 4,
            "leg_strength",
            "lower",
            4.0,
            id="candidate majority beats first",
        ),
        pytest.param(
            [(["sit_up", "squat", "triceps_extension"], 10, 0.0)] * 6,
            "strength",
            "core",
            0.0,
            id="no majority: first candidate",
        ),
        pytest.param(
            [(["total_body", "plyo", "lunge"], 5, 0.0, "burpee", None)] * 6,
            "strength",
            "full",
            0.0,
            id="named first exercise beats majority",
        ),
        pytest.param(
            [(U, 10, 80.0, "leg_press", None)] * 4,
            "leg_strength",
            "lower",
            4.0,
            id="exercise name without category",
        ),
    ],
)
def test_leg_rules(specs: list[Any], kind: str, region: str, leg_score: float) -> None:
    row = one(STRENGTH, sets_of(specs))
    assert (row["kind"], row["region"]) == (kind, region), row["reason"]
    assert row["leg_score"] == pytest.approx(leg_score)
    assert row["active_sets"] == len(specs)


def test_thresholds_come_from_settings() -> None:
    specs = [(SQ, 8, 60.0)] * 3 + [(BENCH, 8, 40.0)] * 9
    assert one(STRENGTH, sets_of(specs))["kind"] == "strength"
    lenient = ClassificationSettings(leg_score_threshold=3.0)
    row = one(STRENGTH, sets_of(specs), cfg=lenient)
    assert row["kind"] == "leg_strength"
    assert "leg_score 3.0 >= 3.0" in row["reason"]


def test_reason_has_the_numbers() -> None:
    row = one(STRENGTH, sets_of([(SQ, 5, 100.0)] * 4 + [(BENCH, 8, 40.0)] * 2))
    assert row["reason"].startswith("leg day: leg_score 4.0 >= 4.0")
    assert "4 lower-body of 6 active sets (squat x4)" in row["reason"]
    assert "heavy: 100 kg x 5 reps <= 6" in row["reason"]


@pytest.mark.parametrize(
    ("specs", "heavy"),
    [
        ([(SQ, 5, 100.0)] + [(BENCH, 8, 40.0)] * 5, True),  # one loaded set of <= 6 reps
        ([(SQ, 5, 0.0)] * 4, False),  # bodyweight: not loaded
        ([(SQ, 12, 40.0)] * 9, False),
        ([(SQ, 12, 40.0)] * 10, True),  # >= heavy_min_lower_sets
        ([(BENCH, 3, 100.0)] * 6, False),  # heavy, but not legs
    ],
)
def test_heavy_flag(specs: list[Any], heavy: bool) -> None:
    assert one(STRENGTH, sets_of(specs))["heavy"] is heavy


def test_rest_sets_do_not_count() -> None:
    row = one(STRENGTH, sets_of([(SQ, 8, 60.0)] * 4))
    assert row["active_sets"] == 4
    assert row["lower_sets"] == 4


# --- text evidence ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("Back Squat", "lower"),
        ("RDL", "lower"),
        ("Romanian Deadlift", "lower"),
        ("Bulgarian split squat", "lower"),
        ("Leg press", "lower"),
        ("leg_press", "lower"),
        ("Hamstring curl", "lower"),
        ("Calf raises", "lower"),
        ("Hip thrust", "lower"),
        ("Box jumps", "lower"),
        ("Walking lunges", "lower"),
        ("Kettlebell swing", "lower"),
        ("Leg day", "lower"),
        ("Lower body", "lower"),
        ("Beintag", "lower"),
        ("Kniebeuge", "lower"),
        ("Bench press", "upper"),
        ("Overhead press", "upper"),
        ("Pull-ups", "upper"),
        ("Bicep curl", "upper"),
        ("Lat pulldown", "upper"),
        ("Upper body", "upper"),
        ("Hanging leg raise", "core"),
        ("Plank", "core"),
        ("Sit-ups", "core"),
        ("Burpees", "full"),
        ("Warm up", "cardio"),
    ],
)
def test_keywords(text: str, region: str) -> None:
    hit = match_text(text)
    assert hit is not None and hit.region == region, (text, hit)


@pytest.mark.parametrize("text", ["Strength", "Morning workout", "", None, "Swarm"])
def test_keywords_do_not_invent(text: str | None) -> None:
    assert match_text(text) is None


def test_workout_steps_identify_unknown_sets() -> None:
    specs = [(U, 8, 60.0, None, 0)] * 3 + [(U, 10, 40.0, None, 1)] * 3 + [(U, 8, 20.0, None, 2)]
    steps = steps_of([(0, "Back Squat"), (1, "RDL"), (2, "Bench press")])
    row = one(STRENGTH, sets_of(specs), steps)
    assert row["kind"] == "leg_strength"
    assert row["leg_score"] == pytest.approx(6.0)
    assert "6 by exercise/step name" in row["reason"]


def test_step_names_without_set_links_apply_to_the_session() -> None:
    specs = [(U, 8, 60.0)] * 6
    row = one(STRENGTH, sets_of(specs), steps_of([(0, "Back Squat"), (1, "Leg press")]))
    assert row["kind"] == "leg_strength"
    assert "6 unidentified set(s) given the region of 'Back Squat'" in row["reason"]


def test_mixed_step_names_without_links_decide_nothing() -> None:
    row = one(STRENGTH, sets_of([(U, 8, 60.0)] * 6), steps_of([(0, "Squat"), (1, "Bench")]))
    assert (row["kind"], row["region"]) == ("strength", "unknown")


def test_session_name_leg_day() -> None:
    row = one({**STRENGTH, "name": "Leg Day"}, sets_of([(U, 8, 60.0)] * 5))
    assert row["kind"] == "leg_strength"
    row = one({**STRENGTH, "name": "Leg Day"})  # no sets at all (Suunto, older Garmin)
    assert row["kind"] == "leg_strength"
    assert "no set data" in row["reason"]


def test_strength_without_anything_says_so() -> None:
    row = one({**STRENGTH, "name": "Strength"})
    assert (row["kind"], row["region"]) == ("strength", "unknown")
    assert "without set messages" in row["reason"]


def test_other_sports_with_leg_sets_become_leg_days() -> None:
    assert one({"sport": "training", "sub_sport": "yoga"}, sets_of([(SQ, 8, 0.0)] * 5))["kind"] == (
        "leg_strength"
    )
    row = one({"sport": "training", "sub_sport": "yoga"}, sets_of([(U, 1, 0.0)]))
    assert row["kind"] == "other"
    assert one({"sport": "training", "sub_sport": "cardio_training"}, sets_of([(BENCH, 8, 20.0)]))[
        "kind"
    ] == ("strength")


def test_runs_stay_runs_whatever_sets_they_carry() -> None:
    assert one({"sport": "running"}, sets_of([(SQ, 8, 60.0)] * 6))["kind"] == "run"


def test_output_schema_order_and_other_activities_ignored() -> None:
    a = acts({**STRENGTH}, {"sport": "running"}, {**STRENGTH})
    sets = pl.concat([sets_of([(SQ, 8, 60.0)] * 4, "a2"), sets_of([(BENCH, 8, 60.0)] * 4, "zz")])
    out = classify(a, sets, NO_STEPS, CFG)
    assert out.schema == pl.Schema(CLASSIFIED_SCHEMA)
    assert out["activity_id"].to_list() == ["a0", "a1", "a2"]
    assert out["kind"].to_list() == ["strength", "run", "leg_strength"]
    assert set(out["kind"]) <= set(KINDS)
    empty = classify(acts().clear(), NO_SETS, NO_STEPS, CFG)
    assert empty.height == 0 and empty.schema == pl.Schema(CLASSIFIED_SCHEMA)


# --- labels (pipeline.derive.labels: the one place production applies them) -------------------


def _labels(*rows: tuple[str, str, str | None, datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        [dict(zip(("activity_id", "kind", "note", "labelled_utc"), r, strict=True)) for r in rows],
        schema=LABELS_SCHEMA,
    )


def test_labels_override_the_kind_and_keep_what_the_rules_measured() -> None:
    rows = classify(acts({**STRENGTH}, {"sport": "running"}), NO_SETS, NO_STEPS, CFG)
    labels = _labels(
        ("a0", "strength", None, datetime(2026, 11, 1, tzinfo=UTC)),
        ("a0", "leg_strength", "squats, watch missed them", datetime(2026, 11, 2, tzinfo=UTC)),
    )
    out = apply_labels(rows, labels, source="source")
    first = out.row(0, named=True)
    # The latest label wins; the region stays the rules' (no set data: unknown).
    assert (first["kind"], first["region"], first["source"]) == ("leg_strength", "unknown", "label")
    assert first["reason"] == "labelled leg_strength by you: squats, watch missed them"
    assert first["leg_score"] == rows["leg_score"][0] and first["heavy"] == rows["heavy"][0]
    second = out.row(1, named=True)
    assert (second["kind"], second["source"]) == ("run", "rules")
    assert second["reason"] == rows["reason"][1]
    assert out.columns == [*rows.columns, "source"]


def test_labels_with_unknown_kind_fail() -> None:
    cls = classify(acts({**STRENGTH}), NO_SETS, NO_STEPS, CFG)
    with pytest.raises(ValueError, match="unknown kind"):
        apply_labels(cls, _labels(("a0", "legs", None, T0)))
    with pytest.raises(ReportError, match="kind must be one of"):
        check_kind("legs")


def test_a_label_reaches_the_flags_and_agrees_with_the_overview(
    tmp_path: Path, sample_dir: Path
) -> None:
    """Through production: an upper-body session labelled a leg day flags the easy run after it,
    keeps its measured region, and the SQL view says what ``session_frame`` says."""
    settings = Settings(
        db_path=tmp_path / "s.duckdb",
        data_dir=tmp_path,
        default_athlete="me",
        athletes={"me": AthleteSettings()},
    )
    names = ("2026-10-20-1830-strength-upper.fit", "2026-10-21-0700-run-easy.fit")
    now = datetime(2026, 10, 22, tzinfo=UTC)
    ingest(settings.db_path, [sample_dir / n for n in names])
    refresh.refresh_store(settings, now=now)
    with open_store(settings.db_path) as store:
        before = refresh.session_frame(store, "me", since=None)
        upper = before.filter(pl.col("kind") == "strength").row(0, named=True)
        assert upper["region"] == "upper"
        assert store.rows("SELECT count(*) FROM recovery_flags")[0][0] == 0
        full_id = refresh.set_label(
            store, "me", upper["activity_id"][:8], "leg_strength", None, now=now
        )
        result = refresh.refresh(store, settings, "me", now=now, only=[full_id])
        after = refresh.session_frame(store, "me", since=None)
        view = store.frame(
            "SELECT activity_id, kind, region, kind_reason FROM activity_overview ORDER BY start_utc"
        )
        rules = store.rows("SELECT kind FROM classifications WHERE activity_id = ?", [full_id])
    assert result.flags == 1
    row = after.filter(pl.col("activity_id") == full_id).row(0, named=True)
    assert (row["kind"], row["region"]) == ("leg_strength", "upper")
    assert row["kind_reason"] == "labelled leg_strength by you"
    assert rules == [("strength",)]  # the rules' verdict is kept beside the label
    assert after.select(view.columns).equals(view)


# --- the real corpus ----------------------------------------------------------------------------


def _corpus_frames(path: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    parsed = parse_fit(path.read_bytes())
    with_id = pl.format("s{}", pl.col("session_index")).alias("activity_id")
    sessions = parsed.sessions.with_columns(with_id)
    sets = parsed.sets.with_columns(with_id)
    steps = parsed.steps.join(sessions.select("activity_id"), how="cross")
    return sessions, sets, steps


def _corpus_file(corpus_dir: Path, fragment: str) -> Path:
    found = sorted(corpus_dir.glob(f"*{fragment}*"))
    assert len(found) == 1, fragment
    return found[0]


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("fragment", "expected", "score", "heavy"),
    [
        # indoor ride + strength with squat/deadlift/olympic_lift sets
        ("20744294788_ACTIVITY", [("ride", None), ("leg_strength", "lower")], 15.0, True),
        # mostly unknown + sit_up/triceps/row; one weighted lunge
        ("20474406937_ACTIVITY", [("strength", "full")], 1.0, False),
        # 2 squat + 1 lunge as first candidates, plus bench_press/lunge/squat (no exercise
        # name): 4 lower-body sets -> leg_score 4.0 >= 4.0 and share 4/8 = 50% >= 40%
        ("20748058539_ACTIVITY", [("leg_strength", "lower")], 4.0, True),
        ("suunto-weight", [("strength", "unknown")], 0.0, False),
        ("test__user_metrics.fit", [("strength", "unknown")], 0.0, False),
        ("examples__failed.fit", [("other", None)], 0.0, False),  # Venu 3 yoga, 1 empty set
    ],
)
def test_corpus_strength_files(
    corpus_dir: Path,
    fragment: str,
    expected: list[tuple[str, str | None]],
    score: float,
    heavy: bool,
) -> None:
    sessions, sets, steps = _corpus_frames(_corpus_file(corpus_dir, fragment))
    out = classify(sessions, sets, steps, CFG)
    assert list(zip(out["kind"], out["region"], strict=True)) == expected, out["reason"].to_list()
    last = out.row(out.height - 1, named=True)
    assert last["leg_score"] == pytest.approx(score)
    assert last["heavy"] is heavy


@pytest.mark.corpus
def test_corpus_borderline_reason(corpus_dir: Path) -> None:
    sessions, sets, steps = _corpus_frames(_corpus_file(corpus_dir, "20748058539_ACTIVITY"))
    reason = classify(sessions, sets, steps, CFG)["reason"][0]
    assert "leg_score 4.0 >= 4.0" in reason
    assert "1 by candidate majority" in reason
    assert "6 set(s) unidentified" in reason


@pytest.mark.corpus
def test_corpus_every_activity_gets_a_kind(
    parsed_corpus: dict[str, Any], corpus_manifest: list[dict[str, str]]
) -> None:
    runs = 0
    for entry in corpus_manifest:
        if entry["category"] not in ("run_hr", "cycling", "swim", "other_sport"):
            continue
        parsed = parsed_corpus[entry["file"]]  # parsed once per session (conftest)
        sessions = parsed.sessions.with_columns(
            pl.format("s{}", pl.col("session_index")).alias("activity_id")
        )
        out = classify(sessions, NO_SETS, NO_STEPS, CFG)
        assert out.height == sessions.height
        want = {"run_hr": "run", "cycling": "ride", "swim": "swim", "other_sport": None}[
            entry["category"]
        ]
        if want is not None:
            assert want in out["kind"].to_list(), (entry["file"], out["reason"].to_list())
        runs += out["kind"].to_list().count("run")
    assert runs >= 17


def _hints(*rows: tuple[str, str, str, bool, bool, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=HINTS_SCHEMA, orient="row")


def test_export_summary_hints_decide_only_where_the_file_does_not() -> None:
    """Issue 12 item 4: a matched summary's hint (``summary_hints``) against what the file says."""
    strength_sport = {"sport": "training", "sub_sport": "strength_training"}
    frame = acts(
        strength_sport,  # a0: no sets: region unknown
        {**strength_sport, "name": "Leg day"},  # a1: decided by its name alone
        strength_sport,  # a2: bench sets decide
        {"sport": "training", "sub_sport": "generic"},  # a3: not strength by the file
        {"sport": "running", "sub_sport": "generic"},  # a4: the sport decides
        strength_sport,  # a5: the summary says nothing
    )
    sets = sets_of([(["bench_press"], 8, 60.0)] * 6, "a2")
    empty_steps = pl.DataFrame(schema=STEP_COLS)
    legs = "Garmin Connect export summary: title 'Leg day' names lower body (leg day)"
    upper = "Strava export (activities.csv): title 'Push' names only upper body/core (push)"
    hints = _hints(
        ("a0", "legs", "lower", True, True, legs),
        ("a1", "not_legs", "upper", True, False, upper),
        ("a2", "legs", "lower", True, False, legs),
        ("a3", "legs", "lower", True, False, legs),
        ("a4", "not_legs", "upper", True, False, upper),
        ("a5", "unknown", "upper", True, False, "Garmin Connect export summary: no title"),
    )
    plain = classify(frame, sets, empty_steps, CFG)
    assert classify(frame, sets, empty_steps, CFG, _hints()).equals(plain)
    got = {r["activity_id"]: r for r in classify(frame, sets, empty_steps, CFG, hints).to_dicts()}
    was = {r["activity_id"]: r for r in plain.to_dicts()}
    a0 = got["a0"]
    assert (a0["kind"], a0["region"], a0["evidence"], a0["heavy"]) == (
        "leg_strength",
        "lower",
        "summary",
        True,
    )
    assert a0["reason"] == f"leg day by export summary: {legs}" and a0["leg_score"] is None
    a1 = got["a1"]
    assert (was["a1"]["kind"], was["a1"]["evidence"]) == ("leg_strength", "names")
    assert (a1["kind"], a1["region"], a1["evidence"]) == ("strength", "upper", "summary")
    assert a1["reason"].startswith(f"strength (upper) by export summary: {upper} (the file alone: ")
    a2 = got["a2"]
    assert (a2["kind"], a2["region"], a2["evidence"]) == ("strength", "upper", "sets")
    assert a2["reason"] == f"{was['a2']['reason']}; the sets decide over the {legs}"
    assert was["a3"]["kind"] == "other"
    assert (got["a3"]["kind"], got["a3"]["evidence"]) == ("leg_strength", "summary")
    assert got["a4"] == was["a4"]
    a5 = got["a5"]
    assert (a5["kind"], a5["region"], a5["evidence"]) == ("strength", "unknown", "none")
    assert a5["reason"] == f"{was['a5']['reason']}; Garmin Connect export summary: no title"
