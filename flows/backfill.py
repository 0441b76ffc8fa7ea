"""The ``backfill`` flow: parse years of FIT files on a Dask cluster, store them from one writer.

For a history too big for one machine's cores. The parse step (the only expensive one: fitparse
is pure Python) runs as Prefect tasks on Dask through ``prefect_dask.DaskTaskRunner``, one task
per batch of files (``batch_size``, default 20: Prefect + Dask cost ~0.2 s a task, so a task per
file or per record would cost more than the parsing). Everything that touches the store stays in
the flow's own process: ``plan_ingest`` first (hash, skip known files), then results are handed
to ``write_results`` (the single writer; DuckDB allows one writing process) in input order, so
the outcome is the same as ``legday ingest`` whatever the split, and at most two batches per
worker are in flight, so memory is bounded by the batch size, not by the history.

Cluster: ``dask_address=None`` starts a temporary ``LocalCluster`` with ``n_workers`` worker
processes (one thread each: the parser holds the GIL); ``dask_address="tcp://host:8786"`` uses a
running scheduler, whose workers must have legday installed (``pip install 'legday[dask]'``) and
read access to the same paths (a shared or synced folder), and must reach the Prefect API.

A batch whose task fails (a worker killed by a hostile file, a lost worker) is parsed again in
the flow's own process pool (``ingest.iter_parsed``), which pins a crash or hang on the file and
quarantines it alone, as ``legday ingest`` does.

Example::

    python -m flows.backfill ~/Garmin/Activities --db data/legday.duckdb
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from flows.common import now_utc, resolve_settings
from pipeline.derive import refresh as analysis
from pipeline.fit.parsing import parse_file
from pipeline.ingest import core as ingest
from pipeline.ingest.core import ParseResult


def batches(items: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive slices of ``items`` of at most ``size`` (their concatenation is ``items``)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@task(
    name="parse-batch",
    task_run_name="parse {label}",
    cache_policy=NO_CACHE,  # results are big frames; the store already skips known files
    persist_result=False,
)
def parse_batch(paths: list[str], now: datetime, label: str) -> list[ParseResult]:
    """Read, hash and parse a batch of files on a Dask worker (no store access here)."""
    return [parse_file(p, now) for p in paths]


def _ordered_results(
    chunks: list[list[str]], now: datetime, in_flight: int, workers_fallback: int
) -> Iterator[tuple[str, ParseResult]]:
    """Submit batches, keep ``in_flight`` of them running, yield file results in input order."""
    log = get_run_logger()
    pending: deque[tuple[list[str], PrefectFuture[list[ParseResult]]]] = deque()
    todo = iter(enumerate(chunks))
    total = len(chunks)

    def submit() -> None:
        nxt = next(todo, None)
        if nxt is not None:
            i, chunk = nxt
            pending.append((chunk, parse_batch.submit(chunk, now, f"batch {i + 1} of {total}")))

    for _ in range(in_flight):
        submit()
    while pending:
        chunk, fut = pending.popleft()
        try:
            results = fut.result()
        except Exception as exc:
            log.warning(
                "batch of %d files failed on the cluster (%s); parsing it again locally",
                len(chunk),
                exc,
            )
            results = [r for _p, r in ingest.iter_parsed(chunk, now, max(2, workers_fallback))]
        submit()
        yield from zip(chunk, results, strict=True)


@flow(name="backfill-parse-and-store")
def _parse_and_store(
    db_path: str, to_parse: list[tuple[str, str]], now: datetime, batch_size: int, in_flight: int
) -> list[dict[str, Any]]:
    athlete_of = dict(to_parse)
    outcomes: list[ingest.FileOutcome] = []
    chunks = batches([p for p, _a in to_parse], batch_size)
    results = (
        (path, athlete_of[path], result)
        for path, result in _ordered_results(chunks, now, in_flight, in_flight // 2)
    )
    ingest.write_results(Path(db_path), results, now=now, on_done=outcomes.append)
    return [o.__dict__ for o in outcomes]


def dask_runner(dask_address: str | None, n_workers: int) -> Any:
    """A Dask task runner on a running scheduler, or on a temporary local cluster."""
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": n_workers, "threads_per_worker": 1, "processes": True}
    )


@flow(name="backfill", log_prints=False)
def backfill(
    paths: list[str],
    db: str | None = None,
    config: str | None = None,
    athlete: str | None = None,
    dask_address: str | None = None,
    n_workers: int = 2,
    batch_size: int = 20,
) -> dict[str, int]:
    """Ingest FIT files and folders with the parse step on Dask; returns counts of outcomes."""
    log = get_run_logger()
    settings = resolve_settings(config, db, athlete)
    files, skipped = ingest.collect_files([Path(p) for p in paths])
    now = now_utc()
    plan = ingest.plan_ingest(
        settings.db_path, [(f, settings.default_athlete) for f in files], now=now
    )
    outcomes: list[dict[str, Any]] = [o.__dict__ for o in plan.decided]
    if plan.to_parse:
        store_step = _parse_and_store.with_options(task_runner=dask_runner(dask_address, n_workers))
        outcomes += store_step(
            str(settings.db_path), plan.to_parse, now, batch_size, 2 * max(1, n_workers)
        )
    totals = {"stored": 0, "partial": 0, "duplicate": 0, "quarantined": 0}
    for o in outcomes:
        totals[o["status"]] += 1
        if o["status"] in ("partial", "quarantined"):
            log.warning(
                "%s: %s (%s) %s", Path(o["path"]).name, o["status"], o["reason_code"], o["message"]
            )
    if totals["stored"] or totals["partial"]:
        analysis.refresh_store(settings, now=now)
    log.info("backfill done: %s; %d non-FIT file(s) skipped", totals, len(skipped))
    return totals


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="backfill FIT files with parsing on Dask")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--db")
    parser.add_argument("--config")
    parser.add_argument("--athlete")
    parser.add_argument("--dask-address")
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=20)
    a = parser.parse_args()
    print(backfill(a.paths, a.db, a.config, a.athlete, a.dask_address, a.n_workers, a.batch_size))
