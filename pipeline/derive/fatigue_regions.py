"""Exercise -> leg-region weights for the fatigue channel (issue 14): quadriceps, posterior chain
(hamstrings and glutes), calves.

The table is built at import from the FIT profile's exercise names (``fit_profile.EXERCISE_NAMES``,
1,846 names in 51 categories) and three reviewable rule lists, applied in this order:

1. ``NAME_OVERRIDES``: exact ``(category, exercise name)`` pairs the rules below get wrong;
2. ``KEYWORDS``: words in the exercise name (``romanian`` -> hinge, ``leg_extension`` -> knee
   extension, ``stretch`` -> none), first hit wins; they are not read in categories listed in
   ``NO_KEYWORD_CATEGORIES`` (stretches, yoga poses, wheelchair drills, where "lunge" is a pose);
3. ``CATEGORY_DEFAULTS``: one entry for EVERY profile category, ``NONE`` included, so a name
   always resolves to weights or to an explicit "no leg region" (tests/test_fatigue.py checks).

Weights are relative involvement, not measurements: 1.0 for the prime mover, about 0.5 for a
strong synergist, 0.1-0.3 for a stabiliser. This follows the primary/secondary muscle convention
of Garmin's exercise catalog (anchors-2.md section 1) and domain.md D2's lower-body categories;
S8 (Sporer & Wenger 2003, impairment is local to the muscles used) is why there are regions at all.
Free text (a workout step "Back Squat") resolves through the same keywords, with ``_``, ``-``
and spaces treated alike.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from pipeline.fit.profile import EXERCISE_CATEGORY, EXERCISE_NAMES


class Region(StrEnum):
    """A leg region with its own fatigue curve."""

    QUADRICEPS = "quadriceps"
    POSTERIOR_CHAIN = "posterior_chain"  # hamstrings and glutes
    CALVES = "calves"


REGIONS: tuple[Region, ...] = tuple(Region)


@dataclass(frozen=True)
class RegionWeights:
    """How much one repetition of an exercise loads each leg region (0..1)."""

    quadriceps: float = 0.0
    posterior_chain: float = 0.0
    calves: float = 0.0

    def __post_init__(self) -> None:
        for region in REGIONS:
            value = self.get(region)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"region weight {region}={value} is outside 0..1")

    def get(self, region: Region) -> float:
        return float(getattr(self, region.value))

    @property
    def is_none(self) -> bool:
        return all(self.get(r) == 0.0 for r in REGIONS)

    def scaled(self, factor: float) -> RegionWeights:
        return RegionWeights(*(min(1.0, self.get(r) * factor) for r in REGIONS))


@dataclass(frozen=True)
class Resolution:
    """Where an exercise's weights came from: ``via`` is 'name', 'keyword', 'category' or
    'unknown'; ``rule`` names the entry (the keyword, the category, the override)."""

    weights: RegionWeights
    via: str
    rule: str


# Movement patterns (Q, P, C). Synergist weights: a squat's glutes and adductors work hard but the
# quadriceps limit it; a hinge is limited by hamstrings/glutes.
NONE = RegionWeights()
SQUAT = RegionWeights(1.0, 0.5, 0.1)
LEG_PRESS = RegionWeights(1.0, 0.4, 0.1)
SINGLE_LEG_SQUAT = RegionWeights(1.0, 0.6, 0.2)  # lunges, split squats, step-ups, pistols
HINGE = RegionWeights(0.4, 1.0, 0.1)  # conventional / trap-bar / sumo deadlift
STIFF_HINGE = RegionWeights(0.1, 1.0, 0.0)  # Romanian, straight/stiff leg, good morning
HIP_THRUST = RegionWeights(0.2, 1.0, 0.0)  # bridges, hip thrusts, hip raises
KNEE_FLEXION = RegionWeights(0.0, 1.0, 0.1)  # leg curls, Nordic curls
KNEE_EXTENSION = RegionWeights(1.0, 0.0, 0.0)  # leg extension
CALF = RegionWeights(0.0, 0.0, 1.0)
JUMP = RegionWeights(0.7, 0.4, 0.7)  # plyometric: fast stretch-shortening cycles (S5: drop jumps)
OLYMPIC = RegionWeights(0.7, 0.8, 0.3)
SWING = RegionWeights(0.2, 0.8, 0.0)
BACK_EXTENSION = RegionWeights(0.0, 0.6, 0.0)
HIP_ACCESSORY = RegionWeights(0.1, 0.3, 0.0)  # abduction, adduction, clams, band walks
SLED_PUSH = RegionWeights(0.8, 0.5, 0.5)
BURPEE = RegionWeights(0.4, 0.2, 0.3)
FARMER_ON_TOES = RegionWeights(0.0, 0.0, 0.6)

#: Sets nothing identifies but whose session is a leg session: half of a squat-and-hinge mix, so
#: an unnamed set counts without claiming to be the heaviest pattern.
UNKNOWN_LOWER = RegionWeights(0.5, 0.5, 0.2)
#: ... and in a whole-body session.
UNKNOWN_FULL = RegionWeights(0.25, 0.25, 0.1)
#: Possible session region (classify.REGIONS) -> weights for its unidentified sets.
POSSIBLE_REGION_WEIGHTS: dict[str, RegionWeights] = {
    "lower": UNKNOWN_LOWER,
    "full": UNKNOWN_FULL,
}


def _words(*groups: str) -> list[str]:
    return [word for group in groups for word in group.split()]


#: Every FIT exercise category -> its default pattern; NONE means "no leg region" on purpose.
CATEGORY_DEFAULTS: dict[str, RegionWeights] = {
    "squat": SQUAT,
    "deadlift": HINGE,
    "lunge": SINGLE_LEG_SQUAT,
    "olympic_lift": OLYMPIC,
    "plyo": JUMP,
    "sled": SLED_PUSH,
    "leg_curl": KNEE_FLEXION,
    "calf_raise": CALF,
    "hip_raise": HIP_THRUST,
    "hip_swing": SWING,
    "hyperextension": BACK_EXTENSION,
    "hip_stability": HIP_ACCESSORY,
    **dict.fromkeys(
        _words(
            # core: hip flexors and trunk, not the regions a run needs recovered
            "leg_raise core plank crunch sit_up chop",
            # whole body: leg moves inside them are found by keyword (burpee, squat, lunge)
            "total_body carry sandbag tire sledge_hammer suspension banded_exercises battle_rope",
            # upper body
            "bench_press row pull_up push_up shoulder_press shoulder_stability curl",
            "triceps_extension lateral_raise flye shrug",
            # conditioning and mobility: endurance work, counted by the run/ride metrics instead
            "cardio warm_up run bike cardio_sensors move pose elliptical floor_climb",
            "indoor_bike indoor_row ladder stair_stepper run_indoor bike_outdoor unknown",
        ),
        NONE,
    ),
}

#: Categories whose names are stretches, poses or mobility drills: keywords are not read there.
NO_KEYWORD_CATEGORIES = frozenset(
    {"warm_up", "pose", "move", "cardio", "run", "bike", "run_indoor", "bike_outdoor"}
)

#: (keyword, pattern), first hit wins: specific phrases before generic words. Matched on whole
#: words of the name with ``_``/``-`` as spaces; a trailing ``s`` is allowed.
KEYWORDS: tuple[tuple[str, RegionWeights], ...] = (
    ("stretch", NONE),
    ("wheelchair", NONE),
    ("leg raise", NONE),
    ("knee raise", NONE),
    ("toes to bar", NONE),
    ("leg extension", KNEE_EXTENSION),
    ("leg curl", KNEE_FLEXION),
    ("hamstring curl", KNEE_FLEXION),
    ("nordic", KNEE_FLEXION),
    ("leg press", LEG_PRESS),
    ("calf raise", CALF),
    ("toe raise", CALF),
    ("on toes", FARMER_ON_TOES),
    ("romanian", STIFF_HINGE),
    ("rdl", STIFF_HINGE),
    ("straight leg deadlift", STIFF_HINGE),
    ("stiff leg", STIFF_HINGE),
    ("good morning", STIFF_HINGE),
    ("single leg deadlift", STIFF_HINGE),
    ("deadlift", HINGE),
    ("rack pull", HINGE),
    ("hip thrust", HIP_THRUST),
    ("glute bridge", HIP_THRUST),
    ("bridge", HIP_THRUST),
    ("hip raise", HIP_THRUST),
    ("swing", SWING),
    ("jump", JUMP),
    ("hop", JUMP),
    ("leap", JUMP),
    ("burpee", BURPEE),
    ("squat thrust", BURPEE),
    ("clean", OLYMPIC),
    ("snatch", OLYMPIC),
    ("jerk", OLYMPIC),
    ("split squat", SINGLE_LEG_SQUAT),
    ("single leg squat", SINGLE_LEG_SQUAT),
    ("pistol", SINGLE_LEG_SQUAT),
    ("step up", SINGLE_LEG_SQUAT),
    ("stepover", SINGLE_LEG_SQUAT),
    ("lunge", SINGLE_LEG_SQUAT),
    ("thruster", SQUAT),
    ("wall ball", SQUAT),
    ("squat", SQUAT),
    ("back extension", BACK_EXTENSION),
    ("hyperextension", BACK_EXTENSION),
    ("hip abduction", HIP_ACCESSORY),
    ("leg abduction", HIP_ACCESSORY),
    ("hip adduction", HIP_ACCESSORY),
    ("leg adduction", HIP_ACCESSORY),
    ("standing adduction", HIP_ACCESSORY),
)

#: Exact pairs the keyword and category rules get wrong, with the reason in a comment.
NAME_OVERRIDES: dict[tuple[str, str], RegionWeights] = {
    ("calf_raise", "single_leg_decline_push_up"): NONE,  # a push-up filed under calf raises
    ("calf_raise", "single_leg_hip_raise_with_knee_hold"): HIP_THRUST,
    ("crunch", "leg_extensions"): NONE,  # the ab exercise, not the machine
    ("crunch", "weighted_leg_extensions"): NONE,
    ("plank", "plank_pike_jumps"): NONE,
    ("plank", "weighted_plank_pike_jumps"): NONE,
    ("core", "arm_and_leg_extension_on_knees"): NONE,  # bird dog
    ("core", "bicep_curl_with_leg_extension"): NONE,
    ("core", "bicep_curl_with_leg_extension_with_weights"): NONE,
    ("sled", "chest_press"): NONE,  # upper-body sled work
    ("sled", "row"): NONE,
    ("sled", "backward_drag"): RegionWeights(1.0, 0.2, 0.3),  # reverse drag: knee extensors
    ("sled", "forward_drag"): RegionWeights(0.5, 0.7, 0.5),
    ("hyperextension", "lat_pull_down_with_row"): NONE,
    ("hyperextension", "one_arm_row_with_band"): NONE,
    ("hyperextension", "hollow_hold_and_roll"): NONE,
    ("hyperextension", "weighted_hollow_hold_and_roll"): NONE,
    ("hyperextension", "plank_knee_tucks"): NONE,
    ("hyperextension", "weighted_plank_knee_tucks"): NONE,
    ("hyperextension", "kicks"): NONE,
    ("hyperextension", "weighted_kicks"): NONE,
    ("hyperextension", "base_rotations"): NONE,
    ("hyperextension", "weighted_base_rotations"): NONE,
    ("hyperextension", "side_step"): HIP_ACCESSORY,
    ("hyperextension", "weighted_side_step"): HIP_ACCESSORY,
    ("hip_stability", "dead_bug"): NONE,
    ("hip_stability", "weighted_dead_bug"): NONE,
    ("hip_raise", "leg_circles"): HIP_ACCESSORY,
    ("hip_raise", "leg_lift"): HIP_ACCESSORY,
    ("hip_raise", "leg_lift_in_external_rotation"): HIP_ACCESSORY,
    ("hip_raise", "inner_thigh_circles"): HIP_ACCESSORY,
    ("hip_raise", "inner_thigh_side_lift"): HIP_ACCESSORY,
    ("hip_raise", "clams"): HIP_ACCESSORY,
    ("plyo", "cross_knee_strike"): NONE,  # striking drills, no loaded landing
    ("plyo", "weighted_cross_knee_strike"): NONE,
    ("plyo", "front_knee_strike"): NONE,
    ("plyo", "weighted_front_knee_strike"): NONE,
    ("plyo", "medicine_ball_overhead_throws"): NONE,
    ("plyo", "medicine_ball_side_throw"): NONE,
    ("plyo", "medicine_ball_slam"): NONE,
    ("plyo", "side_to_side_medicine_ball_throws"): NONE,
    ("shrug", "barbell_jump_shrug"): NONE,  # the "jump" is a shrug
    ("shrug", "dumbbell_jump_shrug"): NONE,
    ("shrug", "wide_grip_jump_shrug"): NONE,
    ("pull_up", "jumping_pull_ups"): NONE,
    ("pull_up", "weighted_jumping_pull_ups"): NONE,
    ("sledge_hammer", "lateral_swing"): NONE,  # an arm swing
    ("row", "barbell_straight_leg_deadlift_to_row"): STIFF_HINGE,
    ("row", "rdl_bent_over_row_with_barbell_dumbbell"): STIFF_HINGE,
}

_CATEGORY_NAMES = frozenset(EXERCISE_CATEGORY.values())
_KEYWORD_PATTERNS = tuple(
    (kw, re.compile(rf"(?<!\w){re.escape(kw)}s?(?!\w)"), w) for kw, w in KEYWORDS
)


def _text(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.lower()).strip()


# Cached: a history repeats a few dozen exercises thousands of times, and refresh resolves
# every set of it (the keyword search was a third of refresh_fatigue on three years).
@functools.lru_cache(maxsize=8192)
def resolve(category: str | None, exercise_name: str | None) -> Resolution:
    """Region weights of a set known by category and/or exercise name (either may be None or
    free text); ``via='unknown'`` (weights NONE) when neither identifies an exercise."""
    cat = category if category and category != "unknown" else None
    name = exercise_name.strip() if exercise_name and exercise_name.strip() else None
    if cat is not None and name is not None and (cat, name) in NAME_OVERRIDES:
        return Resolution(NAME_OVERRIDES[(cat, name)], "name", f"{cat}/{name}")
    if name is not None and (cat is None or cat not in NO_KEYWORD_CATEGORIES):
        text = _text(name)
        for kw, pattern, weights in _KEYWORD_PATTERNS:
            if pattern.search(text):
                return Resolution(weights, "keyword", kw)
    if cat is not None and cat in CATEGORY_DEFAULTS:
        return Resolution(CATEGORY_DEFAULTS[cat], "category", cat)
    return Resolution(NONE, "unknown", "")


def _build_table() -> dict[tuple[str, str], Resolution]:
    return {
        (cat, name): resolve(cat, name)
        for cat, names in EXERCISE_NAMES.items()
        for name in names.values()
    }


#: Every (category, exercise name) of the FIT profile -> its resolution.
EXERCISE_REGIONS: dict[tuple[str, str], Resolution] = _build_table()


def missing_categories() -> list[str]:
    """Profile categories without an explicit default (should be empty; a test says so)."""
    return sorted(_CATEGORY_NAMES - CATEGORY_DEFAULTS.keys())
