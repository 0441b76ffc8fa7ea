"""The command line as a person uses it: a real DuckDB file, sample data, every command.

The commands run in this process through typer's ``CliRunner`` (exit code, stdout and stderr
captured apart): a process per command would prove nothing more and cost ~2 s each. What only a
real process shows (``python -m pipeline.cli`` is legday, its exit code and its one-line usage
error) is checked by ``test_the_module_entry_point_is_legday`` and by tests/test_serve_unit.py
(the console script).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import common
from pipeline.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
LEGDAY = [sys.executable, "-m", "pipeline.cli"]


@dataclass(frozen=True)
class Ran:
    """What a person sees of one ``legday`` command."""

    returncode: int
    stdout: str
    stderr: str


@contextmanager
def _inside(cwd: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Ran:
    """``legday ARGS`` in ``cwd``, in this process; LEGDAY_DB of the caller is not seen."""
    # A 200-column terminal, as COLUMNS=200 gave the subprocesses: no summary line is wrapped.
    width = common.console.width
    common.console.width = 200
    try:
        with _inside(cwd):
            res = CliRunner().invoke(
                app,
                list(args),
                env={"LEGDAY_DB": None, **(env or {})},
                prog_name="legday",
                catch_exceptions=False,  # a traceback fails the test, as it would show to a person
            )
    finally:
        common.console.width = width
    return Ran(res.exit_code, res.stdout, res.stderr)


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
    assert doc["schema_version"] == "1.2" and doc["summary"]["alerts"] == 1
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
    res = run("ingest", "in", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "1 stored" in res.stdout and "1 partial" in res.stdout and "1 quarantined" in res.stdout
    assert "empty" in res.stdout and "truncated" in res.stdout


def test_a_missing_path_is_an_error_a_script_can_see(tmp_path: Path, sample_dir: Path) -> None:
    """Issue 10 (6): exit 2 with one line naming the path; nothing is ingested."""
    (tmp_path / "in").mkdir()
    shutil.copy(sorted(sample_dir.glob("*.fit"))[0], tmp_path / "in" / "good.fit")
    res = run("ingest", "in", "/nonexistent/path", cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines == [
        "error: no such file or folder: /nonexistent/path; check the path, nothing was ingested"
    ]
    assert not (tmp_path / "data").exists()


def test_global_options_after_the_command(tmp_path: Path, sample_dir: Path) -> None:
    """Issue 10 (7): `legday ingest PATH --db FILE` works (it said "No such option: --db")."""
    (tmp_path / "in").mkdir()
    shutil.copy(sorted(sample_dir.glob("*.fit"))[0], tmp_path / "in" / "a.fit")
    shutil.copy(sample_dir / "legday.toml", tmp_path / "my.toml")
    res = run(
        "ingest", "in", "--db", "elsewhere/x.duckdb", "--config=my.toml", "--no-progress",
        cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "elsewhere" / "x.duckdb").is_file()
    assert not (tmp_path / "data").exists()
    res = run("query", "select athlete_id from files", "-f", "csv", "--db", "elsewhere/x.duckdb",
              cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["athlete_id", "sam"]  # the athlete of my.toml


def test_hoisting_keeps_the_commands_own_options() -> None:
    from typer.main import get_command

    from pipeline.cli.main import LegdayGroup, app, hoist_global_options

    group = get_command(app)
    assert isinstance(group, LegdayGroup)

    def params(name: str) -> list[object] | None:
        return group.commands[name].params if name in group.commands else None

    hoisted = hoist_global_options(
        group.params, params, ["ingest", "p", "--db", "x", "--athlete=a"]
    )
    assert hoisted == ["--db", "x", "--athlete=a", "ingest", "p"]
    # a leading global option's value is not taken for the command
    lead = ["--db", "status", "status", "--config", "c.toml"]
    assert hoist_global_options(group.params, params, lead) == [
        "--db", "status", "--config", "c.toml", "status"
    ]  # fmt: skip
    # report has its own --athlete; the value of a command option is never taken for an option
    same = ["report", "--athlete", "kim", "--out", "--db", "--db", "y"]
    assert hoist_global_options(group.params, params, same) == [
        "--db", "y", "report", "--athlete", "kim", "--out", "--db"
    ]  # fmt: skip
    after_dashes = ["ingest", "--", "--db"]
    assert hoist_global_options(group.params, params, after_dashes) == after_dashes
    unknown = ["ingets", "--db", "x"]
    assert hoist_global_options(group.params, params, unknown) == unknown


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["ingets", "x"], "error: No such command 'ingets'. Did you mean 'ingest'? (see `legday --help`)"),
        (["status", "--bogus"], "error: No such option: --bogus (see `legday status --help`)"),
        (["ingest"], "error: Missing argument 'paths'. (see `legday ingest --help`)"),
        (["ingest", "x", "--db"], "error: option --db needs a value (see `legday --help`)"),
    ],
)  # fmt: skip
def test_usage_mistakes_are_one_line_saying_where_help_is(
    tmp_path: Path, args: list[str], line: str
) -> None:
    res = run(*args, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [line]


def test_a_query_on_a_missing_table_names_legdays_relations(workdir: Path) -> None:
    res = run("query", "select * from activitys", cwd=workdir)
    assert res.returncode == 2
    assert "sqlite_temp_master" not in res.stderr and "LINE 1" not in res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert "no table or view named 'activitys'" in line and "did you mean 'activities'?" in line
    assert "legday's relations: activities, activity_overview," in line
    res = run("query", "select * from nothing_close", cwd=workdir)
    assert "sqlite_temp_master" not in res.stderr and "files, hr_samples" in res.stderr


def test_a_config_typo_is_one_line_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "legday.toml").write_text("[athletes.x.recovery]\nwarnign_hours = 36\n")
    res = run("status", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"error: config file {tmp_path / 'legday.toml'}: unknown key 'warnign_hours' in "
        "[athletes.x.recovery]; did you mean 'warning_hours'?"
    ]


def test_a_file_and_a_zip_holding_it_through_the_cli(tmp_path: Path, sample_dir: Path) -> None:
    """Issue 10 (3, 8): no store_error; the extracted members leave nothing behind, neither in
    the config's data folder nor beside the store used."""
    fit = sorted(sample_dir.glob("*.fit"))[0]
    (tmp_path / "in").mkdir()
    shutil.copy(fit, tmp_path / "in" / "a.fit")
    with zipfile.ZipFile(tmp_path / "in" / "b.zip", "w") as zf:
        zf.writestr("a.fit", fit.read_bytes())
    res = run("--db", "store/s.duckdb", "ingest", "in", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "store_error" not in res.stdout
    assert "2 stored, 1 duplicate(s), 0 partial, 0 quarantined" in res.stdout
    assert not (tmp_path / "data").exists()
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["s.duckdb", "s.duckdb.lock"]
    again = run("ingest", "in", "--no-progress", "--db", "store/s.duckdb", cwd=tmp_path)
    assert "0 stored, 2 duplicate(s)" in again.stdout, again.stdout


def test_the_module_entry_point_is_legday(tmp_path: Path) -> None:
    """A real process: `python -m pipeline.cli` is legday (name, exit code, one-line usage error)."""
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [*LEGDAY, "ingets", "x"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: No such command 'ingets'. Did you mean 'ingest'? (see `legday --help`)"
    ]


def test_read_only_commands_read_a_store_an_older_legday_wrote(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store at schema 5 (before learning, summaries and plan files): status, query and the
    report bring it up to date once, instead of failing until the next ingest."""
    from pipeline.store import db
    from pipeline.store.migrate import MIGRATIONS

    store = tmp_path / "data" / "legday.duckdb"  # where the sample config keeps it
    with monkeypatch.context() as m:
        m.setattr(db, "MIGRATIONS", MIGRATIONS[:5])
        with db.open_store(store) as s:
            assert s.migrate(datetime(2026, 1, 1, tzinfo=UTC)) == [1, 2, 3, 4, 5]
    shutil.copy(sample_dir / "legday.toml", tmp_path / "legday.toml")
    res = run("status", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"(schema v{MIGRATIONS[-1].version})" in res.stdout
    res = run("query", "select count(*) as n from activity_summaries", cwd=tmp_path)
    assert res.returncode == 0 and "0" in res.stdout
    assert db.bring_up_to_date(store, datetime(2026, 1, 2, tzinfo=UTC)) == []
    assert db.bring_up_to_date(tmp_path / "none.duckdb", datetime(2026, 1, 2, tzinfo=UTC)) == []
    assert not (tmp_path / "none.duckdb").exists()
