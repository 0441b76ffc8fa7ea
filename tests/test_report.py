"""Daily report: golden Markdown/JSON, JSON Schema validation, local-day cuts, HTML smoke checks.

The scenario is synthetic and deterministic: four weeks of one athlete in Europe/Berlin,
reported on Sunday 2026-10-25, the day clocks go back (a 25 h day). A heavy leg session on
Saturday evening is followed by hard intervals on Sunday morning (alert) and an easy jog in the
afternoon (info).

Golden files live in ``tests/golden/``. After an intended change of the output, rewrite them
with ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_report.py`` and review the diff.
"""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import RecoverySettings
from pipeline.derive.metrics import HrProfile
from pipeline.derive.recovery import legs_state, recovery_flags
from pipeline.errors import ReportError
from pipeline.report.build import build_report, day_bounds
from pipeline.report.figures import thin
from pipeline.report.html import render_html
from pipeline.report.markdown import render_markdown
from pipeline.report.model import REPORT_SCHEMA_PATH, REPORT_SCHEMA_VERSION, Report, render_json
from pipeline.report.sections import coming_up, leg_fatigue, runs_evidence

GOLDEN = Path(__file__).parent / "golden"
BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 10, 25)
GENERATED = datetime(2026, 10, 26, 6, 0, tzinfo=UTC)
PROFILE = HrProfile(190, "configured", 50, "configured", 171, "estimated", "male")
UTC_TS = pl.Datetime("us", "UTC")

SESSION_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),
    "start_utc": UTC_TS,
    "end_utc": UTC_TS,
    "intensity": pl.String(),
    "heavy": pl.Boolean(),
    "leg_score": pl.Float64(),
    "name": pl.String(),
    "sport": pl.String(),
    "sub_sport": pl.String(),
    "elapsed_s": pl.Float64(),
    "distance_m": pl.Float64(),
    "reason": pl.String(),
}

METRIC_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "avg_hr": pl.Float64(),
    "peak_hr": pl.Int32(),
    **{f"z{i}_s": pl.Float64() for i in range(1, 6)},
    "z4plus_s": pl.Float64(),
    "trimp_banister": pl.Float64(),
    "intensity": pl.String(),
    "intensity_reason": pl.String(),
    "max_hr_used": pl.Int32(),
    "max_hr_source": pl.String(),
}

LEG, GYM = "leg_strength", ("training", "strength_training")
ROAD, TRACK = ("running", "generic"), ("running", "track")
# (id, kind, local start, minutes, intensity, heavy, leg_score, name, sport, sub_sport, km)
PLAN: list[tuple[Any, ...]] = [
    ("a01", LEG, (9, 29, 18, 0), 70, None, False, 5.2, "Leg day A", *GYM, None),
    ("a02", "run", (9, 30, 7, 0), 48, "easy", None, None, "Easy 8k", *ROAD, 8.1),
    ("a03", "run", (10, 1, 18, 30), 40, "hard", None, None, "Tempo 5k", *ROAD, 7.5),
    ("a04", "ride", (10, 3, 9, 0), 95, None, None, None, "Saturday spin", "cycling", "road", 42.0),
    ("a05", "run", (10, 4, 9, 30), 105, "moderate", None, None, "Long run 18k", *ROAD, 18.0),
    ("a06", LEG, (10, 6, 18, 0), 75, None, True, 8.1, "Heavy legs", *GYM, None),
    ("a07", "run", (10, 7, 6, 45), 50, "hard", None, None, "Track 10x400", *TRACK, 9.0),
    ("a08", "run", (10, 9, 7, 0), 45, "easy", None, None, "Easy 7k", *ROAD, 7.0),
    ("a09", "strength", (10, 10, 10, 0), 50, None, False, 0.6, "Push/pull", *GYM, None),
    ("a10", "run", (10, 11, 9, 0), 110, "moderate", None, None, "Long run 19k", *ROAD, 19.0),
    ("a11", LEG, (10, 14, 18, 0), 60, None, False, 6.0, "Leg day B", *GYM, None),
    ("a12", "run", (10, 15, 12, 30), 40, "easy", None, None, "Lunch jog", *ROAD, 6.2),
    ("a13", "run", (10, 17, 8, 0), 22, "hard", None, None, "Parkrun", *ROAD, 5.0),
    ("a14", "run", (10, 18, 9, 0), 115, "moderate", None, None, "Long run 20k", *ROAD, 20.0),
    ("a15", "run", (10, 20, 7, 0), 45, "easy", None, None, "Easy 7k", *ROAD, 7.1),
    ("a16", "ride", (10, 21, 18, 30), 60, None, None, None, None, "cycling", "indoor_cycling", 30),
    ("a17", "run", (10, 22, 7, 0), 55, "moderate", None, None, "Steady 10k", *ROAD, 10.0),
    ("a18", LEG, (10, 24, 17, 30), 70, None, True, 9.6, "Back squat 5x5", *GYM, None),
    ("a19", "run", (10, 25, 8, 10), 62, "hard", None, None, "Intervals 6x800", *TRACK, 10.4),
    ("a20", "strength", (10, 25, 11, 0), 45, None, False, 0.8, "Upper body", *GYM, None),
    ("a21", "run", (10, 25, 17, 15), 35, "easy", None, None, "Recovery jog", *ROAD, 5.3),
]  # fmt: skip

REASONS = {
    "a18": "leg_strength: 12 active sets, 9 lower-body (squat 5x5 at 100 kg, deadlift 3x5); "
    "leg score 9.6 >= 4.0; heavy: loaded lower-body set of 5 reps <= 6",
    "a20": "strength (upper): 10 active sets, 0 lower-body; leg score 0.8 < 4.0",
}
INTENSITY_REASONS = {
    "a19": "18.5 min in Z4+ (30% of 62 min, hrmax zones) >= 10 min -> hard",
    "a21": "0.0 min in Z4+, 2% in Z3+, average 66% of HRmax -> easy",
}
ZONES = {  # minutes in Z1..Z5 by intensity
    "easy": (18.0, 20.0, 5.0, 0.5, 0.0),
    "moderate": (10.0, 35.0, 40.0, 12.0, 1.0),
    "hard": (12.0, 14.0, 12.0, 14.0, 4.5),
    None: (20.0, 25.0, 10.0, 3.0, 0.0),
}


def scenario() -> dict[str, Any]:
    """Every input of the report for the scenario in the module docstring."""
    rows, metric_rows = [], []
    for aid, kind, (mo, d, h, mi), minutes, inten, heavy, score, name, sport, sub, km in PLAN:
        start = datetime(2026, mo, d, h, mi, tzinfo=BERLIN).astimezone(UTC)
        rows.append(
            {
                "activity_id": aid,
                "kind": kind,
                "start_utc": start,
                "end_utc": start + timedelta(minutes=minutes),
                "intensity": inten,
                "heavy": heavy,
                "leg_score": score,
                "name": name,
                "sport": sport,
                "sub_sport": sub,
                "elapsed_s": minutes * 60.0,
                "distance_m": None if km is None else km * 1000,
                "reason": REASONS.get(aid),
            }
        )
        zones = ZONES[inten] if kind == "run" else ZONES[None]
        scale = minutes / sum(zones)
        zs = [round(z * scale * 60, 1) for z in zones]
        metric_rows.append(
            {
                "activity_id": aid,
                "avg_hr": {"easy": 128.4, "moderate": 146.2, "hard": 158.7}.get(inten, 112.0),
                "peak_hr": {"easy": 141, "moderate": 165, "hard": 184}.get(inten, 150),
                **{f"z{i + 1}_s": z for i, z in enumerate(zs)},
                "z4plus_s": zs[3] + zs[4],
                "trimp_banister": round(
                    minutes * {"hard": 2.1, "moderate": 1.5}.get(inten, 0.9), 1
                ),
                "intensity": inten,
                "intensity_reason": INTENSITY_REASONS.get(aid),
                "max_hr_used": 190,
                "max_hr_source": "configured",
            }
        )
    sessions = pl.DataFrame(rows, schema=SESSION_SCHEMA)
    metrics = pl.DataFrame(metric_rows, schema=METRIC_SCHEMA)
    settings = RecoverySettings()
    flags = recovery_flags(sessions, settings, 14, tz=BERLIN)
    day_start, day_end = day_bounds(DAY, BERLIN)
    load = {
        "trimp_7d": 612.4,
        "trimp_28d": 2210.75,
        "ctl": 71.234,
        "atl": 87.5,
        "tsb": -16.266,
        "acwr": 1.108,
        "acwr_band": "sweet_spot",
        "method": "Banister TRIMP per local day; CTL/ATL exponentially weighted (42 d / 7 d)",
    }
    return {
        "sessions": sessions,
        "metrics": metrics,
        "flags": flags,
        "legs": legs_state(sessions, day_end, settings, 14),
        "load": load,
        "traces": {aid: hr_trace(aid, sessions) for aid in ("a19", "a21")},
        "sections": scenario_sections(day_start, day_end),
        "curve": _curve(day_end),
        "quarantined": [
            {"file": "2026-10-25-07-55-01.fit", "reason_code": "crc_mismatch",
             "message": "file CRC 0x1A2B does not match 0x3C4D; nothing stored"},
        ],
    }  # fmt: skip


def hr_trace(aid: str, sessions: pl.DataFrame) -> pl.DataFrame:
    """A deterministic HR trace: intervals for a hard run, a flat jog otherwise."""
    row = sessions.filter(pl.col("activity_id") == aid).row(0, named=True)
    start: datetime = row["start_utc"]
    n = int(row["elapsed_s"] // 5)
    ts, bpm = [], []
    for k in range(n):
        minute = k * 5 / 60
        if row["intensity"] == "hard":
            if minute < 15:
                base = 118 + 2 * minute
            elif minute < 45:
                base = 177 if (minute - 15) % 5 < 3 else 146
            else:
                base = 150 - (minute - 45)
        else:
            base = 126 + 4 * min(minute / 10, 1)
        ts.append(start + timedelta(seconds=5 * k))
        bpm.append(round(base + 2.5 * math.sin(k / 7)))
    return pl.DataFrame({"ts": ts, "bpm": bpm}, schema={"ts": UTC_TS, "bpm": pl.Int32()})


def _curve(day_end: datetime) -> pl.DataFrame:
    """Hourly fatigue of the 7 days to ``day_end``: Saturday's heavy squats decaying (tau 31.3 h
    for quadriceps and posterior chain, 20.8 h for calves)."""
    legs_end = datetime(2026, 10, 24, 16, 40, tzinfo=UTC)
    doses = {"quadriceps": (0.9, 31.3), "posterior_chain": (0.6, 31.3), "calves": (0.15, 20.8)}
    rows = []
    for h in range(7 * 24 + 1):
        t = day_end - timedelta(hours=7 * 24 - h)
        for region, (dose, tau) in doses.items():
            dt = (t - legs_end).total_seconds() / 3600
            level = dose * math.exp(-dt / tau) if dt >= 0 else 0.0
            rows.append({"time_utc": t, "region": region, "fatigue": level})
    return pl.DataFrame(
        rows, schema={"time_utc": UTC_TS, "region": pl.String(), "fatigue": pl.Float64()}
    )


def _evidence() -> Any:
    from pipeline.derive.evidence import (
        Bucket,
        BucketResult,
        Difference,
        EvidenceReport,
        Measure,
        Verdict,
        WindowSuggestion,
    )

    def res(m: Measure, b: Bucket, n: int, d: tuple[float, float, float] | None, unit: str) -> Any:
        diff = None if d is None else Difference(*d, unit)
        verdict = (
            Verdict.NOT_ENOUGH_DATA
            if d is None
            else (Verdict.WORSE if diff and diff.excludes_zero else Verdict.NO_CLEAR_DIFFERENCE)
        )
        return BucketResult(m, b, n, 31, diff, verdict)

    e, hr, dr = Measure.EFFICIENCY, Measure.HR_AT_EASY_PACE, Measure.CARDIAC_DRIFT
    results = (
        res(e, Bucket.H0_24, 9, (-4.83, -7.91, -1.62), "%"),
        res(e, Bucket.H24_48, 8, (-2.06, -5.04, 0.93), "%"),
        res(e, Bucket.H48_72, 5, None, "%"),
        res(hr, Bucket.H0_24, 9, (3.1, 0.4, 5.9), "%"),
        res(hr, Bucket.H24_48, 8, (0.8, -1.7, 3.2), "%"),
        res(hr, Bucket.H48_72, 5, None, "%"),
        res(dr, Bucket.H0_24, 4, None, "pct"),
        res(dr, Bucket.H24_48, 3, None, "pct"),
        res(dr, Bucket.H48_72, 2, None, "pct"),
    )
    why = "not every bucket has enough data (8 runs each)"
    return EvidenceReport(
        results, tuple(WindowSuggestion(m, None, why) for m in (e, hr, dr)), None,
        53, 2, 8, 0.95, 1 - 0.05 / 9,
    )  # fmt: skip


def scenario_sections(day_start: datetime, day_end: datetime) -> dict[str, Any]:
    """The sections of issues 13 and 14: a planned hard run on Monday morning 37 h after
    Saturday's heavy squats (warning, legs ready Tuesday 17:40), the legs' latest ready row and
    their 7-day curve, and what the runs say (one clear difference, the rest too few runs)."""
    legs_end = datetime(2026, 10, 24, 16, 40, tzinfo=UTC)
    ready = legs_end + timedelta(hours=72)
    conflicts = pl.DataFrame(
        [{
            "run_start_utc": datetime(2026, 10, 26, 6, 0, tzinfo=UTC), "severity": "warning",
            "rule": "intense_48h", "evidence": "S2, S3", "run_title": "Run: 6x800m",
            "run_all_day": False, "leg_title": "Back squat 5x5", "leg_planned": False,
            "leg_end_utc": legs_end, "hours_between": 37.333, "legs_ready_utc": ready,
            "move_to_utc": ready,
            "suggestion": "move 'Run: 6x800m' to Tue 27 Oct 17:40 CET or later",
        }],
        schema_overrides={k: UTC_TS for k in ("run_start_utc", "leg_end_utc", "legs_ready_utc", "move_to_utc")},
    )  # fmt: skip
    row = {
        # The curve's levels at GENERATED; the quadriceps reach 0.1 31.4 h later.
        "as_of_utc": GENERATED, "ready_at_utc": datetime(2026, 10, 27, 13, 26, tzinfo=UTC),
        "limiting_region": "quadriceps", "quadriceps": 0.27305, "posterior_chain": 0.18203,
        "calves": 0.02492, "threshold": 0.1,
    }  # fmt: skip
    return {
        "coming_up": coming_up(
            conflicts, start=day_start, end=day_start + timedelta(days=4, hours=1),
            horizon_days=3, planned_kinds=["run", "leg_strength", "run"], tz=BERLIN,
        ),
        "leg_fatigue": leg_fatigue(row, "windows", BERLIN),
        "runs_evidence": runs_evidence(_evidence()),
    }  # fmt: skip


def make_report(s: dict[str, Any] | None = None, **overrides: Any) -> Report:
    s = s or scenario()
    kwargs: dict[str, Any] = {
        "athlete_id": "alex",
        "athlete_name": "Alex Müller",
        "local_date": DAY,
        "tz": BERLIN,
        "sessions": s["sessions"],
        "metrics": s["metrics"],
        "flags": s["flags"],
        "legs": s["legs"],
        "load": s["load"],
        "profile": PROFILE,
        "generated_at": GENERATED,
        "quarantined": s["quarantined"],
        **s["sections"],
    }
    kwargs.update(overrides)
    return build_report(**kwargs)


def html_page(s: dict[str, Any] | None = None) -> str:
    s = s or scenario()
    return render_html(
        make_report(s),
        s["traces"],
        s["sessions"],
        timeline_flags=s["flags"],
        fatigue_curve=s["curve"],
    )


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(REPORT_SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


# --- golden files -----------------------------------------------------------------------------


def test_markdown_matches_golden() -> None:
    _golden("report_2026-10-25.md", render_markdown(make_report()))


def test_json_matches_golden() -> None:
    _golden("report_2026-10-25.json", render_json(make_report()))


# --- content ----------------------------------------------------------------------------------


def test_scenario_flags_and_day_contents() -> None:
    report = make_report().to_json_dict()
    assert report["schema_version"] == REPORT_SCHEMA_VERSION == "1.2"
    # intense_24h cites S2, S3 and easy_in_window S3: each key once, in key order.
    assert [e["key"] for e in report["evidence"]] == ["S2", "S3"]
    assert report["evidence"][0]["citation"] == "Doma et al. 2019, Sports Med Open 5:21"
    assert report["day"]["hours"] == 25.0
    assert [s["activity_id"] for s in report["sessions"]] == ["a19", "a20", "a21"]
    flags = report["flags"]
    assert [(f["run_activity_id"], f["severity"], f["rule"]) for f in flags] == [
        ("a19", "alert", "intense_24h"),
        ("a21", "info", "easy_in_window"),
    ]
    # 18:40 CEST Saturday to 08:10 CET Sunday: 13.5 h on the wall clock, 14.5 h of real time.
    assert flags[0]["hours_between"] == 14.5
    assert flags[0]["leg_end"] == {
        "local": "2026-10-24T18:40:00+02:00",
        "utc": "2026-10-24T16:40:00Z",
    }
    assert flags[0]["run_start"]["local"] == "2026-10-25T08:10:00+01:00"
    assert (
        "14.5 h after the end of a heavy leg session (Back squat 5x5, leg score 9.6)"
        in (flags[0]["message"])
    )
    assert report["summary"]["worst_severity"] == "alert"
    legs = report["legs"]
    assert legs["status"] == "recovering"
    assert legs["last_leg_activity_id"] == "a18"
    assert legs["intense_ok_from"]["utc"] == "2026-10-27T16:40:00Z"  # 72 h after a heavy session
    assert report["hr_profile"]["max_hr_source"] == "configured"
    assert report["hr_profile"]["zones"][3] == {"zone": "Z4", "low_bpm": 152, "high_bpm": 171}
    assert report["quarantined"][0]["reason_code"] == "crc_mismatch"
    assert report["sessions"][0]["zone_minutes"] == [13.2, 15.4, 13.2, 15.4, 4.9]  # s -> min


def test_markdown_fits_a_terminal_and_says_what_matters() -> None:
    md = render_markdown(make_report())
    assert max(len(line) for line in md.splitlines()) <= 100
    flat = " ".join(md.split())
    for f in make_report().flags:
        assert " ".join(f.message.split()) in flat
    for needle in (
        "**ALERT**",
        "25 h day: DST change",
        "HR max 190 bpm (source: configured)",
        "Load context (for context only)",
        "crc_mismatch",
        "RECOVERING",
    ):
        assert needle in flat


def test_json_is_valid_against_the_schema_and_stable() -> None:
    report = make_report()
    text = render_json(report)
    assert text == render_json(make_report())
    assert json.loads(text) == report.to_json_dict()
    _validator().validate(json.loads(text))


def test_schema_rejects_what_it_should() -> None:
    validator = _validator()
    good = json.loads(render_json(make_report()))
    bad_severity = json.loads(json.dumps(good))
    bad_severity["flags"][0]["severity"] = "panic"
    bad_stamp = json.loads(json.dumps(good))
    bad_stamp["day"]["start"]["utc"] = "2026-10-25 00:00"
    missing = {k: v for k, v in good.items() if k != "legs"}
    extra = {**good, "surprise": 1}
    for doc in (bad_severity, bad_stamp, missing, extra):
        assert not validator.is_valid(doc)


def test_empty_day_without_history_validates() -> None:
    empty_sessions = pl.DataFrame(schema=SESSION_SCHEMA)
    settings = RecoverySettings()
    report = build_report(
        athlete_id="new",
        athlete_name=None,
        local_date=date(2026, 3, 29),
        tz=BERLIN,
        sessions=empty_sessions,
        metrics=pl.DataFrame(schema=METRIC_SCHEMA),
        flags=recovery_flags(empty_sessions, settings, 14),
        legs=legs_state(empty_sessions, GENERATED, settings, 14),
        load={"trimp_7d": 0.0, "acwr": None, "acwr_band": None, "method": None},
        profile=HrProfile(190, "default", 60, "default", 171, "estimated", None),
        generated_at=GENERATED,
        quarantined=None,
    )
    _validator().validate(json.loads(render_json(report)))
    assert report.day.hours == 23.0
    assert report.flags == () and report.sessions == ()
    md = render_markdown(report)
    assert "No flags" in md and "No leg session on record" in md and "23 h day" in md
    page = render_html(report, {}, empty_sessions)
    assert "<svg" in page and "No flagged runs this day." in page


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 10, 25), 25.0), (date(2026, 3, 29), 23.0), (date(2026, 10, 24), 24.0)],
)
def test_day_bounds_follow_local_midnights(day: date, hours: float) -> None:
    start, end = day_bounds(day, BERLIN)
    assert (end - start).total_seconds() / 3600 == hours
    assert start.astimezone(BERLIN).hour == 0 and end.astimezone(BERLIN).hour == 0


def test_sessions_are_cut_at_local_midnight_including_the_repeated_hour() -> None:
    s = scenario()
    extra = [
        # 02:30 CET, the second 02:30 of the night: still 25 Oct.
        ("late_dst", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
        # 23:59 local on 25 Oct, and 00:00 local on 26 Oct (next day).
        ("last_minute", datetime(2026, 10, 25, 23, 59, tzinfo=BERLIN).astimezone(UTC)),
        ("next_day", datetime(2026, 10, 26, 0, 0, tzinfo=BERLIN).astimezone(UTC)),
        # 23:30 CEST on 24 Oct: the previous day, though it is 21:30 UTC.
        ("prev_day", datetime(2026, 10, 24, 23, 30, tzinfo=BERLIN).astimezone(UTC)),
    ]
    more = pl.DataFrame(
        [
            {
                "activity_id": aid,
                "kind": "ride",
                "start_utc": ts,
                "end_utc": ts + timedelta(minutes=1),
            }
            for aid, ts in extra
        ],
        schema={k: SESSION_SCHEMA[k] for k in ("activity_id", "kind", "start_utc", "end_utc")},
    )
    sessions = pl.concat([s["sessions"], more], how="diagonal")
    ids = [x.activity_id for x in make_report(s, sessions=sessions).sessions]
    assert ids == ["late_dst", "a19", "a20", "a21", "last_minute"]


def test_only_flags_of_runs_on_that_day_are_reported() -> None:
    s = scenario()
    report = make_report(s, local_date=date(2026, 10, 7))
    assert [(f.run_activity_id, f.rule) for f in report.flags] == [("a07", "intense_24h")]
    assert s["flags"].height > len(report.flags)


def test_naive_generated_at_is_refused() -> None:
    with pytest.raises(ReportError, match="tz-aware"):
        make_report(generated_at=datetime(2026, 10, 26, 6, 0))


# --- HTML -------------------------------------------------------------------------------------

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}


class _Balance(HTMLParser):
    """Checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_well_formed() -> None:
    s = scenario()
    page = html_page(s)
    parser = _Balance()
    parser.feed(page)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    text = " ".join(" ".join(parser.text).split())
    for f in make_report(s).flags:
        assert " ".join(f.message.split()) in text
    # (two flagged runs + the timeline + the legs' curve) x (wide, narrow)
    assert page.count("<svg") == 8
    lowered = page.lower()
    for needle in (
        'src="http',
        "src='http",
        'href="http',
        "url(http",
        "@import",
        "<script",
        "<link",
    ):
        assert needle not in lowered
    assert "<style>" in page
    # Flags come before everything else on the page.
    assert page.index("Intervals 6x800 (hard) started") < page.index("<svg")


def test_html_escapes_text_from_the_data() -> None:
    s = scenario()
    sessions = s["sessions"].with_columns(
        pl.when(pl.col("activity_id") == "a20")
        .then(pl.lit("<script>alert(1)</script>"))
        .otherwise(pl.col("name"))
        .alias("name")
    )
    report = make_report(s, sessions=sessions, athlete_name="Bob & <Alice>")
    page = render_html(report, s["traces"], sessions)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Bob &amp; &lt;Alice&gt;" in page


def test_html_is_deterministic_and_notes_missing_traces() -> None:
    s = scenario()
    assert html_page(s) == html_page(s)
    page = render_html(make_report(s), {}, s["sessions"])
    assert "Intervals 6x800: no heart-rate samples to plot." in page


@given(
    st.lists(st.integers(min_value=30, max_value=230), min_size=0, max_size=5000),
    st.integers(min_value=10, max_value=1000),
)
@settings(max_examples=60, deadline=None)
def test_hr_trace_thinning_is_bounded_and_keeps_the_shape(bpm: list[int], most: int) -> None:
    minutes = [i / 60 for i in range(len(bpm))]
    xs, ys = thin(minutes, bpm, most)
    assert len(xs) == len(ys) <= max(most, 0) if len(bpm) > most else len(xs) == len(bpm)
    if len(bpm) <= most:
        assert (xs, ys) == (minutes, [float(b) for b in bpm])
    elif bpm:
        # Means of runs: never outside the samples' range, in time order, spanning the run.
        assert min(bpm) <= min(ys) and max(ys) <= max(bpm)
        assert xs == sorted(xs) and xs[0] < minutes[-1] / 2 < xs[-1]


def test_html_timeline_key_is_text_and_plots_have_no_figure_legend() -> None:
    page = html_page(scenario())
    assert '<div class="legend">' in page
    for label in ("Run: hard", "Leg session: heavy", "Flag: alert (leg session → run)"):
        assert f"{label}</span>" in page
    # The flagged runs' captions are HTML too, so they can be read and selected.
    assert page.count('<p class="caption"') == 2


def test_html_skips_samples_without_time_and_notes_a_trace_without_any() -> None:
    s = scenario()
    report = make_report(s)
    aid = report.flags[0].run_activity_id
    trace = s["traces"][aid]
    untimed = trace.with_columns(pl.lit(None, dtype=trace.schema["ts"]).alias("ts"))
    mixed = pl.concat([trace, untimed.head(3)])
    page = render_html(report, {**s["traces"], aid: mixed}, s["sessions"])
    assert page.count("<svg") == 6
    page = render_html(report, {**s["traces"], aid: untimed}, s["sessions"])
    assert page.count("<svg") == 4
    assert f"{report.flags[0].run_name}: no heart-rate samples to plot." in page


# --- evidence keys --------------------------------------------------------------------------

README = Path(__file__).parents[1] / "README.md"


def _readme_evidence() -> dict[str, tuple[str, str]]:
    """The README's "Sport-science defaults" rows ``| S2 | citation | finding |``, unitalicised."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0][:1] == "S" and cells[0][1:].isdigit():
            rows[cells[0]] = (cells[1].replace("*", ""), cells[2])
    return rows


def test_evidence_citations_are_the_readme_s_and_cover_every_rule() -> None:
    from pipeline.derive.recovery import EVIDENCE, RULES

    readme = _readme_evidence()
    assert len(readme) >= 7
    assert {k: (e.citation, e.finding) for k, e in EVIDENCE.items()} == readme
    assert {k for r in RULES for k in r.evidence} <= set(EVIDENCE)


def test_every_cited_key_is_explained_in_each_format() -> None:
    s = scenario()
    report = make_report(s)
    md, page = render_markdown(report), html_page(s)
    readme = _readme_evidence()
    cited = {k.strip() for f in report.flags for k in str(f.evidence).split(",")}
    assert cited == {e.key for e in report.evidence} == {"S2", "S3"}
    flat_md = " ".join(md.split())
    for key in cited:
        citation, finding = readme[key]
        assert f"{key}: {citation} — {finding}." in flat_md
        assert f"<li><b>{key}</b> {citation.replace('&', '&amp;')} — " in page
    # The key list follows the flags, before the next section.
    assert md.index("Evidence keys cited above") < md.index("## Legs")
    assert page.index('<ul class="evidence">') < page.index("<h2>Legs")


def test_a_day_without_flags_cites_nothing_and_an_unknown_key_is_still_listed() -> None:
    from pipeline.report.build import evidence_lines

    s = scenario()
    quiet = make_report(s, flags=s["flags"].clear())
    assert quiet.evidence == ()
    assert "Evidence keys" not in render_markdown(quiet)
    entries = evidence_lines(["S11, S3", "S99", None])
    assert [e.key for e in entries] == ["S3", "S11", "S99"]
    assert entries[2].finding == "" and "not in legday" in entries[2].citation
    _validator().validate(json.loads(render_json(quiet)))


def test_schema_accepts_a_1_0_report_and_rejects_a_malformed_evidence_entry() -> None:
    validator = _validator()
    good = json.loads(render_json(make_report()))
    old = {k: v for k, v in good.items() if k != "evidence"} | {"schema_version": "1.0"}
    assert validator.is_valid(old)
    for bad_entry in ({"key": "X2", "citation": "c", "finding": ""}, {"key": "S2"}):
        bad = json.loads(json.dumps(good))
        bad["evidence"][0] = bad_entry
        assert not validator.is_valid(bad)


# --- small screens ----------------------------------------------------------------------------


def _svgs(page: str) -> list[tuple[str, str]]:
    """(variant, svg element) of each plot drawing on the page, in page order."""
    import re

    return re.findall(r'<div class="(wide|narrow)">(<svg.*?</svg>)', page, flags=re.S)


def test_each_plot_has_a_phone_sized_drawing_with_its_own_ids() -> None:
    import re

    from pipeline.report.templating import NARROW_MAX_PX

    page = html_page(scenario())
    svgs = _svgs(page)
    assert [v for v, _ in svgs] == ["wide", "narrow"] * 4
    for variant, svg in svgs:
        width_pt = float(re.search(r'width="([\d.]+)pt"', svg).group(1))  # type: ignore[union-attr]
        # A narrow drawing fits a 360 px phone (~320 px for the plot) at >= 0.9 px per pt, so
        # its 11-12 pt text stays >= 10 px; the wide one is for pages wider than the breakpoint.
        if variant == "narrow":
            assert 320 / width_pt >= 0.9
        else:
            assert (NARROW_MAX_PX - 80) / width_pt >= 0.85
    # No id is defined twice, and every reference points at an id of the same drawing.
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for _, svg in svgs:
        own = set(re.findall(r'\bid="([^"]+)"', svg))
        refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', svg))
        assert refs and refs <= own
    assert f"@media (max-width: {NARROW_MAX_PX - 1}px)" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_wide_tables_scroll_inside_the_page() -> None:
    page = html_page(scenario())
    # Sessions, load context and the three measures of "What your runs say".
    assert page.count("<table") == 5
    assert page.count('<div class="scroll"><table') == 5
    assert ".scroll { overflow-x: auto;" in page


def test_session_rows_label_their_numbers_for_the_phone_layout() -> None:
    import re

    page = html_page(scenario())
    table = page[page.index('<table class="sessions">') : page.index("</table>")]
    rows = re.findall(r'<tr class="main">(.*?)</tr>', table)
    assert len(rows) == 3
    for row in rows:
        labels = re.findall(r'data-label="([^"]+)"', row)
        assert labels == ["h:mm", "Avg HR", "TRIMP", "Z1", "Z2", "Z3", "Z4", "Z5"]
        assert row.count('class="num nl"') == 2  # the numbers and the zones start a line
    assert table.startswith('<table class="sessions"><tr class="head">')
    assert "table.sessions tr.head { display: none; }" in page
