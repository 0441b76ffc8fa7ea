"""The DuckDB store: migrations, read-only queries, waiting for a busy file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.errors import ReadOnlyQueryError, SchemaError, StoreBusy
from pipeline.store.db import open_store
from pipeline.store.migrate import MIGRATIONS
from tests.helpers import NOW


def test_migrations_are_applied_once_and_recorded(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with open_store(db) as s:
        assert s.migrate(NOW) == [m.version for m in MIGRATIONS]
        assert s.migrate(NOW) == []
        recorded = s.rows("SELECT version, name FROM schema_migrations ORDER BY version")
    assert recorded == [(m.version, m.name) for m in MIGRATIONS]
    with open_store(db) as s:
        assert s.schema_version() == len(MIGRATIONS)
        tables = {r[0] for r in s.rows("SELECT table_name FROM information_schema.tables")}
    assert {
        "files",
        "activities",
        "laps",
        "hr_samples",
        "strength_sets",
        "recovery_flags",
    } <= tables


def test_a_store_from_a_newer_legday_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with open_store(db) as s:
        s.migrate(NOW)
        s.con.execute("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    with open_store(db) as s, pytest.raises(SchemaError, match="newer"):
        s.migrate(NOW)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO labels VALUES ('a', 'b', 'run', NULL, now())",
        "DELETE FROM files",
        "DROP TABLE files",
        "CREATE TABLE x (a INT)",
        "COPY files TO '{out}'",
        "SET enable_external_access = true",
        "SELECT * FROM read_csv('/etc/passwd')",
        "ATTACH '{out}.db' AS other",
    ],
)
def test_user_queries_cannot_write(tmp_path: Path, sql: str) -> None:
    db = tmp_path / "s.duckdb"
    with open_store(db) as s:
        s.migrate(NOW)
    before = db.read_bytes()
    out = tmp_path / "leak.csv"
    with open_store(db, read_only=True) as s, pytest.raises(ReadOnlyQueryError):
        s.user_query(sql.format(out=out))
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s.duckdb", "s.duckdb.lock"])


HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipeline.store.db import open_store
    with open_store(Path(sys.argv[1])) as s:
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold(db: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def test_reader_waits_with_a_message_while_a_writer_holds_the_file(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with open_store(db) as s:
        s.migrate(NOW)
    proc = _hold(db, 1.5)
    messages: list[str] = []
    t0 = time.monotonic()
    with open_store(db, read_only=True, timeout_s=30, on_wait=messages.append) as s:
        assert s.scalar("SELECT count(*) FROM files") == 0
    assert time.monotonic() - t0 > 0.5
    assert messages and "waiting" in messages[0]
    proc.wait(10)


def test_second_writer_waits_then_gives_up_with_a_retryable_error(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with open_store(db) as s:
        s.migrate(NOW)
    proc = _hold(db, 3)
    with pytest.raises(StoreBusy) as info, open_store(db, timeout_s=0.5):
        pass
    assert info.value.retryable
    proc.wait(10)
    with open_store(db, timeout_s=5) as s:  # free again
        assert s.schema_version() == len(MIGRATIONS)
