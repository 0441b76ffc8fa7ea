"""The words and FIT categories legday reads as body regions: data for classification.

Two tables and one matcher, no I/O: ``CATEGORY_REGION`` maps a FIT ``exercise_category`` to a
body region and a leg weight, ``KEYWORDS`` maps free text (step names, exercise titles, session
names) to the same, and ``match_text`` finds the first keyword in a text. Used by
``pipeline.derive.classify`` (sessions done), ``pipeline.plans`` (workouts planned) and
``pipeline.exports.match`` (exercise titles of exports), so a new word is added in one place.

Regions: ``lower``, ``upper``, ``core``, ``full`` (whole body or neutral) and ``cardio`` (not a
strength set; ignored for the lower-body share). Weights from domain.md D2: primary lower-body
work 1.0, accessories 0.8, everything else 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: FIT ``exercise_category`` name -> (region, leg weight). Lower-body weights from domain.md D2:
#: primary 1.0, accessory 0.8. Core and upper-body categories get no leg weight: D2 quotes
#: soma's 0.3-0.5 / 0.1-0.3 relevance for them, but counting those would let a long upper-body
#: session add up to a leg day (20 bench sets x 0.2 = 4.0), so ``leg_score`` counts lower-body
#: sets only. ``full`` = whole-body/neutral work; ``cardio`` = not a strength set (ignored for
#: the share).
CATEGORY_REGION: dict[str, tuple[str, float]] = {
    # lower body, primary (D2 weight 1.0); leg_press is squat subtype 0
    "squat": ("lower", 1.0),
    "deadlift": ("lower", 1.0),
    "lunge": ("lower", 1.0),
    "olympic_lift": ("lower", 1.0),
    "plyo": ("lower", 1.0),
    "sled": ("lower", 1.0),
    # lower body, accessory (D2 weight 0.8)
    "leg_curl": ("lower", 0.8),
    "calf_raise": ("lower", 0.8),
    "hip_raise": ("lower", 0.8),
    "hip_swing": ("lower", 0.8),
    "hyperextension": ("lower", 0.8),
    # core
    "hip_stability": ("core", 0.0),
    "leg_raise": ("core", 0.0),
    "core": ("core", 0.0),
    "plank": ("core", 0.0),
    "crunch": ("core", 0.0),
    "sit_up": ("core", 0.0),
    "chop": ("core", 0.0),
    # whole body / neutral
    "total_body": ("full", 0.0),
    "carry": ("full", 0.0),
    "sandbag": ("full", 0.0),
    "tire": ("full", 0.0),
    "sledge_hammer": ("full", 0.0),
    "suspension": ("full", 0.0),
    "banded_exercises": ("full", 0.0),
    # upper body
    "bench_press": ("upper", 0.0),
    "row": ("upper", 0.0),
    "pull_up": ("upper", 0.0),
    "push_up": ("upper", 0.0),
    "shoulder_press": ("upper", 0.0),
    "shoulder_stability": ("upper", 0.0),
    "curl": ("upper", 0.0),
    "triceps_extension": ("upper", 0.0),
    "lateral_raise": ("upper", 0.0),
    "flye": ("upper", 0.0),
    "shrug": ("upper", 0.0),
    "battle_rope": ("upper", 0.0),
    # conditioning, not a strength set
    "cardio": ("cardio", 0.0),
    "warm_up": ("cardio", 0.0),
    "run": ("cardio", 0.0),
    "bike": ("cardio", 0.0),
    "cardio_sensors": ("cardio", 0.0),
    "move": ("cardio", 0.0),
    "pose": ("cardio", 0.0),
    "elliptical": ("cardio", 0.0),
    "floor_climb": ("cardio", 0.0),
    "indoor_bike": ("cardio", 0.0),
    "indoor_row": ("cardio", 0.0),
    "ladder": ("cardio", 0.0),
    "stair_stepper": ("cardio", 0.0),
    "run_indoor": ("cardio", 0.0),
    "bike_outdoor": ("cardio", 0.0),
}

#: Free-text keywords (step names, exercise titles, FIT exercise names, session names), in
#: match order: the first hit wins, so specific phrases come before generic words ("leg raise"
#: is core before "leg" is lower; "leg press" is lower before "press" is upper). Text is
#: lower-cased with ``_``/``-`` turned into spaces; a keyword matches whole words, plural
#: ``s``/``es`` allowed. English plus common German, French, Spanish and Italian words.
KEYWORDS: tuple[tuple[str, str, float], ...] = (
    # not strength work
    ("warm up", "cardio", 0.0),
    ("warmup", "cardio", 0.0),
    ("cool down", "cardio", 0.0),
    ("cooldown", "cardio", 0.0),
    ("rest", "cardio", 0.0),
    ("stretch", "cardio", 0.0),
    ("stretching", "cardio", 0.0),
    # core phrases that contain lower-body words
    ("hanging leg raise", "core", 0.0),
    ("leg raise", "core", 0.0),
    ("leg lift", "core", 0.0),
    ("dead bug", "core", 0.0),
    # lower-body accessories (0.8)
    ("leg curl", "lower", 0.8),
    ("hamstring curl", "lower", 0.8),
    ("lying curl", "lower", 0.8),
    ("nordic", "lower", 0.8),
    ("leg extension", "lower", 0.8),
    ("calf raise", "lower", 0.8),
    ("calf", "lower", 0.8),
    ("calves", "lower", 0.8),
    ("hip thrust", "lower", 0.8),
    ("glute bridge", "lower", 0.8),
    ("hip raise", "lower", 0.8),
    ("glute", "lower", 0.8),
    ("back extension", "lower", 0.8),
    ("hyperextension", "lower", 0.8),
    ("good morning", "lower", 0.8),
    ("kettlebell swing", "lower", 0.8),
    ("kb swing", "lower", 0.8),
    ("swing", "lower", 0.8),
    ("adductor", "lower", 0.8),
    ("abductor", "lower", 0.8),
    ("hamstring", "lower", 0.8),
    ("wadenheben", "lower", 0.8),
    # lower-body primary (1.0)
    ("leg press", "lower", 1.0),
    ("legpress", "lower", 1.0),
    ("beinpresse", "lower", 1.0),
    ("squat", "lower", 1.0),
    ("rdl", "lower", 1.0),
    ("sldl", "lower", 1.0),
    ("deadlift", "lower", 1.0),
    ("dead lift", "lower", 1.0),
    ("romanian", "lower", 1.0),
    ("stiff leg", "lower", 1.0),
    ("lunge", "lower", 1.0),
    ("split squat", "lower", 1.0),
    ("bulgarian", "lower", 1.0),
    ("step up", "lower", 1.0),
    ("stepup", "lower", 1.0),
    ("box jump", "lower", 1.0),
    ("jump", "lower", 1.0),
    ("plyo", "lower", 1.0),
    ("plyometric", "lower", 1.0),
    ("clean", "lower", 1.0),
    ("snatch", "lower", 1.0),
    ("sled", "lower", 1.0),
    ("prowler", "lower", 1.0),
    ("wall sit", "lower", 1.0),
    ("pistol", "lower", 1.0),
    ("kniebeuge", "lower", 1.0),
    ("kreuzheben", "lower", 1.0),
    ("ausfallschritt", "lower", 1.0),
    ("sentadilla", "lower", 1.0),
    ("peso muerto", "lower", 1.0),
    ("zancada", "lower", 1.0),
    ("fente", "lower", 1.0),
    ("soulevé de terre", "lower", 1.0),
    ("affondi", "lower", 1.0),
    # whole body
    ("thruster", "full", 0.0),
    ("burpee", "full", 0.0),
    ("turkish get up", "full", 0.0),
    ("farmer", "full", 0.0),
    ("carry", "full", 0.0),
    ("sandbag", "full", 0.0),
    ("wall ball", "full", 0.0),
    ("full body", "full", 0.0),
    ("total body", "full", 0.0),
    ("whole body", "full", 0.0),
    ("ganzkörper", "full", 0.0),
    # upper body, specific
    ("bench", "upper", 0.0),
    ("push up", "upper", 0.0),
    ("pushup", "upper", 0.0),
    ("pull up", "upper", 0.0),
    ("pullup", "upper", 0.0),
    ("chin up", "upper", 0.0),
    ("chinup", "upper", 0.0),
    ("pulldown", "upper", 0.0),
    ("pull down", "upper", 0.0),
    ("face pull", "upper", 0.0),
    ("overhead press", "upper", 0.0),
    ("shoulder press", "upper", 0.0),
    ("military press", "upper", 0.0),
    ("ohp", "upper", 0.0),
    ("lateral raise", "upper", 0.0),
    ("front raise", "upper", 0.0),
    ("skull crusher", "upper", 0.0),
    ("bicep", "upper", 0.0),
    ("tricep", "upper", 0.0),
    ("triceps", "upper", 0.0),
    ("dip", "upper", 0.0),
    ("fly", "upper", 0.0),
    ("flye", "upper", 0.0),
    ("shrug", "upper", 0.0),
    ("bankdrücken", "upper", 0.0),
    ("klimmzug", "upper", 0.0),
    ("klimmzüge", "upper", 0.0),
    ("rudern", "upper", 0.0),
    ("liegestütz", "upper", 0.0),
    ("upper body", "upper", 0.0),
    ("oberkörper", "upper", 0.0),
    # core, generic
    ("plank", "core", 0.0),
    ("crunch", "core", 0.0),
    ("sit up", "core", 0.0),
    ("situp", "core", 0.0),
    ("russian twist", "core", 0.0),
    ("ab wheel", "core", 0.0),
    ("rollout", "core", 0.0),
    ("hollow", "core", 0.0),
    ("v up", "core", 0.0),
    ("pallof", "core", 0.0),
    ("woodchop", "core", 0.0),
    ("core", "core", 0.0),
    ("abs", "core", 0.0),
    ("bauch", "core", 0.0),
    ("rumpf", "core", 0.0),
    # upper body, generic words last ("leg press"/"leg curl" matched above)
    ("press", "upper", 0.0),
    ("curl", "upper", 0.0),
    ("row", "upper", 0.0),
    ("chest", "upper", 0.0),
    ("shoulder", "upper", 0.0),
    ("arm", "upper", 0.0),
    ("back", "upper", 0.0),
    ("push", "upper", 0.0),
    ("pull", "upper", 0.0),
    ("brust", "upper", 0.0),
    ("schulter", "upper", 0.0),
    ("arme", "upper", 0.0),
    # whole-session words
    ("leg day", "lower", 1.0),
    ("lower body", "lower", 1.0),
    ("leg", "lower", 1.0),
    ("beine", "lower", 1.0),
    ("beintag", "lower", 1.0),
    ("unterkörper", "lower", 1.0),
    ("jambe", "lower", 1.0),
    ("pierna", "lower", 1.0),
    ("gambe", "lower", 1.0),
)

_KEYWORD_PATTERNS: tuple[tuple[re.Pattern[str], str, str, float], ...] = tuple(
    (re.compile(rf"(?<!\w){re.escape(kw)}(?:s|es)?(?!\w)"), kw, region, weight)
    for kw, region, weight in KEYWORDS
)


@dataclass(frozen=True)
class TextHit:
    """A keyword found in free text."""

    keyword: str
    region: str
    weight: float


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[_\-/]+", " ", text.lower())).strip()


def match_text(text: str | None) -> TextHit | None:
    """First keyword of ``KEYWORDS`` found in ``text`` (None when nothing matches)."""
    if not text:
        return None
    norm = _norm(text)
    for pattern, kw, region, weight in _KEYWORD_PATTERNS:
        if pattern.search(norm):
            return TextHit(kw, region, weight)
    return None
