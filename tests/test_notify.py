"""Notifications delivered to a loopback HTTP receiver through apprise's json:// URL: a new
conflict arrives once and never again, a failed delivery arrives on the next run, and the
``legday plan``/``legday notify`` commands run in-process through typer's CliRunner."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli import common, plan_cmd
from pipeline.config import AthleteSettings, Settings
from pipeline.plans import deliver
from pipeline.plans import service as sv
from pipeline.plans.notify import TEST_NOTIFICATION
from pipeline.store import plans_sql as ps
from pipeline.store.db import Store, open_store

AS_OF = datetime(2026, 10, 24, 16, 0, tzinfo=UTC)  # Sat 18:00 in Berlin


class Receiver:
    """A webhook on 127.0.0.1: records each JSON body, answers with ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def titles(self) -> list[str]:
        return [str(b.get("title")) for b in self.bodies]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


def settings(tmp_path: Path, urls: list[str]) -> Settings:
    return Settings.model_validate(
        {
            "db_path": tmp_path / "legday.duckdb",
            "data_dir": tmp_path,
            "default_athlete": "ana",
            "athletes": {"ana": AthleteSettings(timezone="Europe/Berlin")},
            "plans": {"notify_urls": urls},
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "legday.duckdb") as s:
        s.migrate(AS_OF)
        yield s


def plan_conflict(store: Store, cfg: Settings) -> None:
    """A leg day this evening and intervals tomorrow morning: one alert."""
    when = {"legs": datetime(2026, 10, 24, 18, 30), "run": datetime(2026, 10, 25, 8, 0)}
    sv.add_manual(store, cfg, "ana", when["legs"], "leg_strength", AS_OF, title="Leg day")
    sv.add_manual(store, cfg, "ana", when["run"], "run", AS_OF, intensity="hard", title="6x800m")


def test_test_message_reaches_the_receiver(receiver: Receiver) -> None:
    [d] = deliver.send(TEST_NOTIFICATION, [receiver.url])
    assert d.ok and d.reason == "" and d.target.startswith("json://127.0.0.1:")
    assert receiver.titles() == ["legday: test notification"]
    assert "legday can reach you" in receiver.bodies[0]["message"]


def test_a_new_conflict_is_sent_once(tmp_path: Path, store: Store, receiver: Receiver) -> None:
    cfg = settings(tmp_path, [receiver.url])
    plan_conflict(store, cfg)
    first = sv.check_and_notify(store, cfg, "ana", AS_OF)
    assert len(first.conflicts) == 1 and [d.ok for d in first.deliveries] == [True]
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert body["title"] == "legday: 1 alert — coming up" and body["type"] == "warning"
    assert body["message"].startswith("ALERT Sun 25 Oct 08:00 CET 6x800m: 13.5 h after 'Leg day'")
    # The next run finds the same conflict and sends nothing.
    second = sv.check_and_notify(store, cfg, "ana", AS_OF + timedelta(minutes=30))
    assert len(second.conflicts) == 1 and second.deliveries == []
    assert len(receiver.bodies) == 1
    key = first.conflicts[0].finding_key
    assert ps.sent_keys(store, deliver.channel_id(receiver.url), [key]) == {key}


def test_a_failed_delivery_is_sent_on_the_next_run(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    cfg = settings(tmp_path, [receiver.url])
    plan_conflict(store, cfg)
    receiver.status = 500
    failed = sv.check_and_notify(store, cfg, "ana", AS_OF)
    [d] = failed.deliveries
    assert not d.ok and "500" in d.reason and "tries again next run" in d.reason
    assert ps.sent_keys(store, d.channel, list(d.keys)) == set()  # not recorded
    receiver.status = 200
    again = sv.check_and_notify(store, cfg, "ana", AS_OF + timedelta(hours=1))
    assert [x.ok for x in again.deliveries] == [True]
    assert len(receiver.bodies) == 2 and receiver.bodies[0] == receiver.bodies[1]
    assert sv.check_and_notify(store, cfg, "ana", AS_OF + timedelta(hours=2)).deliveries == []


def test_one_broken_channel_does_not_hold_back_the_other(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    cfg = settings(tmp_path, ["nosuchscheme://x/y", receiver.url])
    plan_conflict(store, cfg)
    bad, good = sv.check_and_notify(store, cfg, "ana", AS_OF).deliveries
    assert not bad.ok and "not an apprise URL" in bad.reason and "x/y" not in bad.reason
    assert good.ok and len(receiver.bodies) == 1


def test_notifications_are_off_without_urls(tmp_path: Path, store: Store) -> None:
    cfg = settings(tmp_path, [])
    assert cfg.model_validate({}).plans.notify_urls == []  # off by default
    plan_conflict(store, cfg)
    run = sv.check_and_notify(store, cfg, "ana", AS_OF)
    assert len(run.conflicts) == 1 and run.deliveries == []


def test_new_flags_of_completed_runs_are_sent_too(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    cfg = settings(tmp_path, [receiver.url])
    store.insert_frame(
        "recovery_flags",
        pl.DataFrame(
            [{"athlete_id": "ana", "flag_id": "f1", "run_activity_id": "r", "leg_activity_id": "l",
              "run_start_utc": AS_OF - timedelta(hours=5), "leg_end_utc": AS_OF - timedelta(hours=20),
              "hours_between": 15.0, "severity": "alert", "rule": "intense_24h",
              "message": "Intervals 15.0 h after Leg day", "computed_utc": AS_OF}]
        ),
    )  # fmt: skip
    run = sv.check_and_notify(store, cfg, "ana", AS_OF)
    assert run.flags == 1 and [d.keys for d in run.deliveries] == [("f1|intense_24h",)]
    assert receiver.titles() == ["legday: 1 alert — after leg day"]


# -- the commands ---------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, receiver: Receiver) -> Iterator[tuple[CliRunner, typer.Typer]]:
    cfg_file = tmp_path / "legday.toml"
    cfg_file.write_text(
        f'db = "{tmp_path / "legday.duckdb"}"\n[plans]\nnotify_urls = ["{receiver.url}"]\n'
        '[athletes.ana]\ntimezone = "Europe/Berlin"\n',
        encoding="utf-8",
    )
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        common.set_global_options(None, cfg_file, None)

    plan_cmd.register(app)
    yield CliRunner(), app
    common.set_global_options(None, None, None)


def test_plan_commands(cli: tuple[CliRunner, typer.Typer], tmp_path: Path) -> None:
    runner, app = cli
    # Far ahead of the real clock, so `check` (which reads it) never sees them.
    out = runner.invoke(app, ["plan", "add", "2099-10-24 18:30", "leg_strength"])
    assert out.exit_code == 0, out.output
    assert (
        "planned leg strength (leg_strength, moderate) on Sat 2099-10-24 18:30 CEST" in out.output
    )
    out = runner.invoke(
        app, ["plan", "add", "2099-10-25", "run", "--intensity", "hard", "--title", "6x800m"]
    )
    assert out.exit_code == 0 and "(all day)" in out.output
    listed = runner.invoke(app, ["plan", "list"])
    assert listed.exit_code == 0
    legs, run = listed.output.splitlines()
    assert legs.startswith("plan-") and "Sat 2099-10-24 18:30 CEST  leg strength" in legs
    assert "Sun 2099-10-25 (all day)  6x800m  run/hard  (manual)" in run
    bad = runner.invoke(app, ["plan", "add", "soon", "run"])
    assert bad.exit_code == 2 and "cannot read the time 'soon'" in bad.output
    bad = runner.invoke(app, ["plan", "add", "2099-10-25", "swim"])
    assert bad.exit_code == 2 and "unknown kind 'swim': use one of run," in bad.output
    with open_store(tmp_path / "legday.duckdb", read_only=True) as s:
        key = ps.load_plans(s, "ana")[0].plan_key
    gone = runner.invoke(app, ["plan", "remove", key])
    assert gone.exit_code == 0 and "removed leg strength" in gone.output
    missing = runner.invoke(app, ["plan", "remove", key])
    assert missing.exit_code == 2 and "see legday plan list" in missing.output
    checked = runner.invoke(app, ["plan", "check", "--days", "2"])
    assert checked.exit_code == 0
    assert "no conflicts in the planned runs of the next 2 day(s)" in checked.output


def test_plan_import(cli: tuple[CliRunner, typer.Typer], tmp_path: Path) -> None:
    runner, app = cli
    ics = tmp_path / "training.ics"
    ics.write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nX-WR-CALNAME:Coach\r\n"
        b"BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20990101T000000Z\r\nSUMMARY:Run: 6x800m\r\n"
        b"DTSTART:20991025T070000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    out = runner.invoke(app, ["plan", "import", str(ics)])
    assert out.exit_code == 0, out.output
    assert "calendar 'Coach': 1 plan(s) read, 1 new, 0 updated, 0 removed" in out.output
    fit = tmp_path / "workout.fit"
    fit.write_bytes(b"\x0e")
    out = runner.invoke(app, ["plan", "import", str(fit)])
    assert out.exit_code == 2 and "go through legday ingest" in out.output
    txt = tmp_path / "plan.txt"
    txt.write_text("run tomorrow")
    out = runner.invoke(app, ["plan", "import", str(txt)])
    assert out.exit_code == 2 and "reads iCalendar files (.ics)" in out.output

    out = runner.invoke(app, ["plan", "import", str(tmp_path / "nope.ics")])
    assert out.exit_code == 2 and "cannot read" in out.output and "nope.ics" in out.output


def test_plan_check_as_of(cli: tuple[CliRunner, typer.Typer]) -> None:
    """The check at a given time: a hard run planned 12.5 h after a planned leg day."""
    runner, app = cli
    for args in (["2099-10-24 18:30", "leg_strength"], ["2099-10-25 08:00", "run"]):
        extra = ["--intensity", "hard"] if args[1] == "run" else []
        assert runner.invoke(app, ["plan", "add", *args, *extra]).exit_code == 0
    for as_of in ("2099-10-24 08:00", "2099-10-24T06:00:00+00:00", "2099-10-24"):
        out = runner.invoke(app, ["plan", "check", "--days", "2", "--as-of", as_of])
        assert out.exit_code == 0, out.output
        assert "1 conflict(s) in the next 2 day(s)" in out.output, as_of
    # Checked once the run is past: nothing ahead; today (2099 plans far ahead): nothing.
    later = runner.invoke(app, ["plan", "check", "--as-of", "2099-10-26 08:00"])
    assert "no conflicts" in later.output
    assert "no conflicts" in runner.invoke(app, ["plan", "check"]).output
    bad = runner.invoke(app, ["plan", "check", "--as-of", "yesterdayish"])
    assert bad.exit_code == 2 and "cannot read the time 'yesterdayish'" in bad.output


def test_notify_test(cli: tuple[CliRunner, typer.Typer], receiver: Receiver) -> None:
    runner, app = cli
    out = runner.invoke(app, ["notify", "--test"])
    assert out.exit_code == 0, out.output
    assert "sent to json://127.0.0.1:" in out.output
    assert receiver.titles() == ["legday: test notification"]
    receiver.status = 500
    out = runner.invoke(app, ["notify", "--test"])
    assert out.exit_code == 1 and "did not take the notification" in out.output


def test_notify_without_urls_says_how_to_turn_it_on(tmp_path: Path) -> None:
    cfg_file = tmp_path / "legday.toml"
    cfg_file.write_text(f'db = "{tmp_path / "x.duckdb"}"\n', encoding="utf-8")
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        common.set_global_options(None, cfg_file, None)

    plan_cmd.register(app)
    try:
        out = CliRunner().invoke(app, ["notify", "--test"])
    finally:
        common.set_global_options(None, None, None)
    assert out.exit_code == 2
    assert "notifications are off: no notify_urls in [plans]" in out.output


def test_evening_schedule_is_the_configured_local_time(tmp_path: Path) -> None:
    from flows.plans import evening_schedule

    cfg = settings(tmp_path, [])
    assert evening_schedule(cfg) == ("0 20 * * *", "Europe/Berlin")
    later = cfg.model_copy(
        update={"plans": cfg.plans.model_copy(update={"evening_check": "21:05"})}
    )
    assert evening_schedule(later) == ("5 21 * * *", "Europe/Berlin")
