"""Contention: an ingest, a nightly-like refresh and report, and a person's queries at the same
time: every process exits 0, no file is lost, and a wait is bounded and says so.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from pipeline.ingest import ingest_files
from pipeline.store import db as stg
from tests.fuzzing import SAMPLE_DATA

ROOT = Path(__file__).resolve().parent.parent
CONFIG = SAMPLE_DATA / "legday.toml"


def cmd(db: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline.cli",
        "--config",
        str(CONFIG),
        "--db",
        str(db),
        *args,
    ]


def loop(db: Path, times: int, *args: str) -> list[str]:
    """A shell loop running one legday command ``times`` times; stops at the first failure."""
    one = " ".join(f"'{a}'" for a in cmd(db, *args))
    return ["sh", "-c", f"for i in $(seq {times}); do {one} || exit $?; done"]


def test_ingest_nightly_and_queries_at_once_all_succeed(tmp_path: Path) -> None:
    fits = sorted(SAMPLE_DATA.glob("*.fit"))
    early, late = tmp_path / "early", tmp_path / "late"
    early.mkdir()
    late.mkdir()
    for i, p in enumerate(fits):
        ((early if i % 2 == 0 else late) / p.name).write_bytes(p.read_bytes())
    db = tmp_path / "legday.duckdb"
    ingest_files(db, [(p, "sam") for p in sorted(early.iterdir())], now=datetime.now(UTC))

    procs = {
        "ingest": subprocess.Popen(
            cmd(db, "ingest", str(late), "--no-progress", "--workers", "2"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ),
        "nightly": subprocess.Popen(
            [
                "sh",
                "-c",
                " ".join(f"'{a}'" for a in cmd(db, "reclassify"))
                + " && "
                + " ".join(
                    f"'{a}'"
                    for a in cmd(db, "report", "--date", "2026-10-25", "--out", str(tmp_path / "r"))
                ),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ),
    }
    for i in range(3):
        procs[f"query{i}"] = subprocess.Popen(
            loop(db, 4, "query", "-f", "csv", "select count(*) as n from files"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    results = {name: p.communicate(timeout=240) for name, p in procs.items()}
    for name, p in procs.items():
        _out, err = results[name]
        assert p.returncode == 0, (name, err.decode()[-2000:])
        assert b"Traceback" not in err, (name, err.decode()[-2000:])
    for i in range(3):
        counts = [
            int(line)
            for line in results[f"query{i}"][0].decode().splitlines()
            if line.strip().isdigit()
        ]
        assert len(counts) == 4 and all(8 <= n <= 16 for n in counts)
        assert counts == sorted(counts)  # a reader never sees files disappear
    with stg.open_store(db, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM files WHERE status = 'stored'") == len(fits)
        assert s.scalar("SELECT count(*) FROM activities") == len(fits)
    assert (tmp_path / "r" / "sam" / "2026-10-25.md").is_file()
    assert sorted(p.name for p in early.iterdir()) + sorted(p.name for p in late.iterdir()) != []


def test_a_query_waits_for_a_busy_store_with_a_message_then_gives_up_cleanly(
    tmp_path: Path,
) -> None:
    db = tmp_path / "legday.duckdb"
    ingest_files(db, [(sorted(SAMPLE_DATA.glob("*.fit"))[0], "sam")], now=datetime.now(UTC))
    with stg.open_store(db):  # a writer holds the file
        started = time.monotonic()
        done = subprocess.run(
            cmd(db, "query", "--timeout", "2", "select 1"), capture_output=True, timeout=60
        )
        waited = time.monotonic() - started
    err = " ".join(done.stderr.decode().split())  # the console wraps long lines
    assert done.returncode == 75, err  # retryable: try again later
    assert "waiting for the store" in err and "try again" in err
    assert "Traceback" not in err
    assert waited < 30

    # Released during the wait (once the query says it waits, however slowly it started): the
    # query goes through.
    holder = stg.open_store(db)
    holder.__enter__()
    proc = subprocess.Popen(
        cmd(db, "query", "-f", "csv", "--timeout", "60", "select count(*) from files"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    said: list[bytes] = []
    reader = threading.Thread(target=lambda: said.extend(iter(proc.stderr.read1, b"")))  # type: ignore[union-attr]
    reader.start()
    deadline = time.monotonic() + 60
    while b"waiting" not in b"".join(said) and time.monotonic() < deadline:
        time.sleep(0.05)
    holder.__exit__(None, None, None)
    out = proc.stdout.read() if proc.stdout else b""  # stderr is the reader's alone
    proc.wait(timeout=90)
    reader.join(timeout=10)
    err = " ".join(b"".join(said).decode().split())
    assert proc.returncode == 0, err
    assert "waiting for the store" in err
    assert out.decode().split() == ["count_star()", "1"]
