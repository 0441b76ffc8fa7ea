"""``make bench``: how fast legday is against a bare fitparse loop, measured in one run.

What it measures (all on this machine, in one invocation; see docs/performance.md):

- backfill: the whole pipeline over the shared corpus plus a generated multi-year history
  (hash and plan, parse in ``--workers`` processes, store, refresh, one daily report), against a
  bare fitparse loop over the same files in one process (``FitFile(path)``, every message,
  ``get_values()``). Both run in child processes; their wall time excludes interpreter start and
  imports. Peak memory is the sum of PSS over the backfill's process tree (parent + parser
  workers + forkserver), sampled with psutil every 50 ms.
- incremental: a nightly run (3 new files + refresh + that day's report) on a copy of the
  multi-year store, against the same run on an empty (migrated) store; medians of 5, interleaved.
- report: one day's report (build + render) on the multi-year store vs on a store holding only
  that day's files; medians of 9.
- Prefect: the same ingest + refresh through ``flows.ingest.ingest_flow`` against a temporary
  local Prefect server (PREFECT_HOME in a temporary folder, analytics off), and through the
  library (``ingest_paths`` + ``refresh_store``), in turns, 3 of each on the corpus and a quarter
  of the history; the overhead is the difference of the medians as a share of the library's.
  Server start-up is reported, not counted.

``--quick`` uses a week of history and a few corpus files (for the smoke test); ``--strict`` makes
a missed target exit non-zero. Children are started as ``python -m benchmarks.run --child ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "fit-corpus" / "files"
CONFIG = ROOT / "sample_data" / "legday.toml"
DEFAULT_OUT = ROOT / "out" / "bench" / "run"

TARGETS = {
    "backfill_ratio": (">=", 3.0),
    "incremental_ratio": ("<=", 1.5),
    "report_ratio": ("<=", 1.5),
    "peak_pss_mb": ("<", 400.0),
    "prefect_overhead_pct": ("<", 10.0),
    # issue 15: one writer keeps up with ten or more parser cores, and is a small part of a backfill
    "writer_parse_cores": (">=", 10.0),
    "writer_share_pct": ("<", 15.0),
}


# --------------------------------------------------------------------------------------------
# Children: each runs in its own interpreter so that memory and imports are its own


def _settings(db: str) -> Any:
    from pipeline.config import load_settings

    return load_settings(env={}, cwd=ROOT, config=CONFIG, db=Path(db))


def child_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """The bare fitparse loop: the cost of merely decoding every message of every file."""
    import warnings

    import fitparse

    warnings.filterwarnings("ignore")
    failed = 0
    started = time.perf_counter()
    for path in spec["files"]:
        try:
            for msg in fitparse.FitFile(path).get_messages():
                msg.get_values()
        except Exception:  # the broken corpus files fail here, as they do for any user
            failed += 1
    return {"seconds": time.perf_counter() - started, "failed": failed}


def child_backfill(spec: dict[str, Any]) -> dict[str, Any]:
    """``legday ingest`` + refresh + one report, phase by phase, with the library's own pieces.

    The composition is ``pipeline.ingest.ingest_paths``'s (plan → iter_parsed → write_results,
    without zips); it is spelled out here only to time how long the single writer waits for the
    parsers.
    """
    from pipeline.derive import refresh as analysis
    from pipeline.ingest import FileOutcome, ParseResult, collect_files
    from pipeline.ingest.plan import plan_ingest
    from pipeline.ingest.workers import iter_parsed
    from pipeline.ingest.writer import write_results
    from pipeline.store import db as st

    settings = _settings(spec["db"])
    athlete = settings.default_athlete
    now = datetime.now(UTC)
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    files, _skipped = collect_files([Path(p) for p in spec["paths"]])
    plan = plan_ingest(settings.db_path, [(f, athlete) for f in files], now=now)
    phases["plan (read + sha256 + lookup)"] = time.perf_counter() - t0
    waited = 0.0

    def timed() -> Iterator[tuple[str, str, ParseResult]]:
        nonlocal waited
        it = iter_parsed(plan.jobs, now, spec["workers"])
        while True:
            t = time.perf_counter()
            try:
                job, result = next(it)
            except StopIteration:
                return
            finally:
                waited += time.perf_counter() - t
            yield job.path, athlete, result

    outcomes: list[FileOutcome] = list(plan.decided)
    t1 = time.perf_counter()
    write_results(settings.db_path, timed(), now=now, on_done=outcomes.append)
    write_total = time.perf_counter() - t1
    phases["waiting for parsers (incl. pool start)"] = waited
    phases["store (single writer)"] = write_total - waited
    t2 = time.perf_counter()
    analysis.refresh_store(settings, now=now)
    phases["refresh (classify, metrics, flags)"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    day = date.fromisoformat(spec["report_day"])
    _report(settings, athlete, day, now, Path(spec["reports"]))
    phases["report (build, render, save)"] = time.perf_counter() - t3
    total = time.perf_counter() - t0
    with st.open_store(settings.db_path, read_only=True) as s:
        counts = dict(s.rows("SELECT status, count(*) FROM files GROUP BY 1 ORDER BY 1"))
        n_act = s.scalar("SELECT count(*) FROM activities")
    return {
        "seconds": total,
        "ingest_refresh_seconds": total - phases["report (build, render, save)"],
        "phases": phases,
        "files": len(files),
        "statuses": counts,
        "activities": n_act,
    }


def _report(settings: Any, athlete: str, day: date, now: datetime, out: Path | None) -> None:
    """What ``legday report --date DAY`` does, minus printing."""
    from pipeline.report import produce
    from pipeline.store import db as st

    if out is not None:
        produce.produce_report(settings, athlete, day, generated_at=now, out_dir=out)
        return
    with st.open_store(settings.db_path, read_only=True) as s:
        built = produce.daily_report(s, settings, athlete, day, generated_at=now)
    built.render()


def child_flow(spec: dict[str, Any]) -> dict[str, Any]:
    """The same ingest + refresh through the Prefect flow (against the server in the env)."""
    t0 = time.perf_counter()
    from flows.ingest import ingest_flow

    imported = time.perf_counter() - t0
    t1 = time.perf_counter()
    totals = ingest_flow(
        paths=spec["paths"], db=spec["db"], config=str(CONFIG), workers=spec["workers"]
    )
    return {"seconds": time.perf_counter() - t1, "import_seconds": imported, "totals": totals}


def child_library(spec: dict[str, Any]) -> dict[str, Any]:
    """What the flow does, without Prefect: ``ingest_paths`` + ``refresh_store`` on the same files
    (the Prefect overhead compares this with ``child_flow``, in turns)."""
    from pipeline.derive import refresh as analysis
    from pipeline.ingest.run import ingest_paths

    settings = _settings(spec["db"])
    t = time.perf_counter()
    ingest_paths(
        settings, [Path(p) for p in spec["paths"]], now=datetime.now(UTC), workers=spec["workers"]
    )
    analysis.refresh_store(settings, now=datetime.now(UTC))
    return {"seconds": time.perf_counter() - t}


def child_writer(spec: dict[str, Any]) -> dict[str, Any]:
    """The single writer alone (``benchmarks/writer.py``): the files parsed once and held (cached
    beside the history), then stored; DuckDB's raw append of the same rows; one core's parse
    rate on every ``sample_every``-th file, in this process."""
    from benchmarks import writer as wr

    files = [Path(f) for f in spec["files"]]
    held, parse_s = wr.parse_held(
        files, workers=spec["workers"], cache=Path(spec["cache"]), log=lambda m: None
    )
    figures = wr.measure(held, Path(spec["work"]), profile=spec.get("profile", False))
    one_core = wr.parse_rate(files[:: spec["sample_every"]])
    out = figures.as_dict()
    out["parse_one_core_files_per_s"] = one_core
    out["parse_cores_fed"] = figures.files_per_s / one_core
    out["parse_held_s"] = parse_s
    if figures.profile_text:
        out["profile"] = figures.profile_text
    return out


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "baseline": child_baseline,
    "backfill": child_backfill,
    "flow": child_flow,
    "library": child_library,
    "writer": child_writer,
}


# --------------------------------------------------------------------------------------------
# The parent: runs children, samples memory, compares


@dataclass
class ChildRun:
    result: dict[str, Any]
    peak_rss_mb: float  # sum of RSS over the tree (shared library pages counted once per process)
    peak_pss_mb: float  # sum of PSS (shared pages split between the processes that map them)
    wall: float
    peak_rss_largest_mb: float = 0.0  # the largest single process (what `time -v` reports)


def _tree_memory(proc: Any, with_pss: bool) -> tuple[int, int, int]:
    """(sum of RSS, sum of PSS or 0, largest RSS) over a process and all its descendants."""
    import psutil

    rss = pss = largest = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0, 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if with_pss:
                full = p.memory_full_info()
                one = full.rss
                pss += full.pss
            else:
                one = p.memory_info().rss
            rss += one
            largest = max(largest, one)
    return rss, pss, largest


def run_child(
    name: str, spec: dict[str, Any], work: Path, env: dict[str, str] | None = None
) -> ChildRun:
    """Run one child and sample the RSS of its whole process tree while it runs."""
    import psutil

    spec_file = work / f"{name}.spec.json"
    out_file = work / f"{name}.out.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.run", "--child", name, str(spec_file), str(out_file)],
        cwd=ROOT,
        env=env,
    )
    ps = psutil.Process(proc.pid)
    peak_rss = peak_pss = peak_one = 0
    tick = 0
    while proc.poll() is None:
        # RSS at 20 Hz; PSS (reads smaps) at 2 Hz, so that sampling costs the run little.
        rss, pss, one = _tree_memory(ps, with_pss=tick % 10 == 0)
        peak_rss, peak_pss, peak_one = max(peak_rss, rss), max(peak_pss, pss), max(peak_one, one)
        tick += 1
        time.sleep(0.05)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {name!r} failed with exit code {proc.returncode}")
    result = json.loads(out_file.read_text(encoding="utf-8"))
    return ChildRun(
        result, peak_rss / 1e6, peak_pss / 1e6, time.perf_counter() - started, peak_one / 1e6
    )


def _fresh_store(db: Path) -> None:
    from pipeline.store import db as st

    with st.open_store(db) as s:
        s.migrate(datetime.now(UTC))


def _nightly_once(db: Path, nightly: list[Path], day: date, workers: int) -> float:
    """Ingest the day's files, refresh, build the day's report: the nightly job, timed."""
    from pipeline.derive import refresh as analysis
    from pipeline.ingest import run as ingest

    settings = _settings(str(db))
    athlete = settings.default_athlete
    now = datetime.now(UTC)
    t = time.perf_counter()
    ingest.ingest_files(db, [(p, athlete) for p in nightly], now=now, workers=workers)
    analysis.refresh_store(settings, now=now)
    _report(settings, athlete, day, now, db.parent / "reports")
    return time.perf_counter() - t


def _report_once(db: Path, day: date) -> float:
    settings = _settings(str(db))
    t = time.perf_counter()
    _report(settings, settings.default_athlete, day, datetime.now(UTC), None)
    return time.perf_counter() - t


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrefectServer:
    """A throw-away ``prefect server start`` with its own PREFECT_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        self.env.pop("PREFECT_API_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0

    def __enter__(self) -> PrefectServer:
        prefect = Path(sys.executable).with_name("prefect")
        t = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                str(prefect),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-ui",
                "--analytics-off",
            ],
            env=self.env,
            stdout=(self.home / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so stopping it stops its children too
        )
        while time.perf_counter() - t < 120:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited; see {self.home / 'server.log'}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("prefect server did not become healthy within 120 s")
        self.startup_s = time.perf_counter() - t
        return self

    def client_env(self) -> dict[str, str]:
        return {**self.env, "PREFECT_API_URL": self.url}

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _corpus_files(quick: bool) -> list[Path]:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []
    if quick:
        files = [p for p in files if p.stat().st_size < 60_000][:4]
    return files


def _ratio_ok(name: str, value: float) -> bool:
    op, target = TARGETS[name]
    return {">=": value >= target, "<=": value <= target, "<": value < target}[op]


def run(
    *,
    quick: bool,
    workers: int,
    out: Path,
    cache: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every measurement and return the figures (the table is printed by ``main``)."""
    from benchmarks import history as hist

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    work = out / "work"
    work.mkdir()
    h = hist.ensure_history(
        weeks=1 if quick else 3 * 52,
        cache=cache or hist.DEFAULT_CACHE,
        workers=workers,
        log=log,
    )
    corpus = _corpus_files(quick)
    if quick or not corpus:
        # One folder holds the chosen files so that every variant sees exactly the same input.
        inbox = out / "inbox"
        inbox.mkdir()
        for p in [*corpus, *sorted(h.files.iterdir())]:
            shutil.copyfile(p, inbox / p.name)
        paths = [str(inbox)]
    else:
        paths = [str(CORPUS), str(h.files)]
    from pipeline.ingest import collect_files

    files, _ = collect_files([Path(p) for p in paths])
    n_bytes = sum(f.stat().st_size for f in files)
    figures: dict[str, Any] = {
        "files": len(files),
        "mb": n_bytes / 1e6,
        "history_files": h.n_files,
        "corpus_files": len(corpus),
        "workers": workers,
        "history_dir": str(h.root),
        "history_generated": h.generated,
        "history_seconds": h.seconds,
        "load_avg_start": os.getloadavg()[0],
    }
    log(
        f"{len(files)} files, {n_bytes / 1e6:.1f} MB ({len(corpus)} corpus + {h.n_files} generated)"
    )

    log("baseline: bare fitparse loop, one process ...")
    base = run_child("baseline", {"files": [str(f) for f in files]}, work)
    multi_db = out / "multi" / "legday.duckdb"
    log(f"backfill: legday pipeline, {workers} parser processes ...")
    back = run_child(
        "backfill",
        {
            "paths": paths,
            "db": str(multi_db),
            "workers": workers,
            "report_day": (h.report_day - timedelta(days=1)).isoformat(),
            "reports": str(out / "multi" / "reports"),
        },
        work,
    )
    b, p = base.result, back.result
    phases = p["phases"]
    parse_wait = phases["waiting for parsers (incl. pool start)"]
    figures["baseline"] = {
        "seconds": b["seconds"],
        "files_per_s": len(files) / b["seconds"],
        "mb_per_s": n_bytes / 1e6 / b["seconds"],
        "failed": b["failed"],
        "peak_rss_mb": base.peak_rss_mb,
    }
    figures["backfill"] = {
        "seconds": p["seconds"],
        "files_per_s": len(files) / p["seconds"],
        "mb_per_s": n_bytes / 1e6 / p["seconds"],
        "phases": phases,
        "statuses": p["statuses"],
        "activities": p["activities"],
        "peak_rss_mb": back.peak_rss_mb,
        "peak_pss_mb": back.peak_pss_mb,
        "outside_parsing_share": 1.0 - parse_wait / p["seconds"],
    }
    figures["backfill_ratio"] = b["seconds"] / p["seconds"]
    figures["peak_rss_mb"] = back.peak_rss_mb
    figures["peak_pss_mb"] = back.peak_pss_mb
    figures["peak_rss_largest_mb"] = back.peak_rss_largest_mb
    store_s = phases["store (single writer)"]
    figures["writer_share_pct"] = 100.0 * store_s / p["seconds"]
    figures.update(writer_only(files, h.root, workers, work, quick=quick, log=log))

    log("incremental: nightly run on the multi-year store vs an empty one ...")
    nightly = sorted(h.nightly.iterdir())
    day = h.report_day
    inc_multi: list[float] = []
    inc_empty: list[float] = []
    reps = 1 if quick else 5
    for i in range(reps):
        for kind in ("empty", "multi") if i % 2 else ("multi", "empty"):
            db = out / f"inc-{kind}-{i}" / "legday.duckdb"
            db.parent.mkdir()
            if kind == "multi":
                shutil.copyfile(multi_db, db)
                (inc_multi).append(_nightly_once(db, nightly, day, workers))
            else:
                _fresh_store(db)
                inc_empty.append(_nightly_once(db, nightly, day, workers))
    figures["incremental"] = {
        "multi_s": statistics.median(inc_multi),
        "empty_s": statistics.median(inc_empty),
        "runs": {"multi": inc_multi, "empty": inc_empty},
    }
    figures["incremental_ratio"] = statistics.median(inc_multi) / statistics.median(inc_empty)

    log("report: one day's report on the multi-year store vs the day's files alone ...")
    rep_multi: list[float] = []
    rep_empty: list[float] = []
    multi_after, empty_after = (
        out / "inc-multi-0" / "legday.duckdb",
        out / "inc-empty-0" / "legday.duckdb",
    )
    for _ in range(2 if quick else 9):
        rep_multi.append(_report_once(multi_after, day))
        rep_empty.append(_report_once(empty_after, day))
    # A store holding only the five weeks before the day: the same report content (the 4-week
    # timeline, the flags) without the years, so this ratio isolates the cost of history.
    recent_db = out / "recent" / "legday.duckdb"
    cutoff = (day - timedelta(days=35)).isoformat()
    recent = [p for p in sorted(h.files.iterdir()) if p.name[:10] >= cutoff] + nightly
    settings = _settings(str(recent_db))
    from pipeline.derive import refresh as analysis
    from pipeline.ingest import run as ingest

    now = datetime.now(UTC)
    ingest.ingest_files(
        recent_db, [(p, settings.default_athlete) for p in recent], now=now, workers=workers
    )
    analysis.refresh_store(settings, now=now)
    rep_recent = [_report_once(recent_db, day) for _ in range(2 if quick else 9)]
    figures["report"] = {
        "multi_s": statistics.median(rep_multi),
        "empty_s": statistics.median(rep_empty),
        "recent_s": statistics.median(rep_recent),
        "n": len(rep_multi),
    }
    figures["report_vs_recent_ratio"] = statistics.median(rep_multi) / statistics.median(rep_recent)
    figures["report_ratio"] = statistics.median(rep_multi) / statistics.median(rep_empty)
    for i in range(reps):
        for kind in ("multi", "empty"):
            shutil.rmtree(out / f"inc-{kind}-{i}", ignore_errors=True)

    log("prefect: the same ingest through flows/ingest.py and through the library, in turns ...")
    # One pair of ~70 s runs minutes apart moved by ±15 % on this machine (runs 11-14: 5 to 36 %
    # "overhead" with the same code), so the flow and the library ingest the same files in turns,
    # each on a fresh store, and the medians are compared. A quarter of the history keeps it short.
    sample = [*(str(p) for p in sorted(CORPUS.iterdir()) if p.is_file())] if CORPUS.is_dir() else []
    sample += [str(p) for p in sorted(h.files.iterdir())[:: 1 if quick else 4]]
    home = Path(tempfile.mkdtemp(prefix="legday-bench-prefect-"))
    flow_s: list[float] = []
    lib_s: list[float] = []
    imported: list[float] = []
    try:
        with PrefectServer(home) as server:
            for i in range(1 if quick else 3):
                for kind in ("flow", "library") if i % 2 == 0 else ("library", "flow"):
                    db = out / f"{kind}-{i}" / "legday.duckdb"
                    spec = {"paths": sample, "db": str(db), "workers": workers}
                    if kind == "flow":
                        ran = run_child("flow", spec, work, env=server.client_env())
                        flow_s.append(ran.result["seconds"])
                        imported.append(ran.result["import_seconds"])
                    else:
                        lib_s.append(run_child("library", spec, work).result["seconds"])
                    shutil.rmtree(db.parent, ignore_errors=True)
            figures["prefect"] = {
                "server_startup_s": server.startup_s,
                "import_s": statistics.median(imported),
                "flow_s": statistics.median(flow_s),
                "library_s": statistics.median(lib_s),
                "files": len(sample),
                "runs": {"flow": flow_s, "library": lib_s},
            }
    finally:
        shutil.rmtree(home, ignore_errors=True)
    lib = statistics.median(lib_s)
    figures["prefect_overhead_pct"] = 100.0 * (statistics.median(flow_s) - lib) / lib
    figures["load_avg_end"] = os.getloadavg()[0]
    return figures


def writer_only(
    files: list[Path],
    cache: Path,
    workers: int,
    work: Path,
    *,
    quick: bool,
    log: Callable[[str], None],
    profile: bool = False,
) -> dict[str, Any]:
    """The writer-only figure (a child process): files/s and rows/s, DuckDB's raw append, and
    how many parser cores the writer keeps up with."""
    log("writer only: the files parsed once and held, then stored (and appended raw) ...")
    spec = {
        "files": [str(f) for f in files],
        "workers": workers,
        "cache": str(cache),
        "work": str(work / "writer"),
        "sample_every": 1 if quick else 16,
        "profile": profile,
    }
    w = run_child("writer", spec, work).result
    shutil.rmtree(work / "writer", ignore_errors=True)
    return {"writer": w, "writer_parse_cores": w["parse_cores_fed"]}


def writer_lines(f: dict[str, Any]) -> list[str]:
    w = f["writer"]
    lines = [
        f"writer only (history parsed once and held, then stored): {w['files']} files, "
        f"{w['rows']:,} rows in {w['writer_s']:.2f} s = {w['files_per_s']:.0f} files/s, "
        f"{w['rows_per_s'] / 1e6:.2f} M rows/s",
        f"DuckDB raw append of the same rows (one insert per table + checkpoint): "
        f"{w['raw_append_s']:.2f} s = {w['raw_rows_per_s'] / 1e6:.2f} M rows/s; "
        f"writer / raw = {w['writer_vs_raw']:.1f}x",
        f"one core parses {w['parse_one_core_files_per_s']:.1f} files/s (legday's parser, every "
        f"file of a sample, in one process): the writer keeps up with "
        f"{w['parse_cores_fed']:.1f} parser cores",
    ]
    if "writer_share_pct" in f:
        lines.append(f"writer share of the backfill: {f['writer_share_pct']:.1f} %")
    return lines


def table(f: dict[str, Any]) -> tuple[str, bool]:
    """The result table (target, measured, pass/fail) and whether every target is met."""
    b, p = f["baseline"], f["backfill"]
    lines = [
        f"input: {f['files']} files, {f['mb']:.1f} MB ({f['corpus_files']} corpus + "
        f"{f['history_files']} generated history); {f['workers']} parser processes; "
        f"1-min load average {f['load_avg_start']:.1f} at start, {f['load_avg_end']:.1f} at end "
        f"({os.cpu_count()} cores: other work on the machine skews every figure)",
        f"baseline (bare fitparse, 1 process): {b['seconds']:.1f} s, {b['files_per_s']:.2f} files/s, "
        f"{b['mb_per_s']:.3f} MB/s ({b['failed']} files raised); peak RSS {b['peak_rss_mb']:.0f} MB",
        f"backfill (legday pipeline):          {p['seconds']:.1f} s, {p['files_per_s']:.2f} files/s, "
        f"{p['mb_per_s']:.3f} MB/s; {p['activities']} activities; files {p['statuses']}",
        f"backfill memory (process tree: parent + forkserver + parser workers, psutil sampling): "
        f"peak RSS sum {p['peak_rss_mb']:.0f} MB, peak PSS sum {p['peak_pss_mb']:.0f} MB, "
        f"largest single process {f.get('peak_rss_largest_mb', float('nan')):.0f} MB RSS",
        "backfill phases (main process):",
    ]
    for name, secs in p["phases"].items():
        lines.append(f"  {name:<42} {secs:8.2f} s  {100 * secs / p['seconds']:5.1f} %")
    if "writer" in f:
        lines += writer_lines(f)
    inc, rep, pf = f["incremental"], f["report"], f["prefect"]
    lines += [
        f"incremental (3 files + refresh + report): multi-year {inc['multi_s']:.2f} s, "
        f"empty {inc['empty_s']:.2f} s (medians of {len(inc['runs']['multi'])})",
        f"report (build + render): multi-year {rep['multi_s']:.3f} s, day only "
        f"{rep['empty_s']:.3f} s (medians of {rep['n']}); vs the last 5 weeks alone "
        f"{rep.get('recent_s', float('nan')):.3f} s: ratio {f.get('report_vs_recent_ratio', float('nan')):.2f}x",
        f"prefect: flow {pf['flow_s']:.1f} s vs library {pf['library_s']:.1f} s (medians of "
        f"{len(pf.get('runs', {}).get('flow', []))} in turns, {pf.get('files', '?')} files); "
        "server start-up "
        f"{pf['server_startup_s']:.1f} s and `import flows.ingest` {pf['import_s']:.1f} s not counted",
        f"share of backfill time outside parsing: {100 * p['outside_parsing_share']:.1f} % "
        "(main process not waiting for parser results)",
        "",
        f"{'measure':<34} {'target':>10} {'measured':>10}  result",
    ]
    rows = [
        ("backfill_ratio", "backfill throughput ratio", "{:.2f}x"),
        ("incremental_ratio", "incremental multi/empty", "{:.2f}x"),
        ("report_ratio", "report multi/empty", "{:.2f}x"),
        ("peak_pss_mb", "backfill peak memory (tree PSS) MB", "{:.0f}"),
        ("prefect_overhead_pct", "Prefect overhead %", "{:.1f}"),
        ("writer_parse_cores", "writer-only / one core's parse", "{:.1f}x"),
        ("writer_share_pct", "writer share of the backfill %", "{:.1f}"),
    ]
    ok_all = True
    for key, label, fmt in rows:
        if key not in f:  # figures of an older run (before the writer-only figure)
            continue
        op, target = TARGETS[key]
        ok = _ratio_ok(key, f[key])
        ok_all &= ok
        lines.append(
            f"{label:<34} {op + ' ' + str(target):>10} {fmt.format(f[key]):>10}  "
            f"{'PASS' if ok else 'FAIL'}"
        )
    lines.append(
        f"{'(tree RSS sum, shared pages counted':<34} {'':>10} {f['peak_rss_mb']:>10.0f}  "
        "once per process: an overcount)"
    )
    if "peak_rss_largest_mb" in f:
        lines.append(
            f"{'(largest single process RSS, what':<34} {'':>10} "
            f"{f['peak_rss_largest_mb']:>10.0f}  `/usr/bin/time -v` reports as max RSS)"
        )
    return "\n".join(lines), ok_all


def run_writer_only(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    """``--writer-only``: the same input as the full run, only the writer figure."""
    from benchmarks import history as hist
    from pipeline.ingest import collect_files

    h = hist.ensure_history(
        weeks=1 if args.quick else 3 * 52,
        cache=args.cache or hist.DEFAULT_CACHE,
        workers=args.workers,
        log=log,
    )
    files, _ = collect_files([*_corpus_files(args.quick), h.files])
    work = args.out / "work"
    shutil.rmtree(args.out, ignore_errors=True)
    work.mkdir(parents=True)
    figures = writer_only(
        files, h.root, args.workers, work, quick=args.quick, log=log, profile=args.profile
    )
    figures["load_avg"] = os.getloadavg()[0]
    log(f"1-min load average {figures['load_avg']:.1f} ({os.cpu_count()} cores)")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="legday benchmarks (make bench)")
    parser.add_argument("--quick", action="store_true", help="a week of history, 6 corpus files")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="scratch folder")
    parser.add_argument("--cache", type=Path, default=None, help="history cache folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--writer-only",
        action="store_true",
        help="only the writer-only figure (history parsed once, cached; then stored)",
    )
    parser.add_argument("--profile", action="store_true", help="with --writer-only: cProfile")
    parser.add_argument("--child", nargs=3, metavar=("NAME", "SPEC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, spec, out = args.child
        result = CHILDREN[name](json.loads(Path(spec).read_text(encoding="utf-8")))
        Path(out).write_text(json.dumps(result), encoding="utf-8")
        return 0

    def log(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    if args.writer_only:
        figures = run_writer_only(args, log)
        print("\n".join(writer_lines(figures)))
        if args.profile:
            print(figures["writer"].get("profile", ""))
        print(f"(writer-only benchmark: {time.perf_counter() - started:.0f} s)")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
        ok = _ratio_ok("writer_parse_cores", figures["writer_parse_cores"])
        return 1 if args.strict and not ok else 0
    figures = run(quick=args.quick, workers=args.workers, out=args.out, cache=args.cache, log=log)
    text, ok = table(figures)
    print(text)
    print(f"(whole benchmark: {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
