"""The committed sample data: it decodes cleanly, its script reproduces it byte for byte, and
``expected.json`` states a ground truth that the files themselves support.

The consistency tests re-derive every label from the decoded FIT messages with fitparse (not with
legday's own modules), using the thresholds of ``pipeline.config``, so a drift between the files,
expected.json and the project's defaults fails here. fitparse runs in a fresh interpreter that
imports nothing of legday (``tests/stock_fitparse.py``), so legday's fitparse speed-ups, switched
on in this process by any test that parses, cannot be on both sides of these checks.
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fitparse import profile as fit_profile

from pipeline.config import AthleteSettings, load_settings

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
FIT_NAMES = sorted(p.name for p in SAMPLE.glob("*.fit"))
BERLIN = ZoneInfo("Europe/Berlin")
DST_END = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST -> 02:00 CET
LOWER = {"squat", "deadlift", "lunge", "olympic_lift", "plyo", "leg_curl", "calf_raise"}
LOWER |= {"hip_raise", "hip_swing", "hyperextension"}
ACCESSORY = {"leg_curl", "calf_raise", "hip_raise", "hip_swing", "hyperextension"}
CATEGORY_NAMES: dict[int, str] = dict(fit_profile.FIELD_TYPES["exercise_category"].values)


@dataclass
class Decoded:
    """What the tests need from one file, decoded by fitparse with CRC checks on."""

    counts: dict[str, int] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    activity: dict[str, Any] = field(default_factory=dict)
    hr: list[int] = field(default_factory=list)
    sets: list[dict[str, Any]] = field(default_factory=list)
    steps: dict[int, dict[str, Any]] = field(default_factory=dict)


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC)  # fitparse 1.2.0 returns naive UTC


@cache
def _stock_messages() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every sample file's messages as stock fitparse decodes them, in one fresh interpreter."""
    helper = Path(__file__).resolve().parent / "stock_fitparse.py"
    paths = [str(SAMPLE / name) for name in FIT_NAMES]
    run = subprocess.run([sys.executable, str(helper), "values", *paths], check=True, stdout=-1)
    answer = pickle.loads(run.stdout)
    assert answer["stock_field_data"] and not answer["fast"]
    return {Path(p).name: msgs for p, msgs in answer["files"].items()}


@cache
def decode(name: str) -> Decoded:
    out = Decoded()
    for msg_name, values in _stock_messages()[name]:
        out.counts[msg_name] = out.counts.get(msg_name, 0) + 1
        if msg_name == "session":
            out.session = values
        elif msg_name == "activity":
            out.activity = values
        elif msg_name == "record" and values.get("heart_rate") is not None:
            out.hr.append(values["heart_rate"])
        elif msg_name == "set":
            out.sets.append(values)
        elif msg_name == "workout_step":
            out.steps[values["message_index"]] = values
    return out


@cache
def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLE / "expected.json").read_text(encoding="utf-8"))
    return data


@cache
def athlete() -> AthleteSettings:
    settings = load_settings(env={}, cwd=SAMPLE, config=SAMPLE / "legday.toml")
    return settings.athlete()


def test_block_is_all_there() -> None:
    assert 14 <= len(FIT_NAMES) <= 16
    days = sorted(name[:10] for name in FIT_NAMES)
    assert days[0] == "2026-10-19"
    assert days[-1] <= "2026-11-01"
    total = sum(p.stat().st_size for p in SAMPLE.iterdir() if p.is_file())
    assert total < 3_000_000


@pytest.mark.parametrize("name", FIT_NAMES)
def test_fitparse_decodes_every_message_with_valid_crc(name: str) -> None:
    d = decode(name)
    assert d.counts["file_id"] == 1
    assert d.counts["session"] == 1
    assert d.counts["activity"] == 1
    assert d.counts["record"] > 1000
    assert len(d.hr) == d.counts["record"]


@pytest.mark.parametrize("name", FIT_NAMES)
def test_garmin_sdk_decodes_without_errors(name: str) -> None:
    sdk = pytest.importorskip("garmin_fit_sdk")
    assert sdk.Decoder(sdk.Stream.from_file(str(SAMPLE / name))).check_integrity()
    messages, errors = sdk.Decoder(sdk.Stream.from_file(str(SAMPLE / name))).read()
    assert errors == []
    assert len(messages["session_mesgs"]) == 1


def test_regenerating_gives_byte_identical_files(tmp_path: Path) -> None:
    sdk = pytest.importorskip("garmin_fit_sdk")
    script = (SAMPLE / "generate.py").read_text(encoding="utf-8")
    pinned = re.search(r'^SDK_VERSION = "([^"]+)"', script, re.M)
    assert pinned is not None
    if sdk.__version__ != pinned.group(1):
        pytest.skip(f"files were made with garmin_fit_sdk {pinned.group(1)}, not {sdk.__version__}")
    subprocess.run(
        [sys.executable, str(SAMPLE / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted([*FIT_NAMES, "expected.json"])
    for name in made:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_expected_covers_every_file() -> None:
    files = expected()["files"]
    assert sorted(files) == FIT_NAMES
    for name, e in files.items():
        assert e["kind"] in ("run", "leg_strength", "strength", "ride"), name
        assert "flag" in e, name
        if e["kind"] == "run":
            assert e["intensity"] in ("easy", "moderate", "hard"), name
        if e["flag"] is not None:
            assert e["kind"] == "run"
            assert e["flag"]["severity"] in ("alert", "warning", "info")


def test_config_is_the_athlete_of_the_scenario() -> None:
    a = athlete()
    assert (a.name, a.timezone, a.max_hr, a.resting_hr, a.lthr) == (
        "Sam",
        "Europe/Berlin",
        190,
        50,
        170,
    )
    assert (a.sex, a.birth_year) == ("male", 1990)
    assert expected()["athlete"]["max_hr"] == a.max_hr


@pytest.mark.parametrize("name", FIT_NAMES)
def test_times_and_kinds_match_the_files(name: str) -> None:
    d, e = decode(name), expected()["files"][name]
    sport = (d.session["sport"], d.session["sub_sport"])
    kind_sport = {
        "run": "running",
        "ride": "cycling",
        "leg_strength": "training",
        "strength": "training",
    }
    assert sport[0] == kind_sport[e["kind"]]
    if e["kind"] in ("leg_strength", "strength"):
        assert sport[1] == "strength_training"
    start = _utc(d.session["start_time"])
    end = start + timedelta(seconds=d.session["total_elapsed_time"])
    assert start.strftime("%Y-%m-%dT%H:%M:%SZ") == e["start_utc"]
    assert end.strftime("%Y-%m-%dT%H:%M:%SZ") == e["end_utc"]
    local = start.astimezone(BERLIN)
    assert name.startswith(local.strftime("%Y-%m-%d-%H%M-"))
    # activity.local_timestamp carries the Berlin offset of that date, DST included.
    offset = d.activity["local_timestamp"] - d.activity["timestamp"]
    assert offset == timedelta(hours=2 if start < DST_END else 1)
    assert offset.total_seconds() == e["utc_offset_s"]


def _label(hr: list[int], a: AthleteSettings) -> str:
    assert a.max_hr is not None
    s = a.intensity
    avg = sum(hr) / len(hr) / a.max_hr
    z3 = sum(1 for h in hr if h >= 0.7 * a.max_hr) / len(hr)
    z4 = sum(1 for h in hr if h >= 0.8 * a.max_hr)
    if (
        z4 / 60 >= s.hard_z4plus_minutes
        or z4 / len(hr) >= s.hard_z4plus_share
        or avg >= s.hard_avg_pct_hrmax
    ):
        return "hard"
    if z3 >= s.moderate_z3plus_share or avg >= s.moderate_avg_pct_hrmax:
        return "moderate"
    return "easy"


@pytest.mark.parametrize("name", [n for n in FIT_NAMES if "-run-" in n])
def test_run_intensity_follows_from_heart_rate(name: str) -> None:
    d, e = decode(name), expected()["files"][name]
    assert _label(d.hr, athlete()) == e["intensity"]
    rpe = d.session.get("unknown_193")  # workout_rpe: too new for fitparse's profile
    if rpe is not None:
        assert (rpe / 10 >= athlete().intensity.hard_rpe) == (e["intensity"] == "hard")


def _category(s: dict[str, Any], steps: dict[int, dict[str, Any]]) -> str | None:
    """The set's first known category, else the category of its workout step."""
    raw = s.get("category")
    candidates = raw if isinstance(raw, tuple) else (raw,)
    for c in candidates:
        c = CATEGORY_NAMES.get(c, c) if isinstance(c, int) else c
        if c not in (None, "unknown"):
            return str(c)
    step = steps.get(s.get("wkt_step_index", -1))
    return None if step is None else step.get("exercise_category")


def _legs(name: str) -> tuple[bool, bool]:
    """(is a leg day, is heavy), from the decoded sets with legday's default thresholds."""
    d, c = decode(name), athlete().classification
    active = [s for s in d.sets if s["set_type"] == "active"]
    lower = [s for s in active if _category(s, d.steps) in LOWER]
    score = sum(0.8 if _category(s, d.steps) in ACCESSORY else 1.0 for s in lower)
    heavy = len(lower) >= c.heavy_min_lower_sets or any(
        s["weight"] > 0 and s["repetitions"] <= c.heavy_max_reps for s in lower
    )
    return score >= c.leg_score_threshold, heavy


@pytest.mark.parametrize("name", [n for n in FIT_NAMES if "-strength-" in n])
def test_strength_kind_follows_from_sets(name: str) -> None:
    is_leg, heavy = _legs(name)
    e = expected()["files"][name]
    assert is_leg == (e["kind"] == "leg_strength")
    assert heavy == e["heavy"]
    for s in decode(name).sets:
        if s["set_type"] == "rest":
            assert s.get("category") is None
            assert s.get("repetitions") is None


def test_flags_follow_from_the_files() -> None:
    r = athlete().recovery
    legs = []
    for name in FIT_NAMES:
        if "-strength-" in name and _legs(name)[0]:
            d = decode(name)
            end = _utc(d.session["start_time"]) + timedelta(seconds=d.session["total_elapsed_time"])
            legs.append((name, end, _legs(name)[1]))
    rank = {None: 0, "info": 1, "warning": 2, "alert": 3}
    for name in FIT_NAMES:
        e = expected()["files"][name]
        if e["kind"] != "run":
            assert e["flag"] is None
            continue
        start = _utc(decode(name).session["start_time"])
        hard, easy = e["intensity"] == "hard", e["intensity"] == "easy"
        best: tuple[str | None, float | None, str | None] = (None, None, None)
        for leg, end, heavy in legs:
            h = (start - end).total_seconds() / 3600
            if h < 0:
                continue
            sev = None
            if hard and h < r.alert_hours:
                sev = "alert"
            elif hard and (h < r.warning_hours or (heavy and h < r.heavy_warning_hours)):
                sev = "warning"
            elif easy and h < r.info_hours:
                sev = "info"
            if rank[sev] > rank[best[0]]:
                best = (sev, h, leg)
        got = e["flag"]
        assert (got["severity"] if got else None) == best[0], name
        if got:
            assert got["leg_file"] == best[2]
            assert got["hours_since_leg_end"] == pytest.approx(best[1], abs=0.01)


def test_scenario_has_every_case_the_rules_need() -> None:
    files = expected()["files"]
    flags = {n: e["flag"] for n, e in files.items() if e["flag"]}
    # Intervals the morning after an evening leg session: alert.
    assert any(
        "-run-intervals" in n and f["severity"] == "alert" and 10 <= f["hours_since_leg_end"] < 16
        for n, f in flags.items()
    )
    # An intense run 30-40 h after legs: warning; an easy run inside 48 h: info.
    assert any(
        f["severity"] == "warning" and 30 <= f["hours_since_leg_end"] <= 40 for f in flags.values()
    )
    assert any(f["severity"] == "info" for f in flags.values())
    # A warning only the 72 h heavy window explains.
    assert any(
        f["severity"] == "warning" and f["hours_since_leg_end"] >= 48 for f in flags.values()
    )
    # A hard run well outside every window.
    assert any(e.get("intensity") == "hard" and e["flag"] is None for e in files.values())
    assert {e.get("intensity") for e in files.values()} >= {"easy", "moderate", "hard"}
    assert {e["kind"] for e in files.values()} == {"run", "leg_strength", "strength", "ride"}
    # Saturday-evening legs, Sunday-morning hard run: summer time ends in between, so real
    # elapsed hours exceed wall-clock hours by one.
    sat = [n for n in files if n.startswith("2026-10-24-") and files[n]["kind"] == "leg_strength"]
    sun = [n for n in flags if n.startswith("2026-10-25-0")]
    assert sat and sun
    f = flags[sun[0]]
    assert f["leg_file"] == sat[0]
    assert f["hours_since_leg_end"] - f["wall_clock_hours"] == pytest.approx(1.0)


def test_strength_files_exercise_the_classifier() -> None:
    leg_press = [
        s
        for n in FIT_NAMES
        if "-strength-legs" in n
        for s in decode(n).sets
        if s.get("category") == "squat" and s.get("category_subtype") == 0
    ]
    assert len(leg_press) >= 3
    watch = decode("2026-10-28-1800-strength-legs-workout.fit")
    active = [s for s in watch.sets if s["set_type"] == "active"]
    all_unknown = [s for s in active if set(s["category"]) == {65534}]
    assert len(all_unknown) > len(active) / 2
    names = {st.get("wkt_step_name") for st in watch.steps.values()}
    assert {"Back Squat", "Romanian Deadlift"} <= names
    assert all(s.get("wkt_step_index") in watch.steps for s in active)


def test_readme_describes_every_file() -> None:
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    for name in FIT_NAMES:
        assert name in readme, name
