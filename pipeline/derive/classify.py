"""Session classification: run, leg_strength, strength, ride, swim or other, with the reason.

Pure functions over polars frames (no I/O, no clock). ``classify`` reads the ``activities``,
``sets`` and ``steps`` frames of the store (contracts3.md) and decides, per session:

1. The sport decides runs (``running``, any sub-sport), rides (``cycling`` incl. indoor,
   ``e_biking``) and swims (``swimming``, lap and open water).
2. Strength candidates are ``training/strength_training`` sessions (also ``cardio_training`` and
   HIIT when they carry active sets), and any other session with active ``set`` messages.
3. A strength candidate is a leg day when what was lifted says so (domain.md D2, thresholds in
   ``ClassificationSettings``): ``leg_score`` (active lower-body sets, primary categories weighted
   1.0, accessories 0.8) >= ``leg_score_threshold``, or the lower-body weighted share of the
   classified active sets >= ``leg_share_threshold`` with >= ``leg_share_min_sets`` active sets.

Evidence per active set, strongest first (Garmin writes most sets as ``unknown`` = 65534, so every
other signal counts):

* the set's exercise-category candidates: the watch writes up to three ranked guesses. When the
  first guess comes with a specific exercise (``exercise_name`` from its subtype: ``burpee``,
  ``weighted_lunge``), it decides. Otherwise, when two or more known candidates fall in the same
  body region, that region wins (squat/lunge confusion is still a lower-body set), else the first
  known candidate decides (D2 "use category[0], fall back to the majority of the array", read
  so that all candidates count). Example, corpus file 20748058539: bench_press/lunge/squat
  without an exercise name is a lower-body set;
* the set's ``exercise_name`` alone (``leg_press``, ``romanian_deadlift``...) when no category is
  known;
* the workout step it belongs to (``wkt_step_index`` = ``steps.step_index``): its category,
  exercise name and free-text name ("Back Squat", "RDL", "Hamstring curl").

Sets that nothing identifies inherit the region of session-level text (the session name and the
names of steps no set points to) when that text is unambiguous; sessions without any usable
signal are ``strength`` with region ``unknown`` and a reason that says so.

Sources (domain.md section d): S2 Doma et al. 2019 (6RM lower-body session -> the heavy flag's
``heavy_max_reps``), S4 Assumpção et al. 2013 (repeated-bout effect, volume), S8 Sporer & Wenger
2003 (impairment is local to the muscles used, hence body regions), category weights from
drkostas/soma's leg relevance (1.0 squat/deadlift/lunge/leg press, 0.8 leg curl/calf raise/hip
thrust).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline.config import ClassificationSettings

KINDS = ("run", "leg_strength", "strength", "ride", "swim", "other")
REGIONS = ("lower", "upper", "core", "full", "unknown")

CLASSIFIED_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),
    "region": pl.String(),
    "leg_score": pl.Float64(),
    "lower_sets": pl.Int32(),
    "active_sets": pl.Int32(),
    "heavy": pl.Boolean(),
    "reason": pl.String(),
}
LABELLED_SCHEMA: dict[str, pl.DataType] = {**CLASSIFIED_SCHEMA, "source": pl.String()}

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

_RUN_SPORTS = frozenset({"running"})
_RIDE_SPORTS = frozenset({"cycling", "e_biking"})
_SWIM_SPORTS = frozenset({"swimming"})
_SPORT_CODES = {1: "running", 2: "cycling", 5: "swimming", 10: "training", 21: "e_biking"}
_STRENGTH_SUBS = frozenset({"strength_training"})
_STRENGTH_WITH_SETS_SUBS = frozenset({"cardio_training", "hiit", "amrap", "emom", "tabata"})
_SUB_SPORT_CODES = {20: "strength_training", 26: "cardio_training"}
_HIIT_SPORT_CODE = 62
_SESSION_PHRASES = frozenset({"leg day", "lower body", "upper body", "full body", "total body"})


@dataclass(frozen=True)
class TextHit:
    """A keyword found in free text."""

    keyword: str
    region: str
    weight: float


@dataclass(frozen=True)
class SetEvidence:
    """What one active set was resolved to, and from what."""

    region: str  # lower/upper/core/full/cardio/unknown
    weight: float
    label: str  # category or keyword that decided
    via: str  # 'category', 'candidate majority', 'exercise name', 'workout step', 'session text'


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


def _from_candidates(categories: list[str] | None, exercise: str | None) -> SetEvidence | None:
    known = [c for c in (categories or []) if c in CATEGORY_REGION]
    if not known:
        return None
    first = known[0]
    region, weight = CATEGORY_REGION[first]
    if exercise:
        # The watch named a specific exercise of its first guess (category_subtype): that is
        # more specific than agreement between the other guesses (a burpee stays a burpee).
        return SetEvidence(region, weight, f"{first}/{exercise}", "category")
    regions = [CATEGORY_REGION[c][0] for c in known]
    counts = Counter(regions)
    top_region, top_count = counts.most_common(1)[0]
    runner_up = [n for r, n in counts.items() if r != top_region]
    clear = top_count >= 2 and (not runner_up or top_count > max(runner_up))
    if clear and top_region != regions[0]:
        cat = next(c for c in known if CATEGORY_REGION[c][0] == top_region)
        label = f"{cat} ({'/'.join(known)})"
        return SetEvidence(top_region, CATEGORY_REGION[cat][1], label, "candidate majority")
    return SetEvidence(region, weight, first, "category")


def _from_text(text: str | None, via: str) -> SetEvidence | None:
    hit = match_text(text)
    if hit is None:
        return None
    return SetEvidence(hit.region, hit.weight, f"'{text}'", via)


def _resolve_set(row: dict[str, Any], step: dict[str, Any] | None) -> SetEvidence:
    cats = list(row.get("categories") or [])
    if not cats and row.get("category"):
        cats = [row["category"]]
    ev = _from_candidates(cats, row.get("exercise_name"))
    if ev is not None:
        return ev
    ev = _from_text(row.get("exercise_name"), "exercise name")
    if ev is not None:
        return ev
    if step is not None:
        cat = step.get("category")
        if cat in CATEGORY_REGION:
            region, weight = CATEGORY_REGION[cat]
            return SetEvidence(region, weight, f"{cat} (step {step['step_index']})", "workout step")
        for key in ("exercise_name", "name"):
            ev = _from_text(step.get(key), "workout step")
            if ev is not None:
                return ev
    return SetEvidence("unknown", 0.0, "unknown", "none")


def _session_text_region(texts: list[str]) -> tuple[TextHit, str] | None:
    """The region session-level text agrees on, with the phrase that shows it, or None.

    Names without a keyword are ignored; the text is unambiguous when all hits share one
    region, or when a whole-session phrase ("Leg day", "Upper body") is in the session name.
    """
    hits = [(match_text(t), t) for t in texts]
    found = [(h, t) for h, t in hits if h is not None and h.region != "cardio"]
    if not found:
        return None
    regions = {h.region for h, _ in found}
    if len(regions) == 1:
        best = max(found, key=lambda ht: ht[0].weight)
        return best
    return None


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _sport(row: dict[str, Any]) -> tuple[str, str]:
    sport = row.get("sport") or _SPORT_CODES.get(row.get("sport_code") or -1, "") or ""
    sub = row.get("sub_sport") or _SUB_SPORT_CODES.get(row.get("sub_sport_code") or -1, "") or ""
    if row.get("sport_code") == _HIIT_SPORT_CODE:
        sport = "hiit"
    return str(sport), str(sub)


def _group(frame: pl.DataFrame, sort_by: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if frame.height == 0:
        return out
    cols = [c for c in sort_by if c in frame.columns]
    rows = frame.sort(cols, nulls_last=True) if cols else frame
    for r in rows.iter_rows(named=True):
        out[str(r["activity_id"])].append(r)
    return out


def _classify_one(
    act: dict[str, Any],
    sets: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    cfg: ClassificationSettings,
) -> dict[str, Any]:
    sport, sub = _sport(act)
    sport_desc = f"{sport or 'unknown sport'}/{sub or 'none'}"
    active = [s for s in sets if s.get("set_type") == "active"]
    n_active = len(active)
    result: dict[str, Any] = {
        "activity_id": act["activity_id"],
        "region": None,
        "leg_score": 0.0,
        "lower_sets": 0,
        "active_sets": n_active,
        "heavy": False,
    }
    if sport in _RUN_SPORTS:
        return {**result, "kind": "run", "reason": f"run: sport {sport_desc}"}
    if sport in _RIDE_SPORTS:
        return {**result, "kind": "ride", "reason": f"ride: sport {sport_desc}"}
    if sport in _SWIM_SPORTS:
        return {**result, "kind": "swim", "reason": f"swim: sport {sport_desc}"}

    strength_sport = sub in _STRENGTH_SUBS
    conditional = sport == "hiit" or sub in _STRENGTH_WITH_SETS_SUBS
    if not (strength_sport or n_active > 0):
        no_sets = " (no active sets)" if conditional else ""
        return {**result, "kind": "other", "reason": f"other: sport {sport_desc}{no_sets}"}

    steps_by_index = {s["step_index"]: s for s in steps if s.get("step_index") is not None}
    used_steps: set[int] = set()
    evidence: list[tuple[dict[str, Any], SetEvidence]] = []
    for s in active:
        step = steps_by_index.get(s.get("wkt_step_index"))
        if step is not None:
            used_steps.add(step["step_index"])
        evidence.append((s, _resolve_set(s, step)))

    session_texts = [act["name"]] if act.get("name") else []
    name_hit = match_text(act.get("name"))
    free_steps = [
        t
        for st in steps
        if st.get("step_index") not in used_steps
        for t in (st.get("name"), st.get("exercise_name"))
        if t
    ]
    session_region: tuple[TextHit, str] | None
    if name_hit is not None and name_hit.keyword in (
        "leg day",
        "lower body",
        "upper body",
        "full body",
    ):
        # A whole-session title the athlete chose beats guesses from individual step names.
        session_region = (name_hit, str(act["name"]))
    else:
        session_region = _session_text_region(session_texts + free_steps)

    n_from_text = 0
    if session_region is not None:
        hit, text = session_region
        resolved: list[tuple[dict[str, Any], SetEvidence]] = []
        for s, ev in evidence:
            if ev.region == "unknown":
                ev = SetEvidence(hit.region, hit.weight, f"'{text}'", "session text")
                n_from_text += 1
            resolved.append((s, ev))
        evidence = resolved

    lower = [(s, ev) for s, ev in evidence if ev.region == "lower"]
    classified = [ev for _, ev in evidence if ev.region in ("lower", "upper", "core", "full")]
    n_unknown = sum(1 for _, ev in evidence if ev.region == "unknown")
    leg_score = round(sum(ev.weight for _, ev in lower), 3)
    share = leg_score / len(classified) if classified else 0.0
    by_score = leg_score >= cfg.leg_score_threshold
    by_share = (
        bool(classified) and share >= cfg.leg_share_threshold and n_active >= cfg.leg_share_min_sets
    )

    heavy_sets = [
        s
        for s, _ in lower
        if (s.get("weight_kg") or 0.0) > 0
        and s.get("repetitions") is not None
        and 1 <= s["repetitions"] <= cfg.heavy_max_reps
    ]
    heavy = bool(heavy_sets) or len(lower) >= cfg.heavy_min_lower_sets
    result.update(leg_score=float(leg_score), lower_sets=len(lower), heavy=heavy)

    lower_counts = Counter(ev.label.split(" (")[0].split("/")[0] for _, ev in lower)
    lower_desc = ", ".join(f"{k} x{v}" for k, v in sorted(lower_counts.items()))
    majority = sum(1 for _, ev in lower if ev.via == "candidate majority")
    by_step = sum(1 for _, ev in lower if ev.via in ("workout step", "exercise name"))
    details = []
    if majority:
        details.append(f"{majority} by candidate majority")
    if by_step:
        details.append(f"{by_step} by exercise/step name")
    if n_from_text and session_region is not None:
        details.append(
            f"{n_from_text} unidentified set(s) given the region of {session_region[1]!r}"
        )
    detail = f" [{'; '.join(details)}]" if details else ""
    counts = (
        f"{len(lower)} lower-body of {n_active} active sets"
        f"{' (' + lower_desc + ')' if lower_desc else ''}{detail}, "
        f"{len(classified)} identified"
    )
    if n_unknown:
        counts += f"; {n_unknown} set(s) unidentified"
    heavy_txt = ""
    if heavy_sets:
        h = heavy_sets[0]
        heavy_txt = (
            f"; heavy: {h['weight_kg']:g} kg x {h['repetitions']} reps <= {cfg.heavy_max_reps}"
        )
    elif heavy:
        heavy_txt = f"; heavy: {len(lower)} lower-body sets >= {cfg.heavy_min_lower_sets}"

    if by_score or by_share:
        why = []
        if by_score:
            why.append(f"leg_score {_fmt(leg_score)} >= {_fmt(cfg.leg_score_threshold)}")
        if by_share:
            why.append(
                f"lower share {share:.0%} >= {cfg.leg_share_threshold:.0%} with "
                f"{n_active} >= {cfg.leg_share_min_sets} active sets"
            )
        reason = f"leg day: {' and '.join(why)}; {counts}{heavy_txt}"
        return {**result, "kind": "leg_strength", "region": "lower", "reason": reason}

    if n_active == 0:
        if name_hit is not None and name_hit.region == "lower":
            reason = (
                f"leg day by name: no set data in this {sport_desc} session, "
                f"name {act['name']!r} says lower body ({name_hit.keyword!r})"
            )
            return {**result, "kind": "leg_strength", "region": "lower", "reason": reason}
        region = name_hit.region if name_hit is not None and name_hit.region != "cardio" else None
        if region is not None:
            reason = f"strength ({region}) by name {act['name']!r}: no set data ({sport_desc})"
            return {**result, "kind": "strength", "region": region, "reason": reason}
        reason = (
            f"strength, region unknown: {sport_desc} without set messages and no exercise or "
            "session name that tells what was trained"
        )
        return {**result, "kind": "strength", "region": "unknown", "reason": reason}

    not_leg = (
        f"not a leg day: leg_score {_fmt(leg_score)} < {_fmt(cfg.leg_score_threshold)} and "
        + (
            f"lower share {share:.0%} < {cfg.leg_share_threshold:.0%}"
            if share < cfg.leg_share_threshold or not classified
            else f"only {n_active} < {cfg.leg_share_min_sets} active sets for the share rule"
        )
    )
    if not strength_sport and not conditional:
        reason = f"other: sport {sport_desc} with sets, {not_leg}; {counts}"
        return {**result, "kind": "other", "reason": reason}
    if not classified:
        reason = (
            f"strength, region unknown: none of the {n_active} active sets has a known exercise "
            f"category, exercise name or step name; {not_leg}"
        )
        return {**result, "kind": "strength", "region": "unknown", "reason": reason}
    by_region = Counter(ev.region for ev in classified)
    if by_region["lower"] > 0 and by_region["upper"] == 0 and by_region["core"] == 0:
        region = "lower"  # lower-body work, but too little for a leg day
    elif by_region["lower"] > 0 or (by_region["upper"] == 0 and by_region["core"] == 0):
        # Mixed work without leg focus, or only whole-body work.
        region = "full"
    elif by_region["upper"] >= by_region["core"]:
        region = "upper"
    else:
        region = "core"
    mix = ", ".join(
        f"{r} {by_region[r]}" for r in ("lower", "upper", "core", "full") if by_region[r]
    )
    reason = f"strength ({region}): {not_leg}; sets by region: {mix}; {counts}{heavy_txt}"
    return {**result, "kind": "strength", "region": region, "reason": reason}


def classify(
    activities: pl.DataFrame,
    sets: pl.DataFrame,
    steps: pl.DataFrame,
    settings: ClassificationSettings,
) -> pl.DataFrame:
    """Classify every session of ``activities`` (one output row per activity_id, input order).

    ``sets`` and ``steps`` may hold rows of other activities; they are matched on
    ``activity_id``. Columns: see ``CLASSIFIED_SCHEMA``.
    """
    sets_by = _group(sets, ["activity_id", "set_index"])
    steps_by = _group(steps, ["activity_id", "step_index"])
    rows = [
        _classify_one(
            act,
            sets_by.get(str(act["activity_id"]), []),
            steps_by.get(str(act["activity_id"]), []),
            settings,
        )
        for act in activities.iter_rows(named=True)
    ]
    return (
        pl.DataFrame(rows, schema=CLASSIFIED_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=CLASSIFIED_SCHEMA)
    )


def apply_labels(classified: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Let the athlete's corrections override the rules (the latest label per activity wins).

    Labelled rows get ``source='label'`` and a reason that keeps what the rules said; the rule
    measurements (``leg_score``, ``lower_sets``, ``heavy``) are kept as they were measured.
    """
    bad = sorted(set(labels["kind"].to_list()) - set(KINDS)) if labels.height else []
    if bad:
        raise ValueError(f"labels with unknown kind(s) {bad}; expected one of {', '.join(KINDS)}")
    latest: dict[str, dict[str, Any]] = {}
    if labels.height:
        for one in labels.sort(["activity_id", "labelled_at"]).iter_rows(named=True):
            latest[str(one["activity_id"])] = one
    out = []
    for row in classified.iter_rows(named=True):
        lab = latest.get(str(row["activity_id"]))
        if lab is None:
            out.append({**row, "source": "rules"})
            continue
        kind = lab["kind"]
        if kind == "leg_strength":
            region: str | None = "lower"
        elif kind == "strength":
            region = row["region"] if row["kind"] == "strength" else "unknown"
        else:
            region = None
        when = lab["labelled_at"]
        day = when.date().isoformat() if hasattr(when, "date") else str(when)
        reason = f"labelled {kind} by you on {day} (rules said: {row['reason']})"
        if lab.get("note"):
            reason += f"; note: {lab['note']}"
        out.append({**row, "kind": kind, "region": region, "reason": reason, "source": "label"})
    if not out:
        return pl.DataFrame(schema=LABELLED_SCHEMA)
    return pl.DataFrame(out, schema=LABELLED_SCHEMA, orient="row")
