"""Hostile and odd input: symlinks out of a folder, odd file names, queries that try to write,
an unwritable or full disk, and watch clocks that lie (future dates, relative times, bad offsets).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import garmin_fit_sdk
import pytest
from garmin_fit_sdk import Encoder, Profile

from pipeline.ingest import collect_files, ingest_files
from pipeline.store import db as stg
from tests.fuzzing import SAMPLE_DATA

ROOT = Path(__file__).resolve().parent.parent
CONFIG = SAMPLE_DATA / "legday.toml"
FITS = sorted(SAMPLE_DATA.glob("*.fit"))
MESG = {m["name"]: num for num, m in Profile["messages"].items()}


def legday(db: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "--config",
            str(CONFIG),
            "--db",
            str(db),
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def assert_clean_error(done: subprocess.CompletedProcess[str]) -> str:
    """Exit != 0, an ``error:`` message, no traceback; returns the message on one line."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("error:") == 1, done.stderr
    return " ".join(done.stderr.split())


# -- symlinks and names ----------------------------------------------------------------------


def test_symlinks_leaving_the_folder_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    shutil.copy(FITS[0], outside / "secret.fit")
    shutil.copy(FITS[1], outside / "deep" / "d.fit")
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(FITS[2], folder / "own.fit")
    (folder / "rel.fit").symlink_to("../outside/secret.fit")
    (folder / "abs.fit").symlink_to(outside / "secret.fit")
    (folder / "dirlink").symlink_to(outside / "deep")
    (folder / "inside.fit").symlink_to(folder / "own.fit")  # stays inside: harmless
    taken, skipped = collect_files([folder])
    resolved = {p.resolve() for p in taken}
    assert (outside / "secret.fit").resolve() not in resolved
    assert (outside / "deep" / "d.fit").resolve() not in resolved
    assert resolved == {(folder / "own.fit").resolve()}
    assert {p.name for p in skipped} >= {"rel.fit", "abs.fit"}

    done = legday(tmp_path / "legday.duckdb", "ingest", str(folder), "--no-progress")
    assert done.returncode == 0, done.stderr
    with stg.open_store(tmp_path / "legday.duckdb", read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM activities") == 1


ODD_NAMES = [
    "morning run.fit",
    "läuft – über den Berg 🏃.fit",
    "-rf.fit",
    "--help.fit",
    "a'b\"c;$(touch PWNED).fit",
    "x" * 246 + ".fit",  # 250 bytes
    "é" * 124 + ".fit",  # 252 bytes of UTF-8
]


def test_odd_file_names_work_through_the_cli(tmp_path: Path) -> None:
    folder = tmp_path / "odd names"
    folder.mkdir()
    for name, src in zip(ODD_NAMES, FITS, strict=False):
        assert len(name.encode()) <= 255
        shutil.copy(src, folder / name)
    db = tmp_path / "legday.duckdb"
    done = legday(db, "ingest", str(folder), "--no-progress")
    assert done.returncode == 0, done.stderr
    # Named one by one too: "-rf.fit" after "--" is a file, not an option.
    done = legday(db, "ingest", "--no-progress", "--", "-rf.fit", "--help.fit", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert not (folder / "PWNED").exists() and not (ROOT / "PWNED").exists()
    with stg.open_store(db, read_only=True) as s:
        names = {r[0] for r in s.rows("SELECT original_name FROM files WHERE status = 'stored'")}
        paths = {r[0] for r in s.rows("SELECT path FROM file_sightings")}
    assert names == set(ODD_NAMES)
    assert {str(folder / n) for n in ODD_NAMES} <= paths
    assert sorted(p.name for p in folder.iterdir()) == sorted(ODD_NAMES)


# -- read-only queries -----------------------------------------------------------------------

WRITES = [
    "INSERT INTO files SELECT * FROM files",
    "DELETE FROM files",
    "UPDATE activities SET sport = 'x'",
    "DROP TABLE files",
    "CREATE TABLE t AS SELECT 1",
    "COPY files TO '{tmp}/copy.csv'",
    "COPY (SELECT 1) TO '{tmp}/copy.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{tmp}/export'",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "SET enable_external_access = true",
    "RESET enable_external_access",
    "SET lock_configuration = false",
    "PRAGMA enable_profiling = 'json'",
    "SET profiling_output = '{tmp}/profile.json'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
    "INSTALL httpfs",
    "LOAD httpfs",
    "CALL enable_logging()",
    "SELECT 1; DELETE FROM files",
]


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("store") / "legday.duckdb"
    ingest_files(db, [(FITS[0], "sam")], now=datetime.now(UTC))
    return db


def query_in_process(db: Path, sql: str) -> subprocess.CompletedProcess[str]:
    """``legday query`` through typer's runner: the same command, without a process start."""
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    res = CliRunner().invoke(app, ["--config", str(CONFIG), "--db", str(db), "query", sql])
    tb = "Traceback" if res.exception and not isinstance(res.exception, SystemExit) else ""
    return subprocess.CompletedProcess([], res.exit_code, res.stdout, res.stderr + tb)


@pytest.mark.parametrize("sql", WRITES)
def test_query_cannot_write_to_the_store_or_the_disk(
    sql: str, small_store: Path, tmp_path: Path
) -> None:
    before = hashlib.sha256(small_store.read_bytes()).hexdigest()
    around = sorted(p.name for p in small_store.parent.iterdir())
    run = legday if sql in WRITES[:2] else query_in_process  # two through a real process
    done = (
        run(small_store, "query", sql.format(tmp=tmp_path))
        if run is legday
        else run(small_store, sql.format(tmp=tmp_path))
    )
    message = assert_clean_error(done)
    assert "read-only" in message or "query failed" in message
    assert hashlib.sha256(small_store.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in small_store.parent.iterdir()) == around
    assert list(tmp_path.iterdir()) == []
    assert "root:" not in done.stdout


# -- unwritable and full disks -----------------------------------------------------------------


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Any]:
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        point = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}): needs root")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_store_path_that_cannot_be_created_gives_a_clear_error(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(FITS[0], inputs / "a.fit")
    before = digest(inputs)
    blocker = tmp_path / "not a folder"
    blocker.write_text("a file where the store's folder should be")
    done = legday(blocker / "legday.duckdb", "ingest", str(inputs), "--no-progress")
    assert "store" in assert_clean_error(done)
    assert digest(inputs) == before


def test_a_read_only_store_folder_gives_a_clear_error(tmp_path: Path, mount_tmpfs: Any) -> None:
    folder = mount_tmpfs("ro,size=1M")  # chmod would not stop root: a read-only mount does
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(FITS[0], inputs / "a.fit")
    before = digest(inputs)
    done = legday(folder / "legday.duckdb", "ingest", str(inputs), "--no-progress")
    message = assert_clean_error(done)
    assert "Read-only file system" in message or "cannot" in message
    assert digest(inputs) == before


def test_a_full_disk_gives_a_clear_error_and_loses_nothing(
    tmp_path: Path, mount_tmpfs: Any
) -> None:
    folder = mount_tmpfs("size=1M")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for p in FITS:
        shutil.copy(p, inputs / p.name)
    before = digest(inputs)
    done = legday(folder / "legday.duckdb", "ingest", str(inputs), "--no-progress")
    message = assert_clean_error(done)
    assert "full" in message or "No space left" in message
    assert digest(inputs) == before
    # The same inputs, with room: everything is there.
    ok = legday(tmp_path / "roomy.duckdb", "ingest", str(inputs), "--no-progress")
    assert ok.returncode == 0, ok.stderr
    with stg.open_store(tmp_path / "roomy.duckdb", read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM files WHERE status = 'stored'") == len(FITS)


def test_errors_are_one_line_whatever_the_width(tmp_path: Path) -> None:
    blocker = tmp_path / "not a folder"
    blocker.write_text("x")
    done = legday(blocker / ("long-" * 20 + "legday.duckdb"), "ingest", str(FITS[0]))
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


# -- lying clocks ------------------------------------------------------------------------------


def fit_ts(dt: datetime) -> int:
    return int(dt.timestamp()) - garmin_fit_sdk.FIT_EPOCH_S


def craft(
    start: datetime | int, *, offset_s: int = 3600, minutes: int = 30, serial: int = 1
) -> bytes:
    """A small run: ``start`` is a UTC datetime, or a raw FIT value (below 0x10000000: relative)."""
    enc = Encoder()

    def w(mesg: str, **fields: Any) -> None:
        enc.write_mesg({"mesg_num": MESG[mesg], **fields})

    t0 = start if isinstance(start, int) else fit_ts(start)
    end = t0 + minutes * 60
    w("file_id", type="activity", manufacturer="garmin", product=4315, serial_number=serial,
      time_created=t0)  # fmt: skip
    for i in range(0, minutes * 60, 10):
        w("record", timestamp=t0 + i, heart_rate=140, distance=float(i * 3))
    common = {"timestamp": end, "start_time": t0, "total_elapsed_time": minutes * 60.0,
              "total_timer_time": minutes * 60.0}  # fmt: skip
    w("lap", **common)
    w("session", **common, sport="running", sub_sport="generic", total_distance=5000.0,
      avg_heart_rate=140, max_heart_rate=150, first_lap_index=0, num_laps=1)  # fmt: skip
    w("activity", timestamp=end, total_timer_time=minutes * 60.0, num_sessions=1, type="manual",
      event="activity", event_type="stop", local_timestamp=end + offset_s)  # fmt: skip
    return bytes(enc.close())


def report_json(db: Path, day: str, tmp_path: Path) -> dict[str, Any]:
    done = legday(db, "report", "--date", day, "--format", "json", "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_lying_clocks_give_warnings_not_wrong_days(tmp_path: Path) -> None:
    folder = tmp_path / "clocks"
    folder.mkdir()
    future = datetime.now(UTC).replace(microsecond=0) + timedelta(days=400)
    files = {
        "future.fit": craft(future, serial=1),
        # 23:30 UTC is 00:30/01:30 the next day in Berlin; the bogus offset (-10 h, +7 s) would
        # put it on the day before.
        "bad-offset.fit": craft(
            datetime(2026, 3, 10, 23, 30, tzinfo=UTC), offset_s=-36007, serial=2
        ),
        "relative.fit": craft(1000, serial=3),  # seconds since power-on, nothing to anchor them
        "sound.fit": craft(datetime(2026, 3, 12, 7, 0, tzinfo=UTC), serial=4),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    db = tmp_path / "legday.duckdb"
    done = legday(db, "ingest", str(folder), "--no-progress")
    assert done.returncode == 0, done.stderr
    with stg.open_store(db, read_only=True) as s:
        rows = {
            r[0]: r[1:]
            for r in s.rows(
                "SELECT original_name, status, reason_code, [w.code for w in warnings], utc_offset_s "
                "FROM files"
            )
        }
        acts = {
            r[0]: r[1:]
            for r in s.rows(
                "SELECT f.original_name, a.activity_id, a.time_plausible FROM activities a "
                "JOIN files f ON f.sha256 = a.file_sha256"
            )
        }
    assert set(rows) == set(files)  # every file is kept, none lost
    assert rows["future.fit"][0] == "stored" and "implausible_timestamp" in rows["future.fit"][2]
    assert acts["future.fit"][1] is False
    assert rows["bad-offset.fit"][2] == ["bad_utc_offset"] and rows["bad-offset.fit"][3] is None
    assert rows["relative.fit"][:2] == ("quarantined", "relative_timestamps_unanchored")
    assert "relative.fit" not in acts
    assert rows["sound.fit"][:3] == ("stored", None, [])

    text = json.dumps(report_json(db, future.astimezone().date().isoformat(), tmp_path))
    assert acts["future.fit"][0] not in text  # not put on its (future) day
    right = json.dumps(report_json(db, "2026-03-11", tmp_path))  # Berlin: 00:30 on the 11th
    wrong = json.dumps(report_json(db, "2026-03-10", tmp_path))
    assert acts["bad-offset.fit"][0] in right
    assert acts["bad-offset.fit"][0] not in wrong
