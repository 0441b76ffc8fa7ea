"""Crash safety: SIGKILL an ingest (or a refresh), restart, and compare the store with a clean
run of the same files: same rows, no duplicate, no half-written activity, inputs untouched.

The default suite kills at chosen points (inside each kind of transaction, and between them);
the ``slow`` test adds 60 kills at random times through the CLI.

The kill hits the whole process group (the CLI and its parser processes), like a power cut or an
OOM kill. Between kills the store is checked too: every committed file has all its rows.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.store import db as stg
from tests.fuzzing import SAMPLE_DATA, make_cases

ROOT = Path(__file__).resolve().parent.parent
LEGDAY = [sys.executable, "-m", "pipeline.cli"]
CONFIG = SAMPLE_DATA / "legday.toml"

#: Columns that say when, not what: they differ between any two runs.
VOLATILE = {
    "files": ("first_seen_utc",),
    "file_sightings": ("seen_utc",),
    "classifications": ("computed_utc",),
    "session_metrics": ("computed_utc",),
    "recovery_flags": ("computed_utc",),
}
INGEST_TABLES = (
    "files",
    "file_sightings",
    "activities",
    "laps",
    "hr_samples",
    "strength_sets",
    "workout_steps",
)
DERIVED_TABLES = ("classifications", "session_metrics", "recovery_flags")


def legday(db: Path, *args: str, **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*LEGDAY, "--config", str(CONFIG), "--db", str(db), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so the kill takes the workers too
        **kw,
    )


def run_ok(db: Path, *args: str, timeout: float = 120) -> None:
    proc = legday(db, *args)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (args, out.decode()[-2000:], err.decode()[-2000:])


def snapshot(db: Path, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables`` without the timestamps of the run, as sorted lists (multisets)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with stg.open_store(db, read_only=True) as s:
        for t in tables:
            drop = VOLATILE.get(t, ())
            cols = "*" + (f" EXCLUDE ({', '.join(drop)})" if drop else "")
            out[t] = sorted(s.rows(f"SELECT {cols} FROM {t}"), key=repr)
    return out


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_consistent(db: Path, clean: dict[str, list[tuple[Any, ...]]]) -> None:
    """A store caught between kills: whatever is committed is whole and is the clean run's."""
    if not db.exists():
        return
    with stg.open_store(db, read_only=True, timeout_s=30) as s:
        if not s.schema_version():
            return
        per_file = s.rows(
            "SELECT f.sha256, f.n_activities, count(a.activity_id) FROM files f "
            "LEFT JOIN activities a ON a.file_sha256 = f.sha256 AND a.athlete_id = f.athlete_id "
            "WHERE f.status IN ('stored', 'partial') GROUP BY ALL"
        )
        assert all(n == got for _sha, n, got in per_file), per_file
        dup = s.rows("SELECT sha256, count(*) FROM files GROUP BY ALL HAVING count(*) > 1")
        assert dup == []
        hr = dict(s.rows("SELECT activity_id, count(*) FROM hr_samples GROUP BY ALL"))
        sets = dict(s.rows("SELECT activity_id, count(*) FROM strength_sets GROUP BY ALL"))
    clean_hr: dict[str, int] = {}
    for row in clean["hr_samples"]:
        clean_hr[row[1]] = clean_hr.get(row[1], 0) + 1
    clean_sets: dict[str, int] = {}
    for row in clean["strength_sets"]:
        clean_sets[row[1]] = clean_sets.get(row[1], 0) + 1
    for aid, n in hr.items():
        assert n == clean_hr.get(aid), (
            f"activity {aid}: {n} HR samples, clean run has {clean_hr.get(aid)}"
        )
    for aid, n in sets.items():
        assert n == clean_sets.get(aid), aid


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """21 files: 12 sample files, damaged copies (partial, quarantined) and a same-bytes copy."""
    folder = tmp_path_factory.mktemp("inputs") / "watch export"
    (folder / "nested").mkdir(parents=True)
    for p in sorted(SAMPLE_DATA.glob("*.fit"))[:12]:
        (folder / p.name).write_bytes(p.read_bytes())
    for case in make_cases(sorted(SAMPLE_DATA.glob("*.fit"))[:6], 8, 99):
        (folder / "nested" / case.name).write_bytes(case.data)
    first = sorted(SAMPLE_DATA.glob("*.fit"))[0]
    (folder / "nested" / f"copy of {first.name}").write_bytes(first.read_bytes())
    for p in folder.rglob("*"):
        if p.is_file():
            p.chmod(0o444)  # inputs must not be touched: the kernel says so too
    return folder


@pytest.fixture(scope="module")
def clean(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("clean") / "legday.duckdb"
    started = time.monotonic()
    run_ok(db, "ingest", str(inputs), "--no-progress", "--workers", "2")
    took = time.monotonic() - started
    snap = snapshot(db, INGEST_TABLES + DERIVED_TABLES)
    assert len(snap["activities"]) >= 12 and snap["hr_samples"] and snap["classifications"]
    return {"db": db, "seconds": took, "snap": snap}


def kill_and_restart(
    inputs: Path, db: Path, clean: dict[str, Any], kills: int, rng: random.Random, rounds: int
) -> list[float]:
    """``kills`` SIGKILLs spread over ``rounds`` fresh stores; returns the kill times."""
    before = digest(inputs)
    at: list[float] = []
    per_round = max(1, kills // rounds)
    for k in range(kills):
        if k % per_round == 0:  # a fresh store now and then, so kills land early in an ingest too
            for p in db.parent.glob(db.name + "*"):
                p.unlink()
        proc = legday(db, "ingest", str(inputs), "--no-progress", "--workers", "2")
        delay = rng.uniform(0.3, clean["seconds"] * 1.1)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
        proc.stdout.close() if proc.stdout else None
        proc.stderr.close() if proc.stderr else None
        at.append(round(delay, 2))
        assert_consistent(db, clean["snap"])
        if (k + 1) % per_round == 0 or k == kills - 1:
            run_ok(db, "ingest", str(inputs), "--no-progress", "--workers", "2")
            got = snapshot(db, INGEST_TABLES)
            for table in INGEST_TABLES:
                assert got[table] == clean["snap"][table], f"{table} differs from a clean ingest"
    assert digest(inputs) == before, "an input file was changed, moved or removed"
    return at


#: An ingest in a child process that SIGKILLs its own process group (itself and its parser
#: processes) at the ``n``-th call of a chosen point: inside a transaction of the plan's
#: sightings, of a batch's ``files`` rows, of a bulk insert, or just after an outcome was committed.
KILL_AT_A_CHOSEN_POINT = """
import os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from pipeline.config import load_settings
from pipeline.ingest import ingest_paths
from pipeline.store import db, ingest_sql

db_path, config, where, n, inputs = sys.argv[1:6]
calls = 0

def hit(*_args):
    global calls
    calls += 1
    if calls == int(n):
        os.killpg(0, signal.SIGKILL)

def before(owner, name):
    real = getattr(owner, name)
    def hooked(*a, **k):
        hit()
        return real(*a, **k)
    setattr(owner, name, hooked)

if where == "sightings":
    before(ingest_sql, "record_sightings")
elif where == "file_row":
    before(ingest_sql, "insert_file_rows")
elif where == "frame":
    before(db.Store, "insert_frame")
settings = load_settings(env={}, cwd=Path.cwd(), config=Path(config), db=Path(db_path))
ingest_paths(settings, [Path(inputs)], now=datetime.now(UTC), workers=2,
             on_progress=hit if where == "committed" else None)
"""

#: (point, n): a fresh store first, then kills that land later and later in the work.
CHOSEN_KILLS = [
    ("sightings", 1),  # the plan's first transaction, right after the migrations
    ("file_row", 1),  # inside the writer's first batch, before its files rows (one insert)
    ("frame", 4),  # inside a batch, between the bulk inserts of its tables
    ("file_row", 2),  # inside a later batch (a second copy of a recording starts one)
    ("committed", 3),  # just after a batch was committed, before the derived tables
]


def test_ingest_killed_at_chosen_points_ends_equal_to_a_clean_ingest(
    inputs: Path, clean: dict[str, Any], tmp_path: Path
) -> None:
    db = tmp_path / "legday.duckdb"
    before = digest(inputs)
    for where, n in CHOSEN_KILLS:
        proc = subprocess.run(
            [sys.executable, "-c", KILL_AT_A_CHOSEN_POINT, str(db), str(CONFIG), where, str(n),
             str(inputs)],
            cwd=ROOT, capture_output=True, start_new_session=True, timeout=120,
        )  # fmt: skip
        # Each point is reached: the run was killed there, not finished.
        assert proc.returncode == -signal.SIGKILL, (where, n, proc.stderr.decode()[-2000:])
        assert_consistent(db, clean["snap"])
    run_ok(db, "ingest", str(inputs), "--no-progress", "--workers", "2")
    got = snapshot(db, INGEST_TABLES + DERIVED_TABLES)
    for table in INGEST_TABLES + DERIVED_TABLES:
        assert got[table] == clean["snap"][table], f"{table} differs from a clean ingest"
    assert digest(inputs) == before, "an input file was changed, moved or removed"


@pytest.mark.slow
def test_ingest_killed_60_times_ends_equal_to_a_clean_ingest(
    inputs: Path, clean: dict[str, Any], tmp_path: Path
) -> None:
    kill_and_restart(inputs, tmp_path / "legday.duckdb", clean, 60, random.Random(60), rounds=12)


def test_a_restart_after_a_kill_before_the_refresh_completes_the_derived_rows(
    inputs: Path, clean: dict[str, Any], tmp_path: Path
) -> None:
    """The crash window made deterministic: files written (library ingest), no refresh."""
    from datetime import UTC, datetime

    from pipeline.ingest import collect_files, ingest_files

    db = tmp_path / "legday.duckdb"
    files, _skipped = collect_files([inputs])
    ingest_files(db, [(f, "sam") for f in files], now=datetime.now(UTC), workers=1)
    assert snapshot(db, INGEST_TABLES) == {t: clean["snap"][t] for t in INGEST_TABLES}
    run_ok(db, "ingest", str(inputs), "--no-progress")
    assert snapshot(db, DERIVED_TABLES) == {t: clean["snap"][t] for t in DERIVED_TABLES}


def test_refresh_killed_midway_is_redone_whole(
    inputs: Path, clean: dict[str, Any], tmp_path: Path
) -> None:
    """``legday reclassify`` (``analysis.refresh_store(full=True)``) killed, then run again."""
    db = tmp_path / "legday.duckdb"
    for p in clean["db"].parent.glob(clean["db"].name + "*"):
        if not p.name.endswith(".lock"):
            (tmp_path / p.name).write_bytes(p.read_bytes())
    started = time.monotonic()
    run_ok(db, "reclassify")
    took = time.monotonic() - started
    rng = random.Random(7)
    for _ in range(5):
        proc = legday(db, "reclassify")
        try:
            proc.wait(timeout=rng.uniform(0.5, took))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.communicate()
        got = snapshot(db, INGEST_TABLES + DERIVED_TABLES)
        for table in INGEST_TABLES:
            assert got[table] == clean["snap"][table], table
        # One transaction per athlete: the derived rows are the old set or the new, never a mix.
        for table in DERIVED_TABLES:
            assert got[table] == clean["snap"][table], table
    run_ok(db, "reclassify")
    assert snapshot(db, DERIVED_TABLES) == {t: clean["snap"][t] for t in DERIVED_TABLES}
