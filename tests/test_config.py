"""Settings precedence: flags, then environment, then legday.toml, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import DEFAULT_ATHLETE, load_settings
from pipeline.errors import ConfigError

TOML = """
db = "store/from-file.duckdb"
default_athlete = "ana"
[athletes.ana]
timezone = "Europe/Berlin"
max_hr = 185
[athletes.ana.recovery]
warning_hours = 36
[athletes.ben]
timezone = "America/New_York"
"""


def test_defaults_without_config(tmp_path: Path) -> None:
    s = load_settings(env={}, cwd=tmp_path)
    assert s.default_athlete == DEFAULT_ATHLETE
    assert s.db_path == tmp_path / "data" / "legday.duckdb"
    assert s.athlete().timezone == "UTC"
    assert s.athlete().recovery.warning_hours == 48


def test_toml_in_cwd_is_read_and_paths_are_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "legday.toml").write_text(TOML)
    s = load_settings(env={}, cwd=tmp_path)
    assert s.db_path == tmp_path / "store" / "from-file.duckdb"
    assert s.default_athlete == "ana"
    assert s.athlete().max_hr == 185
    assert s.athlete().recovery.warning_hours == 36
    assert s.athlete("ben").tz.key == "America/New_York"


def test_env_beats_file_and_flags_beat_env(tmp_path: Path) -> None:
    (tmp_path / "legday.toml").write_text(TOML)
    env = {"LEGDAY_DB": "env.duckdb", "LEGDAY_ATHLETE": "ben"}
    s = load_settings(env=env, cwd=tmp_path)
    assert s.db_path == tmp_path / "env.duckdb"
    assert s.default_athlete == "ben"
    s = load_settings(env=env, cwd=tmp_path, db=Path("/x/flag.duckdb"), athlete="ana")
    assert s.db_path == Path("/x/flag.duckdb")
    assert s.default_athlete == "ana"


def test_config_from_env_var(tmp_path: Path) -> None:
    cfg = tmp_path / "elsewhere" / "my.toml"
    cfg.parent.mkdir()
    cfg.write_text(TOML)
    s = load_settings(env={"LEGDAY_CONFIG": str(cfg)}, cwd=tmp_path)
    assert s.config_file == cfg
    assert s.db_path == cfg.parent / "store" / "from-file.duckdb"


@pytest.mark.parametrize(
    "text, needle",
    [
        ('[athletes.a]\ntimezone = "Mars/Olympus"', "unknown timezone"),
        ("[athletes.a]\nmax_hr = 400", "max_hr"),
        ("[athletes.a]\nmaxhr = 190", "maxhr"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "legday.toml").write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_settings(env={}, cwd=tmp_path)


def test_missing_config_file_named_explicitly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist \(named by --config\); check the path"):
        load_settings(env={}, cwd=tmp_path, config=tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"named by LEGDAY_CONFIG"):
        load_settings(env={"LEGDAY_CONFIG": str(tmp_path / "nope.toml")}, cwd=tmp_path)


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "[athletes.a.recovery]\nwarnign_hours = 36",
            "unknown key 'warnign_hours' in [athletes.a.recovery]; did you mean 'warning_hours'?",
        ),
        ('dbb = "x.duckdb"', "unknown key 'dbb'; did you mean 'db'?"),
        (
            "[recovery]\nwarning_hours = 36",
            "unknown key 'recovery'; it belongs to an athlete: put it under "
            "[athletes.<id>.recovery]",
        ),
        ("[athlete.sam]\nmax_hr = 190", "unknown key 'athlete'; did you mean 'athletes'?"),
        (
            "[athletes.a]\nmaxhr = 190",
            "unknown key 'maxhr' in [athletes.a]; did you mean 'max_hr'?",
        ),
        (
            "[athletes.a.load]\nzzz = 1",
            "unknown key 'zzz' in [athletes.a.load]; valid keys here: ctl_days, atl_days, "
            "acute_days, chronic_days",
        ),
        (
            "[athletes.a]\nmax_hr = 400",
            "athletes.a.max_hr = 400: input should be less than or equal to 240",
        ),
    ],
)
def test_config_errors_are_one_line_naming_file_key_and_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Issue 10 (7): not five lines of pydantic text with a link."""
    (tmp_path / "legday.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, cwd=tmp_path)
    message = info.value.message
    assert message == f"config file {tmp_path / 'legday.toml'}: {expected}"
    assert "\n" not in message and "pydantic" not in message


def test_several_config_problems_are_counted_on_the_one_line(tmp_path: Path) -> None:
    (tmp_path / "legday.toml").write_text("[athletes.a]\nmaxhr = 1\nrestin_hr = 2\n")
    with pytest.raises(ConfigError, match=r"did you mean 'max_hr'\? \(and 1 more problem"):
        load_settings(env={}, cwd=tmp_path)


def test_zip_members_are_unpacked_beside_the_store_in_use(tmp_path: Path) -> None:
    """Issue 10 (8): with --db elsewhere, nothing goes to the config's data folder."""
    (tmp_path / "legday.toml").write_text(TOML)
    s = load_settings(env={}, cwd=tmp_path, db=Path("/elsewhere/x.duckdb"))
    assert s.unpack_root == Path("/elsewhere/.legday-unpacked")
