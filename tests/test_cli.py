"""The command line as a person uses it: real processes, a real DuckDB file, sample data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEGDAY = [sys.executable, "-m", "pipeline.cli"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("LEGDAY_DB", None)
    return subprocess.run(
        [*LEGDAY, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    """A folder with the sample athlete's config and its files ingested once."""
    wd = tmp_path_factory.mktemp("cli")
    shutil.copy(sample_dir / "legday.toml", wd / "legday.toml")
    shutil.copytree(
        sample_dir,
        wd / "fit",
        ignore=shutil.ignore_patterns("*.py", "*.json", "*.md", "*.toml", "data"),
    )
    res = run("ingest", "fit", "--no-progress", cwd=wd)
    assert res.returncode == 0, res.stderr
    assert "16 stored" in res.stdout
    return wd


def test_ingest_twice_reports_duplicates_and_changes_nothing(workdir: Path) -> None:
    db = workdir / "data" / "legday.duckdb"
    before = run("query", "select count(*) n from activities", "-f", "json", cwd=workdir)
    res = run("ingest", "fit", cwd=workdir)
    assert res.returncode == 0
    assert "0 stored, 16 duplicate(s)" in res.stdout
    after = run("query", "select count(*) n from activities", "-f", "json", cwd=workdir)
    assert json.loads(before.stdout) == json.loads(after.stdout) == [{"n": 16}]
    assert db.exists()


def test_status_shows_outcomes_and_relations(workdir: Path) -> None:
    res = run("status", cwd=workdir)
    assert res.returncode == 0, res.stderr
    for word in ("stored", "activities", "hr_samples", "strength_sets", "sam"):
        assert word in res.stdout


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_query_formats(workdir: Path, fmt: str) -> None:
    res = run(
        "query",
        "select kind, count(*) as n from activity_overview group by kind order by kind",
        "-f",
        fmt,
        cwd=workdir,
    )
    assert res.returncode == 0, res.stderr
    if fmt == "json":
        counts = {r["kind"]: r["n"] for r in json.loads(res.stdout)}
        assert counts == {"leg_strength": 3, "ride": 1, "run": 10, "strength": 2}
    elif fmt == "csv":
        assert res.stdout.splitlines()[0] == "kind,n"
        assert "leg_strength,3" in res.stdout
    else:
        assert "leg_strength" in res.stdout and "4 row(s)" in res.stdout


def test_query_cannot_write_and_says_so(workdir: Path) -> None:
    res = run("query", "delete from activities", cwd=workdir)
    assert res.returncode == 2
    assert "read-only" in res.stderr
    assert "Traceback" not in res.stderr


def test_report_writes_three_formats_and_prints_markdown(workdir: Path) -> None:
    out = workdir / "reports"
    res = run("report", "--date", "2026-10-20", "--out", str(out), cwd=workdir)
    assert res.returncode == 0, res.stderr
    assert "ALERT" in res.stdout and "12.0 h" in res.stdout
    files = sorted(p.name for p in (out / "sam").iterdir())
    assert files == ["2026-10-20.html", "2026-10-20.json", "2026-10-20.md"]
    doc = json.loads((out / "sam" / "2026-10-20.json").read_text())
    assert doc["schema_version"] == "1.1" and doc["summary"]["alerts"] == 1
    stored = run(
        "query",
        "select format from reports where local_date = '2026-10-20' order by 1",
        "-f",
        "csv",
        cwd=workdir,
    )
    assert stored.stdout.split() == ["format", "html", "json", "md"]


def test_most_telling_day_is_an_alert_day(workdir: Path) -> None:
    res = run(
        "report", "--most-telling", "--format", "json", "--out", str(workdir / "r2"), cwd=workdir
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["summary"]["worst_severity"] == "alert"
    assert "HTML:" in res.stderr


def test_label_survives_reingest_and_reclassify(workdir: Path) -> None:
    ride = json.loads(
        run(
            "query",
            "select activity_id from activity_overview where kind = 'ride'",
            "-f",
            "json",
            cwd=workdir,
        ).stdout
    )[0]["activity_id"]
    res = run("label", ride[:8], "other", "--note", "was a commute", cwd=workdir)
    assert res.returncode == 0, res.stderr
    run("ingest", "fit", cwd=workdir)
    run("reclassify", cwd=workdir)
    kind = json.loads(
        run(
            "query",
            f"select kind, kind_source from activity_overview where activity_id = '{ride}'",
            "-f",
            "json",
            cwd=workdir,
        ).stdout
    )
    assert kind == [{"kind": "other", "kind_source": "label"}]
    bad = run("label", ride[:8], "rowing", cwd=workdir)
    assert bad.returncode == 2 and "kind must be one of" in bad.stderr


def test_missing_store_and_bad_inputs_give_one_line_errors(tmp_path: Path) -> None:
    res = run("status", cwd=tmp_path)
    assert res.returncode == 2
    assert "no store" in res.stderr and "legday ingest" in res.stderr
    (tmp_path / "legday.toml").write_text('[athletes.x]\ntimezone = "Nowhere/Land"\n')
    res = run("status", cwd=tmp_path)
    assert res.returncode == 2 and "unknown timezone" in res.stderr
    assert "Traceback" not in res.stderr


def test_ingest_reports_bad_files_with_reasons(tmp_path: Path, sample_dir: Path) -> None:
    good = sorted(sample_dir.glob("*.fit"))[0]
    (tmp_path / "in").mkdir()
    shutil.copy(good, tmp_path / "in" / "good.fit")
    (tmp_path / "in" / "empty.fit").write_bytes(b"")
    (tmp_path / "in" / "cut.fit").write_bytes(good.read_bytes()[:5000])
    res = run("ingest", "in", "missing-folder", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "1 stored" in res.stdout and "1 partial" in res.stdout and "1 quarantined" in res.stdout
    assert "empty" in res.stdout and "truncated" in res.stdout
    assert "not found" in res.stderr
