"""The ``backfill`` flow: parse years of FIT files on a Dask cluster, store them from one writer.

For a history too big for one machine's cores. The parse step (the only expensive one: fitparse
is pure Python) runs as Prefect tasks on Dask through ``prefect_dask.DaskTaskRunner``, one task
per batch of files (``batch_size``, default 20: Prefect + Dask cost ~0.2 s a task, so a task per
file or per record would cost more than the parsing). Everything that touches the store stays in
the flow's own process: the plan first (read and hash, skip known files), then results are handed
to the single writer (DuckDB allows one writing process) in input order, so
the outcome is the same as ``legday ingest`` whatever the split, and at most two batches per
worker are in flight, so memory is bounded by the batch size, not by the history.

Cluster: ``dask_address=None`` starts a temporary ``LocalCluster`` with ``n_workers`` worker
processes (one thread each: the parser holds the GIL); ``dask_address="tcp://host:8786"`` uses a
running scheduler, whose workers must have legday installed (``pip install 'legday[dask]'``) and
read access to the same paths (a shared or synced folder), and must reach the Prefect API.

The run itself is ``pipeline.ingest.ingest_paths``, the composition root that ``legday ingest``
and the inbox call too (same file selection, zip archives unpacked, each file read and hashed
once): this flow only passes it a ``Parser`` that sends batches of parse jobs to the Dask task
runner.

A batch whose task fails (a worker killed by a hostile file, a lost worker) is parsed again in
the flow's own process pool (``pipeline.ingest.workers.iter_parsed``), which pins a crash or hang on the file and
quarantines it alone, as ``legday ingest`` does.

Example::

    python -m flows.backfill ~/Garmin/Activities --db data/legday.duckdb
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from flows.common import now_utc, resolve_settings
from pipeline.derive import refresh as analysis
from pipeline.ingest import FileStatus, IngestSummary, ParseResult, ingest_paths
from pipeline.ingest.plan import ParseJob
from pipeline.ingest.workers import iter_parsed, parse_job

T = TypeVar("T")


def batches(items: Sequence[T], size: int) -> list[list[T]]:
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
def parse_batch(jobs: list[ParseJob], now: datetime, label: str) -> list[ParseResult]:
    """Parse a batch of planned files on a Dask worker (no store access here)."""
    return [parse_job(j, now) for j in jobs]


class TaskRunnerParser:
    """A ``pipeline.ingest`` parser that submits batches to the current flow's task runner.

    At most ``in_flight`` batches run at once and results come back in input order; a batch
    whose task fails is parsed again in local processes, which pin a crash on its file.
    """

    def __init__(self, batch_size: int, in_flight: int) -> None:
        self.batch_size = batch_size
        self.in_flight = in_flight

    def __call__(
        self, jobs: Iterable[ParseJob], now: datetime
    ) -> Iterator[tuple[ParseJob, ParseResult]]:
        log = get_run_logger()
        chunks = batches(list(jobs), self.batch_size)
        pending: deque[tuple[list[ParseJob], PrefectFuture[list[ParseResult]]]] = deque()
        todo = iter(enumerate(chunks))
        total = len(chunks)

        def submit() -> None:
            nxt = next(todo, None)
            if nxt is not None:
                i, chunk = nxt
                label = f"batch {i + 1} of {total}"
                pending.append((chunk, parse_batch.submit(chunk, now, label)))

        for _ in range(self.in_flight):
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
                results = [r for _j, r in iter_parsed(chunk, now, max(2, self.in_flight // 2))]
            submit()
            yield from zip(chunk, results, strict=True)


@flow(name="backfill-parse-and-store")
def _ingest_on_cluster(
    paths: list[str],
    config: str | None,
    db: str | None,
    athlete: str | None,
    now: datetime,
    batch_size: int,
    in_flight: int,
) -> IngestSummary:
    settings = resolve_settings(config, db, athlete)
    return ingest_paths(
        settings,
        [Path(p) for p in paths],
        now=now,
        parser=TaskRunnerParser(batch_size, in_flight),
    )


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
    now = now_utc()
    on_cluster = _ingest_on_cluster.with_options(task_runner=dask_runner(dask_address, n_workers))
    summary = on_cluster(
        paths,
        config,
        db,
        athlete,
        now,
        batch_size,
        2 * max(1, n_workers),
    )
    for o in summary.outcomes:
        if o.status in (FileStatus.PARTIAL, FileStatus.QUARANTINED):
            log.warning("%s: %s (%s) %s", o.name, o.status, o.reason_code, o.message)
    if summary.needs_refresh:
        analysis.refresh_store(settings, now=now)
    totals = summary.counts()
    log.info("backfill done: %s; %d non-FIT file(s) skipped", totals, len(summary.skipped))
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
