"""Kind and intensity of a planned session from its title and description.

``classify_text``, first match wins:

1. a TrainingPeaks ``"Sport: title"`` prefix decides the sport (``Run:``, ``Bike:``, ``Strength:``);
2. lower-body words ("legs", "squat", "leg day", "Kniebeuge", "sentadillas", "jambes") make a
   leg-strength session, unless the prefix names an endurance sport;
3. run words, or words that only make sense for a run ("6x800m", "tempo", "fartlek"), make a run;
   its intensity is hard on hard words ("intervals", "threshold", "VO2", "hill repeats"), else
   moderate ("steady", "marathon pace", "long run"), else easy ("easy", "recovery"), else unknown;
4. upper-body or generic strength words make a strength session;
5. anything else is ``other``.

Repeats next to "strides" (6x100m strides) are accelerations in an easy run, not intervals.
English plus German, Spanish and French keywords. For a leg session, intensity ``hard`` means
heavy ("heavy", "5RM", "max"): the recovery rules then use the longer heavy-session window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.plans.model import Intensity, Kind


@dataclass(frozen=True)
class TextClass:
    """What free text says a session is, and the words that decided."""

    sport: str
    kind: Kind
    intensity: Intensity
    reason: str


def _words(*alternatives: str) -> re.Pattern[str]:
    # Longest first, so "leg day" is reported rather than "leg".
    body = "|".join(sorted(alternatives, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


#: TrainingPeaks writes ``SUMMARY:Run: 6x800m``; the prefix names the sport.
_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z \-]{1,20}?)\s*:\s*")
_PREFIX_SPORT: dict[str, str] = {
    "run": "running",
    "running": "running",
    "trail run": "running",
    "lauf": "running",
    "bike": "cycling",
    "ride": "cycling",
    "cycling": "cycling",
    "mtb": "cycling",
    "swim": "swimming",
    "strength": "training",
    "weights": "training",
    "gym": "training",
    "walk": "walking",
    "hike": "hiking",
    "rowing": "rowing",
    "row": "rowing",
    "xc-ski": "cross_country_skiing",
    "day off": "rest",
    "brick": "multisport",
    "other": "other",
    "custom": "other",
}
_ENDURANCE = frozenset({"cycling", "swimming", "walking", "hiking", "rowing", "rest"})

_LEG = _words(
    r"legs?",
    r"leg day",
    r"leg press",
    r"lower body",
    r"squats?",
    r"front squats?",
    r"deadlifts?",
    r"rdls?",
    r"lunges?",
    r"beine?",
    r"beintag",
    r"unterkörper",
    r"kniebeugen?",
    r"kreuzheben",
    r"ausfallschritte?",
    r"piernas?",
    r"tren inferior",
    r"sentadillas?",
    r"peso muerto",
    r"zancadas?",
    r"jambes?",
    r"bas du corps",
    r"soulevé de terre",
    r"fentes?",
)
_HEAVY = _words(r"heavy", r"schwer", r"pesado", r"lourde?", r"\d+\s*rm", r"max(?:imal)?", r"5x5")
_UPPER = _words(
    r"upper body",
    r"bench(?: press)?",
    r"push[- ]?ups?",
    r"pull[- ]?ups?",
    r"chest",
    r"shoulders?",
    r"arms?",
    r"biceps",
    r"triceps",
    r"oberkörper",
    r"brust",
    r"schultern?",
    r"arme",
    r"tren superior",
    r"pecho",
    r"hombros?",
    r"brazos?",
    r"haut du corps",
    r"pectoraux",
    r"épaules?",
    r"bras",
)
_STRENGTH = _words(
    r"strength",
    r"gym",
    r"weights?",
    r"lifting",
    r"kraft(?:training)?",
    r"fuerza",
    r"gimnasio",
    r"musculation",
    r"renforcement",
)
_RUN = _words(
    r"run",
    r"running",
    r"jog(?:ging)?",
    r"lauf",
    r"laufen",
    r"dauerlauf",
    r"correr",
    r"carrera",
    r"rodaje",
    r"course à pied",
    r"footing",
    r"treadmill",
)
#: Repeats with a distance or time unit: 6x800m, 5 x 1 km, 4x4', 10×400, 8x1min.
_REPEATS = re.compile(
    r"(?<!\w)\d+\s*[x×]\s*\d+(?:[.,]\d+)?\s*(?:m|km|k|mi|min|mins|sec|s|'|\"|’)(?!\w)",
    re.IGNORECASE,
)
#: Short accelerations in an easy run; repeats next to these words do not make it hard.
_STRIDES = _words(r"strides", r"steigerungen", r"steigerungsläufe", r"rectas", r"accélérations")
_HARD_RUN = _words(
    r"intervals?",
    r"intervalle?",
    r"intervalos?",
    r"intervalles?",
    r"fractionnés?",
    r"tempo(?:lauf)?",
    r"threshold",
    r"schwelle(?:nlauf)?",
    r"umbral",
    r"seuil",
    r"vo2\s*-?\s*max",
    r"vo2",
    r"fartlek",
    r"hill repeats?",
    r"hill sprints?",
    r"hills",
    r"bergsprints?",
    r"cuestas",
    r"côtes",
    r"repeats",
    r"sprints?",
    r"race",
    r"wettkampf",
    r"competición",
    r"compétition",
    r"track",
    r"cruise",
)
_MODERATE_RUN = _words(
    r"steady",
    r"marathon pace",
    r"progression",
    r"long run",
    r"langer lauf",
    r"tirada larga",
    r"sortie longue",
)
_EASY_RUN = _words(
    r"easy",
    r"long easy",
    r"recovery",
    r"recover",
    r"regeneration",
    r"regenerativ",
    r"locker",
    r"ruhig",
    r"ga1",
    r"grundlage",
    r"suave",
    r"fácil",
    r"facil",
    r"recuperación",
    r"regenerativo",
    r"facile",
    r"récupération",
    r"récup",
    r"zone ?[12]",
    r"z[12]",
    r"aerobic",
    r"shake ?out",
)


def _hits(pattern: re.Pattern[str], text: str) -> list[str]:
    seen: list[str] = []
    for m in pattern.finditer(text):
        word = m.group(0).strip().lower()
        if word not in seen:
            seen.append(word)
    return seen


def _quote(words: Sequence[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def classify_text(summary: str, description: str = "") -> TextClass:
    """Kind and intensity of a planned session from its title and description (rules above)."""
    summary = summary or ""
    description = description or ""
    prefix_sport: str | None = None
    m = _PREFIX.match(summary)
    if m and m.group(1).strip().lower() in _PREFIX_SPORT:
        prefix_sport = _PREFIX_SPORT[m.group(1).strip().lower()]
    text = f"{summary}\n{description}"
    where = "title/description"
    legs = _hits(_LEG, text)
    strides = _hits(_STRIDES, text)
    hard = ([] if strides else _hits(_REPEATS, text)) + _hits(_HARD_RUN, text)
    moderate = _hits(_MODERATE_RUN, text)
    easy = _hits(_EASY_RUN, text)
    runs = _hits(_RUN, text)
    pre = f"prefix '{m.group(1).strip()}:'" if prefix_sport and m else ""

    if prefix_sport in _ENDURANCE or prefix_sport in ("multisport", "other"):
        sport = prefix_sport or "other"
        return TextClass(sport, "other", "unknown", f"other: {pre} names {sport}")
    if legs and prefix_sport != "running":
        heavy = _hits(_HEAVY, text)
        why = f"leg strength: {_quote(legs)} in the {where}"
        if heavy:
            return TextClass("training", "leg_strength", "hard", f"{why}; heavy: {_quote(heavy)}")
        return TextClass("training", "leg_strength", "unknown", why)
    upper = _hits(_UPPER, text)
    strength = _hits(_STRENGTH, text)
    run_words_only = prefix_sport is None and not (upper or strength)
    is_run = (
        prefix_sport == "running"
        or bool(runs)
        or (run_words_only and bool(hard or moderate or easy))
    )
    if is_run:
        basis = pre or (_quote(runs) if runs else "no sport named; the workout words imply a run")
        if hard:
            return TextClass(
                "running", "run", "hard", f"hard run: {_quote(hard)} in the {where} ({basis})"
            )
        if moderate:
            why = f"moderate run: {_quote(moderate)} in the {where} ({basis})"
            return TextClass("running", "run", "moderate", why)
        if easy:
            return TextClass(
                "running", "run", "easy", f"easy run: {_quote(easy)} in the {where} ({basis})"
            )
        return TextClass(
            "running",
            "run",
            "unknown",
            f"run ({basis}), intensity unknown: no intensity words in the {where}",
        )
    if upper or strength or prefix_sport == "training":
        words = upper + strength
        why = f"strength: {_quote(words)} in the {where}" if words else f"strength: {pre}"
        return TextClass("training", "strength", "unknown", why)
    return TextClass("other", "other", "unknown", f"other: no run or strength words in the {where}")
