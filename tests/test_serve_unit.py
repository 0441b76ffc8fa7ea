"""``legday serve --install-unit`` and the parts of ``serve`` that need no Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("how", ["script", "module"])
def test_install_unit_writes_a_user_unit_that_runs_serve_with_this_config(
    tmp_path: Path, sample_dir: Path, how: str
) -> None:
    """Both ways of starting legday see the global options (--config, --db) given before serve."""
    script = Path(sys.executable).with_name("legday")
    if how == "script" and not script.exists():
        pytest.skip("the legday console script is not installed in this environment")
    legday = [str(script)] if how == "script" else [sys.executable, "-m", "pipeline.cli"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    unit = tmp_path / "systemd" / "legday.service"
    cfg = sample_dir / "legday.toml"
    db = tmp_path / "store.duckdb"
    out = subprocess.run(
        [
            *legday,
            "--config",
            str(cfg),
            "--db",
            str(db),
            "serve",
            "--inbox",
            str(inbox),
            "--install-unit",
            "--unit-path",
            str(unit),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT), "LEGDAY_ATHLETE": "sam"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "systemctl --user daemon-reload && systemctl --user enable --now legday" in out.stdout
    text = unit.read_text()
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert f"--config {cfg}" in exec_start
    assert f"--db {db}" in exec_start
    assert f"serve --inbox {inbox}" in exec_start
    assert "Restart=always" in text and "WantedBy=default.target" in text
    assert "Environment=LEGDAY_ATHLETE=sam" in text


def test_local_server_tells_its_ui_the_port_it_listens_on(tmp_path: Path) -> None:
    from pipeline.cli.prefect_local import LocalServer

    env = LocalServer(tmp_path, 4321).env()
    assert env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4321/api"
    assert env["PREFECT_SERVER_API_PORT"] == "4321"


def test_a_server_left_by_a_killed_serve_is_stopped_and_nothing_else(tmp_path: Path) -> None:
    """``serve`` killed by SIGKILL leaves its Prefect server (own session) holding port 4200."""
    from pipeline.cli.prefect_local import stop_stale_server

    sleeper = "import time; time.sleep(120)"
    server_like = subprocess.Popen(
        [sys.executable, "-c", sleeper, "prefect", "server", "start"], start_new_session=True
    )
    other = subprocess.Popen([sys.executable, "-c", sleeper], start_new_session=True)
    try:
        (tmp_path / "server.pid").write_text(f"{other.pid}\n")
        assert stop_stale_server(tmp_path, timeout_s=5) is None
        assert other.poll() is None
        (tmp_path / "server.pid").write_text(f"{server_like.pid}\n")
        assert stop_stale_server(tmp_path, timeout_s=5) == server_like.pid
        assert server_like.wait(timeout=5) is not None
        assert not (tmp_path / "server.pid").exists()
        assert stop_stale_server(tmp_path) is None
    finally:
        for p in (server_like, other):
            p.kill()
            p.wait(timeout=5)


def test_catch_up_refreshes_what_a_killed_run_stored_but_never_refreshed(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """serve and watch call it at start: stored activities without kinds get them at once."""
    from datetime import UTC, datetime

    from pipeline.cli import common, serve
    from pipeline.config import AthleteSettings, Settings
    from pipeline.ingest import ingest_files
    from pipeline.store.db import open_store

    cfg = Settings(
        db_path=tmp_path / "s.duckdb",
        data_dir=tmp_path,
        default_athlete="me",
        athletes={"me": AthleteSettings(timezone="Europe/Berlin", max_hr=190)},
    )
    serve.catch_up(cfg)  # no store yet: nothing to do, nothing created
    assert not cfg.db_path.exists()
    files = sorted(sample_dir.glob("*.fit"))[:4]
    ingest_files(cfg.db_path, [(f, "me") for f in files], now=datetime.now(UTC))
    query = "SELECT count(*) FROM activities a ANTI JOIN classifications c USING (activity_id)"
    with open_store(cfg.db_path, read_only=True) as s:
        assert s.scalar(query) == 4  # the run was killed before its refresh
    printed: list[str] = []
    monkeypatch.setattr(common.err, "print", lambda *a, **k: printed.append(str(a[0])))
    monkeypatch.setattr(serve.err, "print", lambda *a, **k: printed.append(str(a[0])))
    serve.catch_up(cfg)
    with open_store(cfg.db_path, read_only=True) as s:
        assert s.scalar(query) == 0
    assert printed == ["classified 4 activit(ies) that a stopped run had stored but not refreshed"]
