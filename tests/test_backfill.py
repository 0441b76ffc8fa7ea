"""The stored rows do not depend on how the parse work was split.

``ingest_files`` with one process, with two, and the ``backfill`` flow with its parse step on a
2-worker Dask ``LocalCluster`` must leave the same rows in files, activities, hr_samples,
strength_sets (and classifications), over the sample data plus a handful of real corpus files
that include broken ones, a chained file and a byte-identical copy.
"""

from __future__ import annotations

import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as hs

from flows.backfill import backfill, batches
from pipeline.config import load_settings
from pipeline.derive import refresh as analysis
from pipeline.ingest import collect_files, ingest_files
from pipeline.store import db as st

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "sample_data" / "legday.toml"
CORPUS_PICK = [
    "dtcooper__python-fitparse__tests__files__2013-02-06-12-11-14.fit",  # run with HR
    "dtcooper__python-fitparse__tests__files__compressed-speed-distance.fit",
    "jarkko__fit-analyzer__tests__fixtures__20748058539_ACTIVITY.fit",  # strength with sets
    "muktihari__fit__testdata__chained_Activity_activity_poolswim.fit",  # chained, 2 sessions
    "dtcooper__python-fitparse__tests__files__activity-unexpected-eof.fit",  # broken
    "dtcooper__python-fitparse__tests__files__activity-filecrc.fit",  # bad CRC
    "muktihari__fit__testdata__from_official_sdk__activity_truncated.fit",
    "dtcooper__python-fitparse__tests__files__Settings.fit",  # not an activity
]
#: Columns stamped with the time of ingestion or computation: the only ones allowed to differ.
INGEST_TIME_COLUMNS = {"first_seen_utc", "computed_utc", "seen_utc"}
TABLES = [
    "files",
    "file_sightings",
    "activities",
    "hr_samples",
    "strength_sets",
    "laps",
    "classifications",
]


def _settings(db: Path):  # type: ignore[no-untyped-def]
    return load_settings(env={}, cwd=ROOT, config=CONFIG, db=db)


def _snapshot(db: Path) -> dict[str, pl.DataFrame]:
    out = {}
    with st.open_store(db, read_only=True) as s:
        for table in TABLES:
            cols = [r[0] for r in s.rows(f"SELECT column_name FROM (DESCRIBE {table})")]
            keep = [c for c in cols if c not in INGEST_TIME_COLUMNS]
            out[table] = s.frame(f"SELECT {', '.join(keep)} FROM {table} ORDER BY ALL")
    return out


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path, corpus_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("inbox")
    for p in sorted(sample_dir.glob("*.fit")):
        shutil.copyfile(p, folder / p.name)
    for name in CORPUS_PICK:
        shutil.copyfile(corpus_dir / name, folder / name)
    # Same bytes under another name: which copy is "the" file depends on input order only.
    first = sorted(sample_dir.glob("*.fit"))[0]
    shutil.copyfile(first, folder / f"zz-copy-of-{first.name}")
    return folder


def _library(inbox: Path, db: Path, workers: int) -> dict[str, pl.DataFrame]:
    settings = _settings(db)
    files, _ = collect_files([inbox])
    now = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    ingest_files(db, [(f, settings.default_athlete) for f in files], now=now, workers=workers)
    analysis.refresh_store(settings, now=now)
    return _snapshot(db)


@given(hs.lists(hs.text(max_size=3), max_size=60), hs.integers(1, 25))
def test_batches_keep_every_item_in_order(items: list[str], size: int) -> None:
    chunks = batches(items, size)
    assert [x for c in chunks for x in c] == items
    assert all(1 <= len(c) <= size for c in chunks)


def test_batches_reject_a_zero_size() -> None:
    with pytest.raises(ValueError):
        batches(["a"], 0)


@pytest.mark.corpus
@pytest.mark.prefect
def test_same_rows_however_the_parse_is_split(
    prefect_harness: None, inbox: Path, tmp_path: Path
) -> None:
    one = _library(inbox, tmp_path / "w1" / "legday.duckdb", workers=1)
    two = _library(inbox, tmp_path / "w2" / "legday.duckdb", workers=2)

    db = tmp_path / "dask" / "legday.duckdb"
    totals = backfill(paths=[str(inbox)], db=str(db), config=str(CONFIG), n_workers=2, batch_size=4)
    on_dask = _snapshot(db)

    # The scenario is what we think it is: broken files kept apart, the copy a duplicate
    # (a byte-identical copy is a sighting of the same files row, not a row of its own).
    assert totals["duplicate"] == 1
    assert one["files"].height == sum(totals.values()) - 1
    assert one["file_sightings"].height == sum(totals.values())
    assert one["files"].filter(pl.col("status").is_in(["partial", "quarantined"])).height >= 2
    assert one["activities"].height >= 17
    assert one["strength_sets"].height > 0 and one["hr_samples"].height > 10_000

    for table in TABLES:
        assert one[table].equals(two[table]), f"{table}: workers=1 vs workers=2 differ"
        assert one[table].equals(on_dask[table]), f"{table}: workers=1 vs Dask flow differ"


@pytest.mark.prefect
def test_a_zip_given_to_the_backfill_is_unpacked_and_its_files_stored(
    prefect_harness: None, tmp_path: Path, sample_dir: Path
) -> None:
    """The backfill's own parse path (batches submitted to its flow's task runner; a thread pool
    here instead of Dask) goes through the one composition root, so a Garmin export is
    unpacked: its files stored, not the zip quarantined as ``not_fit``."""
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.backfill import _ingest_on_cluster

    fits = sorted(sample_dir.glob("*.fit"))[:3]
    export = tmp_path / "export"
    export.mkdir()
    with zipfile.ZipFile(export / "garmin-export.zip", "w") as zf:
        for f in fits:
            zf.write(f, f"DI_CONNECT/DI-Connect-Fitness-Uploaded-Files/{f.name}")
    db = tmp_path / "legday.duckdb"
    on_threads = _ingest_on_cluster.with_options(task_runner=ThreadPoolTaskRunner(max_workers=2))
    now = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    summary = on_threads([str(export)], str(CONFIG), str(db), None, now, 2, 2)
    assert summary.counts() == {"stored": 4, "partial": 0, "duplicate": 0, "quarantined": 0}
    with st.open_store(db, read_only=True) as s:
        stored = s.rows("SELECT original_name, file_type FROM files ORDER BY 1")
        assert s.scalar("SELECT count(*) FROM activities") == 3
    assert stored == sorted(
        [(f.name, "activity") for f in fits] + [("garmin-export.zip", "zip_archive")]
    )
