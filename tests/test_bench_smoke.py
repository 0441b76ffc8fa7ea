"""``make bench`` still runs: the ``--quick`` benchmark end to end on a tiny input.

Timing targets are not asserted (a loaded CI machine would fail them at random); what is
checked is that every measure is produced, finite, and printed in the result table, and that the
history generator is deterministic and cached.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import history, run

MEASURES = [
    "backfill_ratio",
    "incremental_ratio",
    "report_ratio",
    "peak_pss_mb",
    "prefect_overhead_pct",
    "writer_parse_cores",
    "writer_share_pct",
]


def test_history_plan_is_about_six_a_week_and_seeded() -> None:
    plan = history.plan_history(weeks=156)
    assert 5.5 * 156 <= len(plan) <= 7 * 156
    assert plan == history.plan_history(weeks=156)
    assert plan != history.plan_history(weeks=156, seed=1)
    assert len({p.file_name for p in plan}) == len(plan)
    assert max(p.local_start for p in plan) < history.plan_nightly()[0].local_start


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, history.History]:
    """A week of generated history in a cache folder, generated once for the module."""
    cache = tmp_path_factory.mktemp("history")
    return cache, history.ensure_history(weeks=1, cache=cache, workers=1)


def test_history_is_byte_identical_and_cached(
    tmp_path: Path, week: tuple[Path, history.History]
) -> None:
    cache, a = week
    again = history.ensure_history(weeks=1, cache=cache, workers=1)
    b = history.ensure_history(weeks=1, cache=tmp_path / "b", workers=1)
    assert a.generated and not again.generated
    names = sorted(p.name for p in a.files.iterdir())
    assert len(names) == a.n_files >= 5
    assert names == sorted(p.name for p in b.files.iterdir())
    for name in names:
        assert (a.files / name).read_bytes() == (b.files / name).read_bytes()
    assert len(list(a.nightly.iterdir())) == 3


@pytest.mark.prefect
def test_quick_bench_reports_every_measure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], week: tuple[Path, history.History]
) -> None:
    code = run.main(
        [
            "--quick",
            "--out",
            str(tmp_path / "run"),
            "--cache",
            str(week[0]),  # the module's week of history: generating it again proves nothing
            "--json",
            str(tmp_path / "figures.json"),
        ]
    )
    assert code == 0  # without --strict a missed target is printed, not an error
    text = capsys.readouterr().out
    figures = run.json.loads((tmp_path / "figures.json").read_text())
    for key in MEASURES:
        assert math.isfinite(figures[key]) and figures[key] > 0, key
    assert figures["baseline"]["files_per_s"] > 0 and figures["backfill"]["mb_per_s"] > 0
    assert 0 <= figures["backfill"]["outside_parsing_share"] <= 1
    assert figures["prefect"]["server_startup_s"] > 0
    for label in (
        "backfill throughput ratio",
        "incremental multi/empty",
        "report multi/empty",
        "backfill peak memory (tree PSS)",
        "tree RSS sum",
        "largest single process RSS",
        "Prefect overhead %",
        "files/s",
        "MB/s",
        "outside parsing",
        "writer only",
        "DuckDB raw append",
        "writer share of the backfill",
    ):
        assert label in text, label
    assert text.count("PASS") + text.count("FAIL") == len(MEASURES)
    w = figures["writer"]
    assert w["files"] == figures["files"] and w["rows"] > 0 and w["raw_append_s"] > 0


def test_writer_only_figure_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], week: tuple[Path, history.History]
) -> None:
    """``--writer-only``: the history parsed once (cached), then stored, beside the raw append;
    the same rows whichever way (the raw append is of what the writer stored)."""
    args = ["--writer-only", "--quick", "--out", str(tmp_path / "w"), "--cache", str(week[0])]
    assert run.main([*args, "--json", str(tmp_path / "w.json")]) == 0
    text = capsys.readouterr().out
    figures = run.json.loads((tmp_path / "w.json").read_text())
    w = figures["writer"]
    assert w["rows_by_table"]["hr_samples"] > 0 and w["files"] >= 5
    assert w["files_per_s"] > 0 and w["rows_per_s"] > 0 and w["parse_cores_fed"] > 0
    assert "writer only" in text and "parser cores" in text
    assert list(week[1].root.glob("parsed-*.pkl")), "the parse is cached beside the history"


def test_table_flags_a_missed_target() -> None:
    figures = {
        "files": 10,
        "mb": 1.0,
        "corpus_files": 2,
        "history_files": 8,
        "workers": 2,
        "load_avg_start": 0.0,
        "load_avg_end": 0.0,
        "baseline": {
            "seconds": 10.0,
            "files_per_s": 1.0,
            "mb_per_s": 0.1,
            "failed": 0,
            "peak_rss_mb": 50.0,
        },
        "backfill": {
            "seconds": 5.0,
            "files_per_s": 2.0,
            "mb_per_s": 0.2,
            "phases": {"x": 5.0},
            "statuses": {},
            "activities": 8,
            "peak_rss_mb": 300.0,
            "peak_pss_mb": 200.0,
            "outside_parsing_share": 0.3,
        },
        "incremental": {"multi_s": 1.0, "empty_s": 1.0, "runs": {"multi": [1.0]}},
        "report": {"multi_s": 1.0, "empty_s": 1.0, "n": 1},
        "prefect": {"flow_s": 1.0, "library_s": 1.0, "server_startup_s": 1.0, "import_s": 1.0},
        "backfill_ratio": 2.0,
        "incremental_ratio": 1.0,
        "report_ratio": 1.0,
        "peak_rss_mb": 300.0,
        "peak_pss_mb": 200.0,
        "prefect_overhead_pct": 1.0,
    }
    text, ok = run.table(figures)
    assert not ok and text.count("FAIL") == 1 and "2.00x" in text
    figures["backfill_ratio"] = 3.5
    assert run.table(figures)[1]


def test_merge_replay_appends_each_night_and_leaves_the_input_alone(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from benchmarks import merges
    from pipeline.ingest import ingest_files
    from pipeline.store import db as st

    db = tmp_path / "legday.duckdb"
    sample = Path(__file__).resolve().parents[1] / "sample_data"
    runs = sorted(sample.glob("*run*.fit"))[:2]
    assert runs
    ingest_files(db, [(p, "sam") for p in runs], now=datetime.now(UTC), workers=1)
    with st.open_store(db, read_only=True) as s:
        before = s.scalar("SELECT count(*) FROM hr_samples")
    original = db.read_bytes()
    assert merges.main(["--db", str(db), "--nights", "2", "--rows", "50"]) == 0
    assert db.read_bytes() == original
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(original)
    times = merges.replay(copy, 3, 50)
    assert len(times) == 3 and all(t >= 0 for t in times)
    with st.open_store(copy, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM hr_samples") == before + 3 * min(50, before)
