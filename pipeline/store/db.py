"""The DuckDB store: the only module that imports duckdb.

What it promises:
- one DuckDB file; schema from the numbered migrations in ``migrations/`` (see ``migrations.py``);
- writers are serialized across processes by a lock file beside the database and hold their
  connection briefly, so readers (``legday query``, reports) get in between;
- readers and writers that find the file held by another process wait, telling the caller through
  ``on_wait``, and give up with ``StoreBusy`` only after ``timeout_s``;
- each file is written in one transaction: all of its rows or none;
- read-only connections cannot write to the store nor touch the disk (external access disabled).

Every connection runs with ``TimeZone='UTC'``: local days are computed by the caller from the
athlete's zone, never from the server's.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from filelock import FileLock, Timeout

from pipeline.errors import (
    ReadOnlyQueryError,
    SchemaError,
    StorageError,
    StoreBusy,
    StoreUnavailable,
)
from pipeline.store.migrate import MIGRATIONS

WaitCallback = Callable[[str], None]

WRITER_MEMORY_LIMIT = "128MB"
#: Readers too: a report's "what your runs say" reads years of heart rate a chunk at a time, and
#: DuckDB's default cache (80 % of RAM) would keep every page it read. Larger queries spill.
READER_MEMORY_LIMIT = "128MB"

_LOCK_MARKERS = (
    "Could not set lock",
    "Conflicting lock",
    "database is locked",
    # This process holds the file with the other mode (a writer while a reader opens, as when
    # `serve` files away and reads in one process): it is released in a moment, like a lock.
    "different configuration than existing connections",
)


def _is_lock_error(exc: BaseException) -> bool:
    return any(m in str(exc) for m in _LOCK_MARKERS)


def _connect(
    path: Path, *, read_only: bool, timeout_s: float, on_wait: WaitCallback | None
) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {}
    if read_only:
        config["enable_external_access"] = False
        config["memory_limit"] = READER_MEMORY_LIMIT
    else:
        # The writer runs beside the parser processes during a backfill; DuckDB's default cache
        # (80 % of RAM) would let it grow far past what the inserts need.
        config["memory_limit"] = WRITER_MEMORY_LIMIT
        config["threads"] = 1
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    told = False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            con.execute("SET TimeZone = 'UTC'")
            if read_only:
                # Locked after the zone is set, so a person's query cannot re-enable file access.
                con.execute("SET lock_configuration = true")
            return con
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_error(exc):
                raise StoreUnavailable(f"cannot open the store {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"the store {path} is held by another legday process (an ingest or nightly "
                    f"run) for more than {timeout_s:.0f} s; try again when it has finished"
                ) from exc
            if on_wait is not None and not told:
                on_wait(f"waiting for the store {path.name}: another legday process is writing…")
                told = True
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        except duckdb.Error as exc:
            raise StoreUnavailable(f"cannot open the store {path}: {exc}") from exc


class Store:
    """A connection to the store plus the queries legday needs. Use ``open_store``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only

    # -- generic helpers -------------------------------------------------------------------
    def frame(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run a query and return a polars frame (timestamps as UTC)."""
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        return rel.pl()

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        # fetchall, not fetchone: DuckDB 2 results stream and would keep the connection busy.
        rows = self.con.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    def insert_frame(self, table: str, df: pl.DataFrame, *, or_ignore: bool = False) -> None:
        """Append a frame to a table by column name (one bulk insert).

        ``or_ignore`` skips rows whose key is already there.
        """
        if df.height == 0:
            return
        cols = ", ".join(f'"{c}"' for c in df.columns)
        verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
        self.con.register("_legday_insert", df.to_arrow())
        try:
            self.con.execute(f"{verb} INTO {table} ({cols}) SELECT {cols} FROM _legday_insert")
        finally:
            self.con.unregister("_legday_insert")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    def user_query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a person's query on a read-only connection; returns column names and rows."""
        if not self.read_only:
            raise ReadOnlyQueryError("user queries must run on a read-only connection")
        # Refusals can come when the statement is prepared or only when it runs (streaming).
        try:
            rel = self.con.sql(sql)
            return ([], []) if rel is None else (list(rel.columns), rel.fetchall())
        except (duckdb.InvalidInputException, duckdb.PermissionException) as exc:
            raise ReadOnlyQueryError(
                f"legday query is read-only: it cannot change the store or write files ({exc})"
            ) from exc
        except duckdb.CatalogException as exc:
            raise StorageError(self._catalog_message(exc)) from exc
        except duckdb.Error as exc:
            raise StorageError(f"query failed: {_first_line(exc)}") from exc

    def relations(self) -> list[str]:
        """legday's tables and views (what a person's query can read)."""
        return [
            str(r[0])
            for r in self.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_name <> 'schema_migrations' ORDER BY 1"
            )
        ]

    def _catalog_message(self, exc: duckdb.Error) -> str:
        """A missing table named with legday's own relations (DuckDB suggests its internal
        catalogue, ``sqlite_temp_master``, when no name is close)."""
        found = re.search(r"with name (\S+) does not exist", str(exc))
        if found is None:
            return f"query failed: {_first_line(exc)}"
        name = found.group(1).strip("\"'")
        known = self.relations()
        close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return (
            f"query failed: no table or view named {name!r} in the store; {hint}"
            f"legday's relations: {', '.join(known)}"
        )

    # -- schema ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        if not exists:
            return 0
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    def migrate(self, now_utc: Any) -> list[int]:
        """Apply pending migrations, each in its own transaction; returns the versions applied."""
        current = self.schema_version()
        latest = MIGRATIONS[-1].version if MIGRATIONS else 0
        if current > latest:
            raise SchemaError(
                f"the store {self.path} has schema version {current}, newer than this legday "
                f"({latest}); upgrade legday"
            )
        applied = []
        for mig in MIGRATIONS:
            if mig.version <= current:
                continue
            with self.transaction():
                if mig.version == 1:
                    self.con.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                        "applied_utc TIMESTAMPTZ NOT NULL)"
                    )
                self.con.execute(mig.sql)
                self.con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [mig.version, mig.name, now_utc],
                )
            applied.append(mig.version)
        return applied

    def close(self) -> None:
        self.con.close()


def _first_line(exc: BaseException) -> str:
    """DuckDB's message on one line, without the ``LINE 1: ...`` context that follows it."""
    text = str(exc).strip().split("\n\n", 1)[0]
    lines = [line.strip() for line in text.splitlines() if not line.startswith("LINE ")]
    return " ".join(line for line in lines if line) or type(exc).__name__


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


@contextmanager
def open_store(
    db_path: Path,
    *,
    read_only: bool = False,
    timeout_s: float = 30.0,
    on_wait: WaitCallback | None = None,
) -> Iterator[Store]:
    """Open the store; writers take the cross-process writer lock first.

    A read-only open of a store that does not exist yet raises ``StoreUnavailable`` with a hint
    to ingest first. Writers create the folder and apply pending migrations; ``migrate`` is cheap
    when nothing is pending.
    """
    db_path = Path(db_path)
    if read_only:
        if not db_path.exists():
            raise StoreUnavailable(
                f"no store at {db_path} yet: run `legday ingest PATH` first (or pass --db)"
            )
        con = _connect(db_path, read_only=True, timeout_s=timeout_s, on_wait=on_wait)
        store = Store(con, db_path, read_only=True)
        try:
            yield store
        finally:
            store.close()
        return
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(f"cannot create the folder of the store {db_path}: {exc}") from exc
    lock = FileLock(str(lock_path(db_path)))
    deadline = time.monotonic() + timeout_s
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(f"waiting for the store {db_path.name}: another legday process is writing…")
        try:
            lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
        except Timeout as exc:
            raise StoreBusy(
                f"another legday process has been writing to {db_path} for more than "
                f"{timeout_s:.0f} s; try again when it has finished"
            ) from exc
    except OSError as exc:
        raise StoreUnavailable(f"cannot create the lock file beside {db_path}: {exc}") from exc
    try:
        con = _connect(
            db_path,
            read_only=False,
            timeout_s=max(1.0, deadline - time.monotonic()),
            on_wait=on_wait,
        )
        store = Store(con, db_path, read_only=False)
        try:
            yield store
        finally:
            store.close()
    finally:
        lock.release()


def bring_up_to_date(
    db_path: Path,
    now_utc: Any,
    *,
    timeout_s: float = 30.0,
    on_wait: WaitCallback | None = None,
) -> list[int]:
    """Apply the migrations an existing store lacks; the versions applied (none: up to date).

    Read-only commands (report, status, query) call it first, so that a store written by an
    older legday is readable at once instead of failing until the next ingest. No store: none.
    """
    db_path = Path(db_path)
    if not db_path.exists():
        return []
    latest = MIGRATIONS[-1].version if MIGRATIONS else 0
    with open_store(db_path, read_only=True, timeout_s=timeout_s, on_wait=on_wait) as store:
        if store.schema_version() >= latest:
            return []
    with open_store(db_path, timeout_s=timeout_s, on_wait=on_wait) as store:
        return store.migrate(now_utc)


def is_storage_full(exc: BaseException) -> bool:
    """True when an error means the disk is full (so callers keep the inbox untouched)."""
    text = str(exc).lower()
    return "no space left" in text or "disk full" in text or "could not write" in text
