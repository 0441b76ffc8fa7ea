"""The leg fatigue curve and ``legday evidence`` wired to a real DuckDB store (issue 14):
pipeline.derive.fatigue_service over pipeline.store.fatigue_sql, and the CLI command.

Synthetic athletes are written through the store API (``Store.insert_frame`` into the core and
derived relations, the way ingest and refresh write them); the sample athlete goes through
``legday ingest``. Oracles are independent of the model's code: the literature's time courses
(docs/fatigue.md: a heavy 6 x 4 at 90 % is not ready at 48 h, a light 4 x 10 at 60 % is ready
within 48 h) and generated runs with a known built-in effect.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from pipeline.config import Settings, load_settings
from pipeline.derive import fatigue_service as fs
from pipeline.derive.evidence import evidence
from pipeline.derive.evidence_measures import run_measures
from pipeline.errors import ConfigError
from pipeline.store import fatigue_sql as fq
from pipeline.store.db import Store, open_store

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TS = pl.Datetime("us", "UTC")
ATHLETE = "me"


def _settings(db: Path, model: str = "windows") -> Settings:
    return Settings.model_validate(
        {
            "db_path": db,
            "default_athlete": ATHLETE,
            "athletes": {ATHLETE: {"recovery": {"model": model}}},
        }
    )


def _app() -> Any:
    # Imported by the CLI tests only: the store tests need no command line.
    from pipeline.cli.main import app

    return app


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "legday.toml"
    cfg.write_text(f'default_athlete = "{ATHLETE}"\n[athletes.{ATHLETE}]\n', encoding="utf-8")
    return cfg


class Writer:
    """Rows of synthetic activities for one athlete, written through ``Store.insert_frame``."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def add(self, table: str, **row: Any) -> None:
        self.rows.setdefault(table, []).append({"athlete_id": ATHLETE, **row})

    def activity(
        self, aid: str, start: datetime, end: datetime, kind: str, region: str | None = None
    ) -> None:
        self.add(
            "activities",
            activity_id=aid,
            file_sha256=f"sha-{aid}",
            session_index=0,
            sport="training" if kind != "run" else "running",
            start_utc=start,
            end_utc=end,
            summary_source="session",
            time_plausible=True,
        )
        self.add(
            "classifications",
            activity_id=aid,
            kind=kind,
            region=region,
            reason="synthetic",
            computed_utc=NOW,
        )

    def squat_session(
        self, aid: str, start: datetime, sets: int, reps: int, kg: float, *, unknown: bool = False
    ) -> datetime:
        t = start
        for i in range(sets):
            self.add(
                "strength_sets",
                activity_id=aid,
                set_index=2 * i,
                set_type="active",
                start_utc=t,
                duration_s=40.0,
                repetitions=reps,
                weight_kg=kg,
                category="unknown" if unknown else "squat",
                exercise_name=None if unknown else "barbell_back_squat",
            )
            t += timedelta(minutes=3)
        self.activity(aid, start, t, "leg_strength", "lower")
        return t

    def run(
        self, aid: str, start: datetime, speeds: list[float], hrs: list[float], **kw: Any
    ) -> None:
        t = start
        for i, (v, hr) in enumerate(zip(speeds, hrs, strict=True)):
            secs = 1000.0 / v
            self.add(
                "laps",
                activity_id=aid,
                lap_index=i,
                start_utc=t,
                timer_s=secs,
                distance_m=1000.0,
                avg_hr=round(hr),
            )
            t += timedelta(seconds=secs)
        self.activity(aid, start, t, "run")
        self.add(
            "session_metrics",
            activity_id=aid,
            intensity=kw.get("intensity", "easy"),
            computed_utc=NOW,
        )

    def write(self, store: Store) -> None:
        with store.transaction():
            for table, rows in self.rows.items():
                store.insert_frame(table, pl.DataFrame(rows, infer_schema_length=None))


def _store(db: Path, w: Writer) -> None:
    with open_store(db) as store:
        store.migrate(NOW)
        w.write(store)


# -- fatigue through the store -----------------------------------------------------------------


def _lifter(final: tuple[int, int, float]) -> tuple[Writer, datetime]:
    """Three weekly 5 x 5 at 100 kg sessions (an accustomed lifter, e1RM 116.7 kg), then a final
    session ``(sets, reps, kg)`` a week later. Returns the writer and the final session's end."""
    w = Writer()
    for week in range(3):
        w.squat_session(f"legs{week}", T0 + timedelta(weeks=week, hours=18), 5, 5, 100.0)
    end = w.squat_session("final", T0 + timedelta(weeks=3, hours=18), *final)
    return w, end


def _ready(tmp_path: Path, name: str, final: tuple[int, int, float]) -> tuple[Path, fs.LegsReady]:
    db = tmp_path / f"{name}.duckdb"
    w, end = _lifter(final)
    _store(db, w)
    with open_store(db) as store:
        ready = fs.refresh_fatigue(store, _settings(db), ATHLETE, end)
    return db, ready


def test_a_heavy_squat_session_keeps_the_legs_not_ready_longer_than_a_light_one(
    tmp_path: Path,
) -> None:
    heavy_db, heavy = _ready(tmp_path, "heavy", (6, 4, 105.0))  # 90 % of 116.7 kg
    light_db, light = _ready(tmp_path, "light", (4, 10, 70.0))  # 60 %
    assert heavy.ready_at_utc is not None and light.ready_at_utc is not None
    heavy_h = (heavy.ready_at_utc - heavy.as_of_utc).total_seconds() / 3600
    light_h = (light.ready_at_utc - light.as_of_utc).total_seconds() / 3600
    # T18/H20: a heavy session is still not recovered at 48 h; a light one is before that.
    assert heavy_h > 48 > light_h
    assert heavy.limiting_region is not None and heavy.limiting_region.value == "quadriceps"
    for db, state in ((heavy_db, heavy), (light_db, light)):
        with open_store(db, read_only=True) as store:
            row = fq.latest_legs_ready(store, ATHLETE)
            curve = fq.fatigue_curve(store, ATHLETE)
            doses = fq.fatigue_doses(store, ATHLETE)
        assert row is not None and row["ready_at_utc"] == state.ready_at_utc
        assert row["limiting_region"] == "quadriceps"
        assert doses.height == 5 * 3 + (6 if db == heavy_db else 4)
        # The stored curve reaches the ready instant, and is at the threshold there (+- 1 h).
        quads = curve.filter(pl.col("region") == "quadriceps")
        assert quads["time_utc"].max() >= state.ready_at_utc
        after = quads.filter(pl.col("time_utc") >= state.ready_at_utc)["fatigue"][0]
        before = quads.filter(pl.col("time_utc") < state.ready_at_utc)["fatigue"][-1]
        assert before > row["threshold"] >= after

    def quads_a_day_later(db: Path, state: fs.LegsReady) -> float:
        at = state.as_of_utc.replace(minute=0, second=0, microsecond=0) + timedelta(hours=24)
        with open_store(db, read_only=True) as store:
            curve = fq.fatigue_curve(store, ATHLETE, at, at)
        return float(curve.filter(pl.col("region") == "quadriceps")["fatigue"][0])

    assert quads_a_day_later(heavy_db, heavy) > 2 * quads_a_day_later(light_db, light)


def test_refresh_replaces_the_curve_and_keeps_one_ready_row_per_instant(tmp_path: Path) -> None:
    db, first = _ready(tmp_path, "twice", (6, 4, 105.0))
    later = first.as_of_utc + timedelta(days=5)
    with open_store(db) as store:
        again = fs.refresh_fatigue(store, _settings(db), ATHLETE, first.as_of_utc)
        done = fs.refresh_fatigue(store, _settings(db), ATHLETE, later)
        n_ready = store.scalar("SELECT count(*) FROM legs_ready WHERE athlete_id = ?", [ATHLETE])
        n_curve = store.scalar("SELECT count(*) FROM fatigue_curve WHERE athlete_id = ?", [ATHLETE])
    assert again.ready_at_utc == first.ready_at_utc
    assert done.ready and done.limiting_region is None  # 5 days after: every region is ready
    assert n_ready == 2
    # 14 days back to one hour ahead, hourly, three regions: the earlier curve was replaced.
    assert n_curve == 3 * (14 * 24 + 2)


def test_sets_nothing_identifies_count_as_the_sessions_possible_region(tmp_path: Path) -> None:
    db = tmp_path / "unknown.duckdb"
    w = Writer()
    end = w.squat_session("mystery", T0 + timedelta(hours=18), 8, 8, 80.0, unknown=True)
    _store(db, w)
    with open_store(db) as store:
        state = fs.refresh_fatigue(store, _settings(db), ATHLETE, end)
        doses = fq.fatigue_doses(store, ATHLETE)
    assert set(doses["via"].to_list()) == {"session"}
    assert state.levels[state.limiting_region] > 0.1  # type: ignore[index]


@pytest.mark.parametrize("final", [(6, 4, 105.0), (4, 10, 70.0)], ids=["heavy", "light"])
def test_fatigue_model_flags_a_hard_run_12_h_after_either_session(
    tmp_path: Path, final: tuple[int, int, float]
) -> None:
    db = tmp_path / "flags.duckdb"
    w, end = _lifter(final)
    w.run("hard-run", end + timedelta(hours=12), [4.0] * 6, [175.0] * 6, intensity="hard")
    w.run("easy-run", end + timedelta(hours=100), [3.0] * 6, [140.0] * 6, intensity="easy")
    _store(db, w)
    cfg = _settings(db, model="fatigue")
    assert cfg.athlete(ATHLETE).recovery.model == "fatigue"
    with open_store(db) as store:
        sessions = store.frame(
            "SELECT a.activity_id, a.start_utc, a.end_utc, c.kind, m.intensity FROM activities a "
            "JOIN classifications c USING (athlete_id, activity_id) "
            "LEFT JOIN session_metrics m USING (athlete_id, activity_id) ORDER BY a.start_utc"
        )
        flags = fs.fatigue_flags(store, cfg, ATHLETE, sessions)
    assert flags["run_activity_id"].to_list() == ["hard-run"]  # 100 h later: ready, no flag
    row = flags.row(0, named=True)
    assert row["leg_activity_id"] == "final"
    assert row["severity"] == ("alert" if final[2] > 100 else "warning")
    assert row["rule"] == f"fatigue_{row['severity']}"
    assert row["hours_between"] == pytest.approx(12.0)
    assert row["threshold_hours"] is None
    assert row["intense_ok_from_utc"] > row["run_start_utc"]


def test_a_fatigue_flag_names_the_session_that_left_the_most_fatigue(tmp_path: Path) -> None:
    db = tmp_path / "main.duckdb"
    w, end = _lifter((6, 4, 105.0))
    # Two days later an upper-body day that ends with one set of 5 hip raises, then a hard run:
    # the last set that loaded a leg region is the hip raise, but the quadriceps, still above
    # the threshold, owe it almost nothing.
    t = end + timedelta(hours=48)
    for i, (category, reps) in enumerate(
        [("bench_press", 8), ("bench_press", 8), ("hip_raise", 5)]
    ):
        w.add(
            "strength_sets",
            activity_id="upper",
            set_index=i,
            set_type="active",
            start_utc=t + timedelta(minutes=3 * i),
            duration_s=30.0,
            repetitions=reps,
            weight_kg=None,
            category=category,
            exercise_name=None,
        )
    w.activity("upper", t, t + timedelta(minutes=15), "strength", "upper")
    w.run("hard-run", t + timedelta(hours=12), [4.0] * 6, [175.0] * 6, intensity="hard")
    _store(db, w)
    with open_store(db) as store:
        sessions = store.frame(
            "SELECT a.activity_id, a.start_utc, a.end_utc, c.kind, m.intensity FROM activities a "
            "JOIN classifications c USING (athlete_id, activity_id) "
            "LEFT JOIN session_metrics m USING (athlete_id, activity_id) ORDER BY a.start_utc"
        )
        flags = fs.fatigue_flags(store, _settings(db, "fatigue"), ATHLETE, sessions)
    assert flags["run_activity_id"].to_list() == ["hard-run"]
    row = flags.row(0, named=True)
    assert row["leg_activity_id"] == "final"
    assert row["hours_between"] == pytest.approx(60.0, abs=0.5)
    assert "quadriceps" in row["message"]


def test_fatigue_settings_follow_the_athletes_config() -> None:
    cfg = Settings.model_validate(
        {"athletes": {"a": {"recovery": {"fatigue": {"tau_quadriceps_h": 20.0, "threshold": 0.2}}}}}
    )
    model = fs.fatigue_settings(cfg.athlete("a"))
    assert model.tau_quadriceps_h == 20.0 and model.threshold == 0.2
    assert model.alert_level == pytest.approx(max(np.exp(-24 / 20.0), 0.2))
    assert fs.fatigue_settings(Settings().athlete()).tau_calves_h == pytest.approx(48 / np.log(10))
    assert Settings().athlete().recovery.model == "windows"


# -- legday evidence -------------------------------------------------------------------------


def _history(w: Writer, seed: int, effect: float, weeks: int = 24) -> None:
    """One leg session a week (Monday 18:00-19:00), a run most mornings; within 48 h of legs the
    heart rate at a given speed is 1 / (1 - effect) higher (efficiency ``effect`` lower)."""
    rng = np.random.default_rng(seed)
    for week in range(weeks):
        monday = T0 + timedelta(weeks=week)
        leg_end = w.squat_session(f"legs{week}", monday + timedelta(hours=18), 5, 5, 100.0)
        for day in range(1, 7):
            if rng.random() < 0.1:
                continue
            start = monday + timedelta(days=day, hours=7, minutes=int(rng.integers(0, 60)))
            gap = (start - leg_end).total_seconds() / 3600.0
            speed = 3.0 * (1 + rng.normal(0, 0.03))
            factor = 1 / (1 - effect) if gap < 48 else 1.0
            day_hr = (60 + 30 * speed) * factor * (1 + rng.normal(0, 0.02))
            speeds = [speed * (1 + rng.normal(0, 0.01)) for _ in range(8)]
            hrs = [day_hr * (1 + 0.03 * (i >= 4)) * (1 + rng.normal(0, 0.01)) for i in range(8)]
            w.run(f"run{week}-{day}", start, speeds, hrs)


def _evidence(tmp_path: Path, db: Path, *args: str) -> Any:
    result = CliRunner().invoke(
        _app(), ["--db", str(db), "--config", str(_config(tmp_path)), "evidence", *args]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_evidence_finds_a_built_in_5_percent_effect(tmp_path: Path) -> None:
    db = tmp_path / "effect.duckdb"
    w = Writer()
    _history(w, seed=3, effect=0.05)
    _store(db, w)
    out = json.loads(_evidence(tmp_path, db, "--format", "json"))
    assert out["applied"] is False
    eff = {r["bucket"]: r for r in out["results"] if r["measure"] == "efficiency_m_per_beat"}
    for bucket in ("0-24 h", "24-48 h"):
        d = eff[bucket]["difference"]
        assert eff[bucket]["n"] >= 8 and eff[bucket]["verdict"] == "worse"
        assert d["high"] < 0 and -9 < d["estimate"] < -2  # about -5 %, interval excludes zero
    assert eff["48-72 h"]["verdict"] == "no clear difference"
    assert out["suggested_window_hours"] == 48
    table = _evidence(tmp_path, db)
    assert "0-24 h: n = " in table and "— worse" in table
    assert "48 h —" in table and "never applied" in table


def test_evidence_reads_heart_rate_samples_a_chunk_of_runs_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "samples.duckdb"
    w = Writer()
    _history(w, seed=7, effect=0.05, weeks=6)
    laps = pl.DataFrame(w.rows["laps"])
    drifting = sorted(set(laps["activity_id"]))[:10]
    for aid in drifting:  # 1 Hz samples: flat in the first half, 10 % higher in the second
        run = laps.filter(pl.col("activity_id") == aid)
        start, total = run["start_utc"][0], float(run["timer_s"].sum())
        for sec in range(int(total)):
            bpm = 150 if sec < total / 2 else 165
            w.add(
                "hr_samples",
                activity_id=aid,
                ts=start + timedelta(seconds=sec),
                bpm=bpm,
                source="record",
            )
        end = start + timedelta(seconds=int(total) - 1)
        w.add("hr_spans", activity_id=aid, first_utc=start, last_utc=end, samples=int(total))
    _store(db, w)
    monkeypatch.setattr(fs, "EVIDENCE_CHUNK", 3)
    with open_store(db, read_only=True) as store:
        wired = fs.evidence_for(store, _settings(db), ATHLETE)
        runs = fq.runs(store, ATHLETE)
        all_laps = fq.run_laps(store, ATHLETE)
        samples = fq.run_hr_samples(store, ATHLETE, drifting)
        legs = fq.leg_sessions(store, ATHLETE)
    assert samples.height > 10 * 2000
    easy = {str(a) for a in runs.filter(pl.col("intensity") == "easy")["activity_id"]}
    with_samples = run_measures(all_laps, samples, easy_ids=easy)
    without = run_measures(all_laps, None, easy_ids=easy)
    drift = with_samples.filter(pl.col("activity_id").is_in(drifting))["cardiac_drift_pct"]
    assert drift.min() > 5  # the samples' 10 % rise, not the laps' 3 %
    assert not with_samples.equals(without)
    assert wired == evidence(runs.select("activity_id", "start_utc"), with_samples, legs)


def test_evidence_without_an_effect_shows_no_interval_excluding_zero(tmp_path: Path) -> None:
    db = tmp_path / "none.duckdb"
    w = Writer()
    _history(w, seed=5, effect=0.0)
    _store(db, w)
    out = json.loads(_evidence(tmp_path, db, "--format", "json"))
    for r in out["results"]:
        d = r["difference"]
        assert d is None or d["low"] <= 0 <= d["high"], r
    assert out["suggested_window_hours"] is None


def test_evidence_on_the_short_sample_history_says_not_enough_data(
    tmp_path: Path, sample_dir: Path
) -> None:
    db = tmp_path / "sample.duckdb"
    cfg = sample_dir / "legday.toml"
    runner = CliRunner()
    ingest = runner.invoke(
        _app(),
        [
            "--db",
            str(db),
            "--config",
            str(cfg),
            "ingest",
            "--workers",
            "1",
            "--no-progress",
            str(sample_dir),
        ],
    )
    assert ingest.exit_code == 0, ingest.output
    result = runner.invoke(_app(), ["--db", str(db), "--config", str(cfg), "evidence"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " h: n = " in line]
    assert len(lines) == 9
    assert all(line.endswith("not enough data") for line in lines), result.output
    assert "[" not in "".join(lines)  # never a number without its interval, and no interval
    as_json = runner.invoke(
        _app(), ["--db", str(db), "--config", str(cfg), "evidence", "-f", "json"]
    )
    out = json.loads(as_json.output)
    assert out["runs_used"] + out["runs_without_prior_leg"] > 0  # the sample's runs were read
    assert {r["verdict"] for r in out["results"]} == {"not enough data"}


def test_evidence_refuses_an_unknown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["--db", str(tmp_path / "x.duckdb"), "evidence", "--format", "csv"]
    )
    assert result.exit_code == 2


def test_recovery_model_is_read_from_the_config_file_and_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "legday.toml"
    cfg.write_text(
        '[athletes.me.recovery]\nmodel = "fatigue"\n[athletes.me.recovery.fatigue]\ncurve_days = 7\n',
        encoding="utf-8",
    )
    loaded = load_settings(env={}, cwd=tmp_path, config=cfg).athlete("me").recovery
    assert loaded.model == "fatigue" and loaded.fatigue.curve_days == 7
    cfg.write_text('[athletes.me.recovery]\nmodel = "curve"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="model"):
        load_settings(env={}, cwd=tmp_path, config=cfg)
    cfg.write_text("[athletes.me.recovery.fatigue]\ntau_quads_h = 20\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="did you mean 'tau_quadriceps_h'"):
        load_settings(env={}, cwd=tmp_path, config=cfg)


def test_evidence_for_an_unknown_athlete_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    _store(db, Writer())
    result = CliRunner().invoke(
        _app(),
        ["--db", str(db), "--config", str(_config(tmp_path)), "evidence", "--athlete", "nobody"],
    )
    assert result.exit_code == 2
    assert "unknown athlete 'nobody'" in result.output
