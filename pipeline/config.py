"""Settings: where the store lives, who the athletes are, and every rule threshold.

Precedence, highest first (documented in the README):
1. command-line flags (``--db``, ``--config``, ``--athlete``);
2. environment: ``LEGDAY_DB``, ``LEGDAY_CONFIG``, ``LEGDAY_ATHLETE``, ``LEGDAY_DATA_DIR``;
3. the config file: ``--config`` / ``LEGDAY_CONFIG``, else ``./legday.toml`` when it exists;
4. built-in defaults (one athlete ``default`` in UTC, store ``./data/legday.duckdb``).

``load_settings`` is the only function here that touches the file system or the environment, and
it takes both as arguments so callers (the CLI, flows) decide. Every default of the rule engine is
documented with its source in the README, section "Sport-science defaults".
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import ConfigError

DEFAULT_ATHLETE = "default"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassificationSettings(_Strict):
    """How leg days are recognised from ``set`` messages (domain.md D2)."""

    leg_score_threshold: float = Field(
        4.0, description="Weighted lower-body active sets at or above which a session is a leg day"
    )
    leg_share_threshold: float = Field(
        0.40, description="Or: lower-body weighted share of classified active sets at/above this..."
    )
    leg_share_min_sets: int = Field(6, description="...with at least this many active sets")
    heavy_max_reps: int = Field(
        6, description="A loaded lower-body set of at most this many reps is heavy"
    )
    heavy_min_lower_sets: int = Field(10, description="Or this many lower-body sets make it heavy")
    unaccustomed_days: int = Field(
        14, description="First leg session after this many days is unaccustomed"
    )


class IntensitySettings(_Strict):
    """How a run's intensity is labelled from heart rate (domain.md D2, 'Intense run')."""

    zone_model: Literal["hrmax", "hrr", "lthr"] = Field(
        "hrmax", description="Zones used for the label"
    )
    hard_z4plus_minutes: float = Field(10.0, description="Minutes in Z4+ that make a run hard")
    hard_z4plus_share: float = Field(0.20, description="Or share of the run in Z4+")
    hard_avg_pct_hrmax: float = Field(
        0.85, description="Or average HR at/above this share of HRmax"
    )
    hard_avg_pct_hrr: float = Field(0.75, description="Or average HR at/above this share of HRR")
    moderate_z3plus_share: float = Field(
        0.20, description="Share of the run in Z3+ that makes it moderate"
    )
    moderate_avg_pct_hrmax: float = Field(
        0.75, description="Or average HR at/above this share of HRmax"
    )
    hard_rpe: float = Field(7.0, description="A workout RPE (CR-10) at/above this is hard")


class FatigueConfig(_Strict):
    """Leg fatigue curve (issue 14; docs/fatigue.md derives every default). Unset: model default."""

    tau_quadriceps_h: float | None = Field(None, gt=0, description="Decay constant (31.3 h)")
    tau_posterior_chain_h: float | None = Field(None, gt=0, description="Decay constant (31.3 h)")
    tau_calves_h: float | None = Field(None, gt=0, description="Decay constant (20.8 h)")
    threshold: float | None = Field(None, gt=0, description="Legs ready below this level (0.1)")
    curve_days: int = Field(14, ge=1, le=366, description="Days of hourly curve kept in the store")


class RecoverySettings(_Strict):
    """Windows of the recovery rules, in real elapsed hours (domain.md D1/D2)."""

    model: Literal["windows", "fatigue"] = Field(
        "windows", description="Source of run flags: rule windows, or the leg fatigue curve"
    )
    fatigue: FatigueConfig = FatigueConfig()
    alert_hours: float = Field(24.0, description="Intense run sooner than this after legs: alert")
    warning_hours: float = Field(48.0, description="Intense run sooner than this: warning (S2, S3)")
    heavy_warning_hours: float = Field(
        72.0, description="Window after a heavy/unaccustomed session (S11)"
    )
    info_hours: float = Field(48.0, description="Easy run inside this window after legs: info (S3)")
    same_day_hours: float = Field(
        6.0, description="Within this many hours: same-day interference (S1)"
    )
    unknown_strength: Literal["possible", "legs", "not_legs"] = Field(
        "possible",
        description="A strength session of unknown region: a possible leg session (own flag), "
        "a leg session, or not one",
    )
    possible_legs_severity: Literal["alert", "warning", "info"] = Field(
        "warning", description="Severity of a hard run's flag after a possible leg session"
    )


class LoadSettings(_Strict):
    """Load context: fitness/fatigue (PMC) and acute:chronic ratio."""

    ctl_days: int = Field(42, description="Fitness time constant, days")
    atl_days: int = Field(7, description="Fatigue time constant, days")
    acute_days: int = Field(7, description="Acute window of the ACWR, days")
    chronic_days: int = Field(28, description="Chronic window of the ACWR, days")


class AthleteSettings(_Strict):
    """One athlete: physiology, timezone and rule thresholds."""

    name: str | None = None
    timezone: str = Field("UTC", description="IANA zone; days and reports use it, DST included")
    max_hr: int | None = Field(None, ge=100, le=240)
    resting_hr: int | None = Field(None, ge=25, le=120)
    lthr: int | None = Field(None, ge=90, le=230)
    sex: Literal["male", "female"] | None = None
    birth_year: int | None = Field(None, ge=1900, le=2100)
    classification: ClassificationSettings = ClassificationSettings()
    intensity: IntensitySettings = IntensitySettings()
    recovery: RecoverySettings = RecoverySettings()
    load: LoadSettings = LoadSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {v!r}; use an IANA name like 'Europe/Berlin'"
            ) from exc
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class PlansSettings(_Strict):
    """Planned workouts, the "coming up" check and notifications (issue 13; off by default)."""

    horizon_days: int = Field(3, ge=0, le=31, description="Days ahead the check looks at")
    all_day_hour: int = Field(12, ge=0, le=23, description="Local hour of an all-day plan")
    evening_check: str = Field("20:00", description="Local HH:MM of the evening check")
    notify_urls: list[str] = Field(
        default_factory=list, description="apprise URLs (ntfy://, mailto://, json://...); none: off"
    )

    @field_validator("evening_check")
    @classmethod
    def _hh_mm(cls, v: str) -> str:
        hh, _, mm = v.partition(":")
        if (
            not (len(hh) == len(mm) == 2 and hh.isdigit() and mm.isdigit())
            or int(hh) > 23
            or int(mm) > 59
        ):
            raise ValueError(f"must be a 24-hour local time HH:MM like '20:00', not {v!r}")
        return v


class Settings(_Strict):
    """Everything a run of legday needs to know, resolved once at the edge."""

    db_path: Path = Path("data/legday.duckdb")
    data_dir: Path = Path("data")
    default_athlete: str = DEFAULT_ATHLETE
    athletes: dict[str, AthleteSettings] = Field(
        default_factory=lambda: {DEFAULT_ATHLETE: AthleteSettings()}
    )
    #: inbox subfolder name -> athlete id (``legday watch``); by default a subfolder named after
    #: a configured athlete maps to that athlete.
    inbox_athletes: dict[str, str] = Field(default_factory=dict)
    nightly_cron: str = "30 3 * * *"
    plans: PlansSettings = PlansSettings()
    config_file: Path | None = None

    @property
    def unpack_root(self) -> Path:
        """Where zip members are extracted while a run ingests them: beside the store in use
        (hidden, so that an inbox or folder holding the store never takes them as new files;
        each run has its own folder in it, see ``ingest.unpack_workspace``)."""
        return self.db_path.parent / ".legday-unpacked"

    def athlete(self, athlete_id: str | None = None) -> AthleteSettings:
        key = athlete_id or self.default_athlete
        if key not in self.athletes:
            known = ", ".join(sorted(self.athletes)) or "none"
            raise ConfigError(f"unknown athlete {key!r}; configured athletes: {known}")
        return self.athletes[key]


#: Keys of the config file's top level (``db`` and ``data_dir`` become ``db_path``/``data_dir``).
TOP_LEVEL_KEYS = (
    "db",
    "data_dir",
    "default_athlete",
    "athletes",
    "inbox_athletes",
    "nightly_cron",
    "plans",
)


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The settings model that holds the key at ``loc`` (None: a free-form table)."""
    model: type[BaseModel] = Settings
    parts = list(loc)
    while parts:
        key = parts.pop(0)
        field = model.model_fields.get(str(key))
        if field is None:
            return None
        annotation = field.annotation
        if get_origin(annotation) is dict:
            if not parts:
                return None
            parts.pop(0)  # the athlete id (or folder name): any key is valid there
            annotation = get_args(annotation)[1]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _valid_keys(loc: Sequence[str | int]) -> list[str]:
    if not loc:
        return list(TOP_LEVEL_KEYS)
    model = _model_at(loc)
    return list(model.model_fields) if model is not None else []


def describe_validation_error(exc: ValidationError, cfg_path: Path | None) -> str:
    """One line for a person: the file, the key, what is wrong, and the fix when we can tell.

    A key that is not a setting is a typo more often than not: the closest valid key of the
    same table is suggested (``warnign_hours`` -> ``warning_hours``).
    """
    errors = exc.errors()
    first = errors[0]
    loc = [str(x) for x in first["loc"]]
    where = f"config file {cfg_path}" if cfg_path else "settings"
    table, key = loc[:-1], loc[-1] if loc else ""
    in_table = f" in [{'.'.join(table)}]" if table else ""
    if first["type"] == "extra_forbidden":
        valid = _valid_keys(table)
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        athlete_key = not table and key in AthleteSettings.model_fields
        if athlete_key:  # `[recovery]` or `max_hr = ...` written outside an athlete's table
            section = (
                key if isinstance(AthleteSettings.model_fields[key].default, BaseModel) else ""
            )
            fix = f"it belongs to an athlete: put it under [athletes.<id>{'.' + section if section else ''}]"
        elif close:
            fix = f"did you mean {close[0]!r}?"
        else:
            fix = f"valid keys here: {', '.join(valid)}" if valid else "remove it"
        text = f"{where}: unknown key {key!r}{in_table}; {fix}"
    else:
        msg = str(first["msg"]).removeprefix("Value error, ")
        msg = msg[:1].lower() + msg[1:]
        value = first.get("input")
        shown = f" = {value!r}" if isinstance(value, str | int | float | bool) else ""
        text = f"{where}: {'.'.join(loc) or 'settings'}{shown}: {msg}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem(s) in the same file)"
    return text


def load_settings(
    *,
    env: Mapping[str, str],
    cwd: Path,
    config: Path | None = None,
    db: Path | None = None,
    athlete: str | None = None,
) -> Settings:
    """Resolve settings from flags, environment, a TOML file and defaults (in that order)."""
    cfg_path = config or (Path(env["LEGDAY_CONFIG"]) if env.get("LEGDAY_CONFIG") else None)
    if cfg_path is None and (cwd / "legday.toml").is_file():
        cfg_path = cwd / "legday.toml"
    raw: dict[str, object] = {}
    base = cwd
    if cfg_path is not None:
        cfg_path = cfg_path if cfg_path.is_absolute() else cwd / cfg_path
        try:
            raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            source = "--config" if config else "LEGDAY_CONFIG"
            raise ConfigError(
                f"config file {cfg_path} does not exist (named by {source}); check the path, "
                "or leave it out to use ./legday.toml or the defaults"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {cfg_path} is not valid TOML: {exc}") from exc
        base = cfg_path.parent
    data: dict[str, object] = {k: v for k, v in raw.items() if k not in ("db", "data_dir")}
    data_dir = Path(str(env.get("LEGDAY_DATA_DIR") or raw.get("data_dir") or "data"))
    data_dir = data_dir if data_dir.is_absolute() else base / data_dir
    db_value = db or env.get("LEGDAY_DB") or raw.get("db")
    db_path = Path(str(db_value)) if db_value else data_dir / "legday.duckdb"
    if not db_path.is_absolute():
        db_path = (cwd if (db or env.get("LEGDAY_DB")) else base) / db_path
    data["db_path"] = db_path
    data["data_dir"] = data_dir
    data["config_file"] = cfg_path
    if "athletes" not in data:
        data["athletes"] = {DEFAULT_ATHLETE: {}}
    if "default_athlete" not in data:
        athletes = data["athletes"]
        data["default_athlete"] = (
            next(iter(athletes))
            if isinstance(athletes, dict) and len(athletes) == 1
            else DEFAULT_ATHLETE
        )
    chosen = athlete or env.get("LEGDAY_ATHLETE")
    if chosen:
        data["default_athlete"] = chosen
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, cfg_path)) from exc
    if settings.default_athlete not in settings.athletes:
        if settings.default_athlete == DEFAULT_ATHLETE or chosen is None:
            raise ConfigError(
                f"default athlete {settings.default_athlete!r} is not configured; "
                f"configured: {', '.join(settings.athletes)}"
            )
        # An athlete named on the command line but absent from the config gets defaults.
        athletes_map = dict(settings.athletes)
        athletes_map[settings.default_athlete] = AthleteSettings()
        settings = settings.model_copy(update={"athletes": athletes_map})
    return settings
