"""The parser pool: parse planned files in worker processes, in input order, crash- and hang-safe.

fitparse is pure Python and GIL-bound, so parsing runs in processes, not threads. A job carries
the bytes the plan read (see ``plan.ParseJob``): a worker gets them, parses, and returns the
frames; only a job without bytes (over the plan's memory budget) reads its file. A file that
kills its worker or hangs is retried alone in a fresh process, then given up with a reason; the
others go on. Workers are stopped through the pids they report at start (``in_worker.report_pid``),
never through the pool's private state.

Any parser with the ``Parser`` shape can stand in for this pool: the Dask backfill passes one that
submits batches to its Prefect task runner (``flows/backfill.py``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from datetime import datetime
from itertools import islice
from multiprocessing import get_context
from typing import Any, Protocol

from pipeline.fit import ParsedFile, parse_file
from pipeline.ingest.in_worker import parse_bytes, report_pid
from pipeline.ingest.plan import ParseJob

#: ``(sha256, size, parsed, error)``: a parse, or why there is none (sha256 None: unreadable).
ParseResult = tuple[str | None, int, ParsedFile | None, str | None]

#: Files queued per parser process. Enough that the parsers keep busy while the writer commits a
#: batch (~0.5 s, several small files' worth); few enough that memory stays bounded.
IN_FLIGHT_PER_WORKER = 8


class Parser(Protocol):
    """Parses jobs and yields each with its result, in input order (so outcomes are the same
    however the work is split)."""

    def __call__(
        self, jobs: Iterable[ParseJob], now: datetime
    ) -> Iterator[tuple[ParseJob, ParseResult]]: ...


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def parse_timeout_s(size: int) -> float:
    """Time one file may take to parse before its worker is stopped (fitparse decodes ~1 MB/4 s)."""
    return 60.0 + 30.0 * size / 1_000_000


def parse_job(job: ParseJob, now: datetime) -> ParseResult:
    """Parse one job in this process (the bytes it carries, else its file)."""
    if job.data is None:
        return parse_file(job.path, now)
    return job.sha256, len(job.data), parse_bytes(job.data, now), None


def _job_size(job: ParseJob) -> int:
    if job.data is not None:
        return len(job.data)
    try:
        return os.stat(job.path).st_size
    except OSError:
        return 0


def _crashed(why: str) -> ParseResult:
    return None, 0, None, why


class _Pool:
    """A process pool whose workers can be killed (they report their pids at start)."""

    def __init__(self, workers: int) -> None:
        methods = multiprocessing.get_all_start_methods()
        # Not fork: the parent may hold DuckDB and Prefect threads, which fork does not copy safely.
        if "forkserver" in methods:
            ctx: Any = get_context("forkserver")
            # The fork server loads only the parser, not the caller's main module (the CLI, a
            # flow): parser processes fork from it and share those pages.
            ctx.set_forkserver_preload(["pipeline.fit", "pipeline.ingest.in_worker"])
        else:
            ctx = get_context("spawn")
        self._pids = ctx.SimpleQueue()
        self.executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=report_pid, initargs=(self._pids,)
        )

    def submit(self, job: ParseJob, now: datetime) -> Future[Any]:
        if job.data is None:
            return self.executor.submit(parse_file, job.path, now)
        return self.executor.submit(parse_bytes, job.data, now)

    def result(self, job: ParseJob, fut: Future[Any]) -> ParseResult:
        out = fut.result(timeout=parse_timeout_s(_job_size(job)))
        if job.data is None:
            return out
        return job.sha256, len(job.data), out, None

    def stop(self, *, kill: bool = True) -> None:
        """Stop at once, killing workers that hang (shutdown alone would wait for them)."""
        if not kill:
            self.executor.shutdown(wait=True, cancel_futures=True)
            return
        pids = []
        with contextlib.suppress(OSError, EOFError):
            while not self._pids.empty():
                pids.append(self._pids.get())
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.executor.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(OSError):
            self._pids.close()


def _isolated(job: ParseJob, now: datetime) -> ParseResult:
    """Parse one file alone in a fresh process, so a crash or hang is pinned on that file."""
    pool = _Pool(1)
    try:
        return pool.result(job, pool.submit(job, now))
    except FuturesTimeout:
        return _crashed(f"the parser did not finish within {parse_timeout_s(_job_size(job)):.0f} s")
    except Exception as exc:  # BrokenProcessPool: the interpreter died on this file
        return _crashed(f"the parser process died on this file ({type(exc).__name__})")
    finally:
        pool.stop()


def iter_parsed(
    jobs: Iterable[ParseJob], now: datetime, workers: int
) -> Iterator[tuple[ParseJob, ParseResult]]:
    """Parse jobs, yielding results in input order whatever order the workers finish in.

    Input order makes the outcome deterministic (which of two copies of an activity is stored
    and which is the duplicate) however the work is split. At most ``IN_FLIGHT_PER_WORKER``
    jobs per worker are in flight, which bounds memory by the largest files rather than by the
    history. A file that hangs or kills its worker is retried alone and then given up with a
    reason; the others go on.
    """
    # Popped as they are submitted: a job's bytes are freed once it is parsed and written.
    todo = deque(jobs)
    del jobs
    if workers <= 1 or len(todo) <= 1:
        while todo:
            job = todo.popleft()
            yield job, parse_job(job, now)
        return
    queue = _popping(todo)
    pool = _Pool(workers)
    try:
        in_flight: deque[tuple[ParseJob, Future[Any]]] = deque()
        for job in islice(queue, IN_FLIGHT_PER_WORKER * workers):
            in_flight.append((job, pool.submit(job, now)))
        while in_flight:
            job, fut = in_flight.popleft()
            try:
                result = pool.result(job, fut)
            except Exception:  # hang or dead worker: the pool is unusable, find the culprit
                pool.stop()
                pending = [job] + [j for j, _f in in_flight]
                in_flight.clear()
                pool = _Pool(workers)
                for j in pending:
                    yield j, _isolated(j, now)
                for nxt in islice(queue, IN_FLIGHT_PER_WORKER * workers):
                    in_flight.append((nxt, pool.submit(nxt, now)))
                continue
            yield job, result
            for nxt in islice(queue, 1):
                in_flight.append((nxt, pool.submit(nxt, now)))
    finally:
        pool.stop(kill=False)


def _popping(todo: deque[ParseJob]) -> Iterator[ParseJob]:
    while todo:
        yield todo.popleft()


class ProcessParser:
    """The default ``Parser``: ``workers`` local processes (in this process when 1)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def __call__(
        self, jobs: Iterable[ParseJob], now: datetime
    ) -> Iterator[tuple[ParseJob, ParseResult]]:
        return iter_parsed(jobs, now, self.workers)
