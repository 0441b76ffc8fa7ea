"""Generate ``pipeline/fit/profile.py`` from the Garmin FIT SDK profile (dev dependency).

fitparse 1.2.0 ships the SDK 20.8 profile (2019): newer sport codes, exercise categories, session
fields and messages arrive as raw ints or ``unknown_<n>``. This script writes the code -> name
tables and the field numbers legday needs, so the runtime never imports ``garmin_fit_sdk``
(proprietary licence: a dev-only dependency, never vendored as code, only as numbers and names).

Usage: ``.venv/bin/python scripts/gen_fit_profile.py`` (rewrites the file; commit the result).
"""

from __future__ import annotations

import pprint
from pathlib import Path

from garmin_fit_sdk import Profile

OUT = Path(__file__).resolve().parent.parent / "pipeline" / "fit" / "profile.py"

#: Enum types exported whole as {code: name}.
TYPES = [
    "file",
    "manufacturer",
    "garmin_product",
    "sport",
    "sub_sport",
    "exercise_category",
    "set_type",
]

#: Messages whose field numbers and scales parsing uses: {message name: [field names]}.
MESSAGES: dict[str, list[str]] = {
    "file_id": ["type", "manufacturer", "product", "serial_number", "time_created"],
    "activity": ["timestamp", "local_timestamp"],
    "timestamp_correlation": [
        "timestamp",
        "fractional_timestamp",
        "system_timestamp",
        "fractional_system_timestamp",
    ],
    "sport": ["sport", "sub_sport", "name"],
    "session": [
        "timestamp",
        "start_time",
        "total_elapsed_time",
        "total_timer_time",
        "total_distance",
        "avg_heart_rate",
        "max_heart_rate",
        "total_calories",
        "sport",
        "sub_sport",
        "sport_profile_name",
        "training_load_peak",
        "total_training_effect",
        "total_anaerobic_training_effect",
        "workout_rpe",
    ],
    "lap": [
        "timestamp",
        "start_time",
        "total_elapsed_time",
        "total_timer_time",
        "total_distance",
        "avg_heart_rate",
        "max_heart_rate",
        "total_calories",
    ],
    "record": ["timestamp", "heart_rate", "distance"],
    "hr": ["timestamp", "fractional_timestamp", "filtered_bpm", "event_timestamp"],
    "set": [
        "timestamp",
        "duration",
        "repetitions",
        "weight",
        "set_type",
        "start_time",
        "category",
        "category_subtype",
        "wkt_step_index",
    ],
    "workout": ["wkt_name"],
    "workout_step": ["wkt_step_name", "exercise_category", "exercise_name"],
    "exercise_title": ["exercise_category", "exercise_name", "wkt_step_name"],
}

HEADER = '''"""Garmin FIT profile tables legday needs: code -> name maps and field numbers.

AUTOMATICALLY GENERATED - DO NOT EDIT. Regenerate with ``scripts/gen_fit_profile.py``.
Source: garmin_fit_sdk Profile {version}.
"""

# ruff: noqa
# fmt: off
from __future__ import annotations

PROFILE_VERSION = {version!r}
'''


def _enum(name: str) -> dict[int, str]:
    return {int(k): str(v) for k, v in Profile["types"][name].items()}


def main() -> None:
    v = Profile["version"]
    version = f"{v['major']}.{v['minor']}.{v['patch']}"
    parts = [HEADER.format(version=version)]

    for t in TYPES:
        parts.append(f"{t.upper()}: dict[int, str] = {pprint.pformat(_enum(t), width=100)}\n")

    exercise = {
        name.removesuffix("_exercise_name"): _enum(name)
        for name in sorted(Profile["types"])
        if name.endswith("_exercise_name")
    }
    parts.append(
        "#: {exercise category name: {category_subtype: exercise name}}\n"
        f"EXERCISE_NAMES: dict[str, dict[int, str]] = {pprint.pformat(exercise, width=100)}\n"
    )

    by_name = {m["name"]: m for m in Profile["messages"].values()}
    mesg_nums = {name: int(by_name[name]["num"]) for name in MESSAGES}
    parts.append(f"MESG_NUM: dict[str, int] = {pprint.pformat(mesg_nums, width=100)}\n")

    fields: dict[str, dict[str, tuple[int, float]]] = {}
    for mesg, names in MESSAGES.items():
        prof = {f["name"]: f for f in by_name[mesg]["fields"].values()}
        fields[mesg] = {}
        for fname in names:
            f = prof[fname]
            scale = f["scale"][0] if f["scale"] else 1
            fields[mesg][fname] = (int(f["num"]), float(scale))
    parts.append(
        "#: {message: {field: (field number, scale)}}\n"
        f"FIELDS: dict[str, dict[str, tuple[int, float]]] = {pprint.pformat(fields, width=100)}\n"
    )
    OUT.write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {OUT} (profile {version})")


if __name__ == "__main__":
    main()
