"""What a FIT workout file (type 5) plans: kind and intensity from already-decoded messages.

Input is what fitparse 1.2.0's ``get_values()`` gives for ``workout`` (26) and ``workout_step``
(27) messages; this module never decodes bytes itself (schedules: ``pipeline.plans.schedule``).
Two gaps of fitparse 1.2.0 are handled here (exports.md section 3):

* heart-rate values are NOT offset-corrected: a ``workout_hr`` value 0-100 is % of HRmax, a
  value above 100 is bpm + 100 (``custom_target_heart_rate_low = 270`` means 170 bpm); power
  0-1000 is % of FTP, above 1000 is W + 1000;
* ``intensity`` codes above 3 come back as raw ints (4 recovery, 5 interval, 6 other); enum
  names of the profile (``sport``, ``exercise_category``) may also arrive as raw ints.

The intensity of a run comes from its structure, with the thresholds of ``IntensitySettings``
that label a completed run (``pipeline.derive.metrics.label_intensity``):

* each work step (``active``/``interval``/``other``) is rated from its target: heart rate (zone
  number or custom range, the range's midpoint against the athlete's zone floors, Z4+ hard, Z3
  moderate), speed (against threshold speed when configured: Friel's run pace zones, faster than
  105 % of threshold pace is Z4+ = hard, 106-113 % moderate) or power (% FTP: >= 91 % hard, >= 76 %
  moderate, Coggan); warm-up, cool-down, rest and recovery steps are never hard;
* repeats multiply the steps they loop over (``repeat_until_steps_cmplt``: ``duration_step`` is
  the first step of the loop, ``repeat_steps`` the count);
* hard: planned time at hard targets >= ``hard_z4plus_minutes`` or >= ``hard_z4plus_share`` of
  the planned time, or a hard step of unknown length (a distance without a pace), or repeated
  ``interval`` steps without a target; moderate: hard + moderate time >= ``moderate_z3plus_share``;
  easy: work steps with targets, none of the above; unknown: no targets, then the workout name is
  read with ``pipeline.plans.text.classify_text`` and the reason says so.

A strength workout is a leg session when its sets (steps x repeats, region from
``exercise_category`` via ``pipeline.derive.keywords.CATEGORY_REGION``, else the step name) pass the same
leg thresholds as a completed session (``ClassificationSettings``); it is ``hard`` (heavy) when a
lower-body step asks for at most ``heavy_max_reps`` reps with a weight, or has at least
``heavy_min_lower_sets`` lower-body sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pipeline.config import ClassificationSettings, IntensitySettings
from pipeline.derive.keywords import CATEGORY_REGION, match_text
from pipeline.derive.metrics import HrProfile
from pipeline.fit import profile as fit_profile
from pipeline.plans.model import (
    Intensity,
    Kind,
)
from pipeline.plans.text import classify_text

#: FIT ``intensity`` enum (profile 21.x); fitparse 1.2.0 names only 0-3.
INTENSITY_CODES = {0: "active", 1: "rest", 2: "warmup", 3: "cooldown", 4: "recovery"}
INTENSITY_CODES |= {5: "interval", 6: "other"}
WORK = frozenset({"active", "interval", "other", None})
DURATION_TYPES = {0: "time", 1: "distance", 2: "hr_less_than", 3: "hr_greater_than", 5: "open"}
DURATION_TYPES |= {
    6: "repeat_until_steps_cmplt",
    29: "reps",
    31: "time_only",
    28: "repetition_time",
}
TARGET_TYPES = {0: "speed", 1: "heart_rate", 2: "open", 3: "cadence", 4: "power"}
#: Friel run pace zones: Z4 starts at 105 % of threshold pace, Z3 at 113 % (pace = 1/speed).
PACE_HARD = 1.05
PACE_MODERATE = 1.13
#: Coggan power zones: threshold (Z4) from 91 % FTP, tempo (Z3) from 76 %.
POWER_HARD = 0.91
POWER_MODERATE = 0.76
HR_OFFSET = 100
POWER_OFFSET = 1000


@dataclass(frozen=True)
class PlanZones:
    """The athlete's anchors that planned targets are judged against."""

    hr: HrProfile
    zone_model: str = "hrmax"
    threshold_speed_mps: float | None = None  # threshold (LT) pace as speed; None: unknown
    ftp_w: float | None = None


@dataclass(frozen=True)
class WorkoutDecision:
    """What a workout file plans, before it has a date: kind, intensity and why."""

    title: str
    sport: str
    kind: Kind
    intensity: Intensity
    reason: str
    duration: timedelta | None


def _name(value: object, table: Mapping[int, str]) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return table.get(value, str(value))
    return None


def _num(step: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        v = step.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return None


@dataclass(frozen=True)
class _Step:
    index: int
    name: str
    intensity: str | None
    seconds: float | None
    level: str | None  # hard / moderate / easy / None (no usable target)
    target: str  # what the level came from, for the reason
    reps: float | None
    weight: float | None
    category: str | None


def _hr_bpm(raw: float, profile: HrProfile) -> float:
    """FIT ``workout_hr``: > 100 is bpm + 100, 0-100 is % of HRmax."""
    return raw - HR_OFFSET if raw > HR_OFFSET else raw / 100.0 * profile.max_hr


def _level_from_zone(zone: int) -> str:
    return "hard" if zone >= 4 else "moderate" if zone == 3 else "easy"


def _rate(step: Mapping[str, Any], zones: PlanZones) -> tuple[str | None, str, float | None]:
    """(level, description, target speed m/s) of one step's target."""
    target = _name(step.get("target_type"), TARGET_TYPES)
    raw_pair = "custom_target_value_low" in step or "custom_target_value_high" in step
    if target == "heart_rate":
        zone = _num(step, "target_hr_zone", "target_value")
        if zone:
            z = int(zone)
            return _level_from_zone(z), f"HR zone {z}", None
        lo = _num(step, "custom_target_heart_rate_low", "custom_target_value_low")
        hi = _num(step, "custom_target_heart_rate_high", "custom_target_value_high")
        vals = [_hr_bpm(v, zones.hr) for v in (lo, hi) if v]
        if not vals:
            return None, "heart rate, no range", None
        mid = sum(vals) / len(vals)
        floors = zones.hr.zone_floors(zones.zone_model)
        z = 1 + sum(1 for f in floors[1:] if mid >= f)
        rng = "-".join(f"{v:.0f}" for v in vals)
        desc = f"{rng} bpm (Z{z} of {zones.zone_model} zones, Z4 from {floors[3]:.0f} bpm)"
        return _level_from_zone(z), desc, None
    if target == "speed":
        lo = _num(step, "custom_target_speed_low", "custom_target_value_low")
        hi = _num(step, "custom_target_speed_high", "custom_target_value_high")
        vals = [v / 1000.0 if raw_pair else v for v in (lo, hi) if v]
        if not vals:
            zone = _num(step, "target_speed_zone", "target_value")
            return None, f"speed zone {int(zone or 0)} (no pace zones known)", None
        mid = sum(vals) / len(vals)
        per_km = round(1000 / mid)
        pace = f"{per_km // 60}:{per_km % 60:02d} /km"
        if zones.threshold_speed_mps is None:
            return None, f"pace {pace} (no threshold pace configured)", mid
        ratio = zones.threshold_speed_mps / mid  # pace as a multiple of threshold pace
        level = "hard" if ratio <= PACE_HARD else "moderate" if ratio <= PACE_MODERATE else "easy"
        return level, f"pace {pace} = {ratio:.0%} of threshold pace", mid
    if target == "power":
        zone = _num(step, "target_power_zone", "target_value")
        if zone:
            z = int(zone)
            return _level_from_zone(z), f"power zone {z}", None
        lo = _num(step, "custom_target_power_low", "custom_target_value_low")
        hi = _num(step, "custom_target_power_high", "custom_target_value_high")
        vals = [v for v in (lo, hi) if v]
        if not vals:
            return None, "power, no range", None
        mid = sum(vals) / len(vals)
        if mid > POWER_OFFSET:
            if zones.ftp_w is None:
                return None, f"{mid - POWER_OFFSET:.0f} W (no FTP configured)", None
            share = (mid - POWER_OFFSET) / zones.ftp_w
        else:
            share = mid / 100.0
        level = "hard" if share >= POWER_HARD else "moderate" if share >= POWER_MODERATE else "easy"
        return level, f"power {share:.0%} FTP", None
    return None, "no target", None


def _steps(raw: Sequence[Mapping[str, Any]], zones: PlanZones) -> tuple[list[_Step], list[int]]:
    """Steps in order and how many times each runs (repeats expanded, nested ones multiplied)."""
    ordered = sorted(enumerate(raw), key=lambda ir: (ir[1].get("message_index", ir[0]) or 0, ir[0]))
    steps: list[_Step] = []
    mult: list[int] = []
    pos_of: dict[int, int] = {}
    repeats: list[tuple[int, int, int]] = []  # (position of repeat step, loop start index, count)
    for pos, (i, s) in enumerate(ordered):
        index = int(s.get("message_index", i) or 0)
        pos_of[index] = pos
        dtype = _name(s.get("duration_type"), DURATION_TYPES) or ""
        if dtype.startswith("repeat"):
            start = int(_num(s, "duration_step", "duration_value") or 0)
            count = int(_num(s, "repeat_steps", "target_value") or 0)
            if dtype != "repeat_until_steps_cmplt" or count < 1:
                count = 2  # repeat until a time/distance/HR: at least twice, count unknown
            repeats.append((pos, start, count))
            steps.append(_Step(index, "repeat", "repeat", 0.0, None, "", None, None, None))
            mult.append(0)
            continue
        level, desc, speed = _rate(s, zones)
        seconds: float | None = None
        if dtype in ("time", "time_only", "repetition_time"):
            seconds = _num(s, "duration_time")
            if seconds is None and (v := _num(s, "duration_value")) is not None:
                seconds = v / 1000.0
        elif dtype == "distance":
            metres = _num(s, "duration_distance")
            if metres is None and (v := _num(s, "duration_value")) is not None:
                metres = v / 100.0
            if metres is not None and speed:
                seconds = metres / speed
        reps = _num(s, "duration_reps") if dtype == "reps" else None
        steps.append(
            _Step(
                index=index,
                name=str(s.get("wkt_step_name") or s.get("notes") or ""),
                intensity=_name(s.get("intensity"), INTENSITY_CODES),
                seconds=seconds,
                level=level,
                target=desc,
                reps=reps,
                weight=_num(s, "exercise_weight"),
                category=_name(s.get("exercise_category"), fit_profile.EXERCISE_CATEGORY),
            )
        )
        mult.append(1)
    for pos, start, count in repeats:
        first = pos_of.get(start, pos)
        for p in range(min(first, pos), pos):
            mult[p] *= count
    return steps, mult


def _fmt_min(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _run_intensity(
    steps: list[_Step], mult: list[int], settings: IntensitySettings
) -> tuple[Intensity, str]:
    hard_s = moderate_s = known_s = 0.0
    hard_unknown: list[str] = []
    interval_no_target = 0
    rated = 0
    hard_desc: list[str] = []
    for st, n in zip(steps, mult, strict=True):
        if n == 0:
            continue
        work = st.intensity in WORK
        if st.seconds is not None:
            known_s += st.seconds * n
        if not work:
            continue
        if st.level is not None:
            rated += 1
        if st.level == "hard":
            label = f"{n} × {st.target}" if n > 1 else st.target
            if label not in hard_desc:
                hard_desc.append(label)
            if st.seconds is None:
                hard_unknown.append(label)
            else:
                hard_s += st.seconds * n
        elif st.level == "moderate" and st.seconds is not None:
            moderate_s += st.seconds * n
        elif st.level is None and st.intensity == "interval" and n > 1:
            interval_no_target += n
    total = f"{_fmt_min(known_s)} planned" if known_s else "length unknown"
    if hard_unknown:
        return "hard", f"hard: {'; '.join(hard_unknown)} at hard targets, length unknown"
    if hard_s / 60 >= settings.hard_z4plus_minutes:
        return "hard", (
            f"hard: {_fmt_min(hard_s)} at Z4+ targets >= {settings.hard_z4plus_minutes:g} min "
            f"({'; '.join(hard_desc)}; {total})"
        )
    if known_s and hard_s / known_s >= settings.hard_z4plus_share:
        return "hard", (
            f"hard: {_fmt_min(hard_s)} at Z4+ targets = {hard_s / known_s:.0%} of {total} "
            f">= {settings.hard_z4plus_share:.0%} ({'; '.join(hard_desc)})"
        )
    if interval_no_target:
        return "hard", f"hard: {interval_no_target} repeated interval steps (no targets)"
    if known_s and (hard_s + moderate_s) / known_s >= settings.moderate_z3plus_share:
        share = (hard_s + moderate_s) / known_s
        return "moderate", (
            f"moderate: {_fmt_min(hard_s + moderate_s)} at Z3+ targets = {share:.0%} of {total} "
            f">= {settings.moderate_z3plus_share:.0%}"
        )
    if rated:
        targets = sorted({st.target for st in steps if st.level is not None})
        return "easy", f"easy: work steps at {'; '.join(targets)}; {_fmt_min(hard_s)} at Z4+"
    return "unknown", "no heart-rate, pace or power targets in the steps"


def _strength(
    steps: list[_Step], mult: list[int], settings: ClassificationSettings
) -> tuple[Kind, Intensity, str] | None:
    lower_w = 0.0
    counted = 0
    lower_sets = 0
    heavy: list[str] = []
    for st, n in zip(steps, mult, strict=True):
        if n == 0 or st.intensity not in WORK:
            continue
        region: str | None = None
        weight = 0.0
        label = ""
        if st.category in CATEGORY_REGION:
            region, weight = CATEGORY_REGION[st.category]
            label = st.category
        elif (hit := match_text(st.name)) is not None:
            region, weight, label = hit.region, hit.weight, hit.keyword
        if region is None or region in ("cardio", "unknown"):
            continue
        counted += n
        if region == "lower":
            lower_w += weight * n
            lower_sets += n
            if st.reps is not None and st.reps <= settings.heavy_max_reps and st.weight:
                heavy.append(f"{label} {st.reps:g} reps at {st.weight:g} kg")
    if not counted:
        return None
    share = lower_w / counted
    facts = f"{lower_sets} of {counted} planned sets lower body, leg score {lower_w:.1f}"
    is_leg = lower_w >= settings.leg_score_threshold or (
        share >= settings.leg_share_threshold and counted >= settings.leg_share_min_sets
    )
    if not is_leg:
        return "strength", "moderate", f"strength: {facts} (< {settings.leg_score_threshold:g})"
    if lower_sets >= settings.heavy_min_lower_sets:
        heavy.append(f"{lower_sets} lower-body sets >= {settings.heavy_min_lower_sets}")
    if heavy:
        return "leg_strength", "hard", f"leg strength, heavy: {facts}; {'; '.join(heavy)}"
    return "leg_strength", "moderate", f"leg strength: {facts}"


def plan_from_workout(
    workout: Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
    zones: PlanZones,
    intensity: IntensitySettings | None = None,
    classification: ClassificationSettings | None = None,
) -> WorkoutDecision:
    """Kind and intensity a workout file plans, from its steps first and its name last."""
    isettings = intensity or IntensitySettings()
    csettings = classification or ClassificationSettings()
    title = str(workout.get("wkt_name") or "Workout")
    description = str(workout.get("wkt_description") or workout.get("unknown_17") or "")
    sport = _name(workout.get("sport"), fit_profile.SPORT) or "generic"
    sub = _name(workout.get("sub_sport"), fit_profile.SUB_SPORT) or ""
    parsed, mult = _steps(steps, zones)
    timed = [(s.seconds, n) for s, n in zip(parsed, mult, strict=True) if n]
    # A duration only when every step has one (reps or open steps make the length unknown).
    known = all(sec is not None for sec, _ in timed) and bool(timed)
    duration = timedelta(seconds=sum((sec or 0.0) * n for sec, n in timed)) if known else None
    named = classify_text(title, description)
    kind: Kind
    level: Intensity
    if sport == "running" or (sport == "generic" and named.kind == "run"):
        level, why = _run_intensity(parsed, mult, isettings)
        kind = "run"
        if level == "unknown" and named.kind == "run" and named.intensity != "unknown":
            level, why = named.intensity, f"{named.reason}; {why}, so the name decided"
        sport = "running"
    elif (
        sport in ("training", "fitness_equipment")
        or sub == "strength_training"
        or any(s.category for s in parsed)
    ):
        found = _strength(parsed, mult, csettings)
        if found is not None:
            kind, level, why = found
        elif named.kind in ("leg_strength", "strength"):
            kind, level, why = named.kind, named.intensity, f"{named.reason} (no sets to read)"
        else:
            kind, level, why = "strength", "unknown", "strength: no exercises to read"
    else:
        level, why = _run_intensity(parsed, mult, isettings)
        kind = "other"
        why = f"other: sport {sport}; {why}"
    return WorkoutDecision(title, sport, kind, level, why, duration)
