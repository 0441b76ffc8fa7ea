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

Export summaries matched to a session (``summaries``, ``pipeline.derive.summary_hints``): their
type makes a session a strength candidate that the file does not mark as one (Garmin
``strength_training``, Strava ``Weight Training`` on a ``training/generic`` file); their title
and exercise summary decide the region of a candidate the file leaves unknown or settles by
names alone (evidence ``summary``, the reason names the source). When the sets decided, they
stand, and a disagreeing summary is named in the reason.

Sources (domain.md section d): S2 Doma et al. 2019 (6RM lower-body session -> the heavy flag's
``heavy_max_reps``), S4 Assumpção et al. 2013 (repeated-bout effect, volume), S8 Sporer & Wenger
2003 (impairment is local to the muscles used, hence body regions), category weights from
drkostas/soma's leg relevance (1.0 squat/deadlift/lunge/leg press, 0.8 leg curl/calf raise/hip
thrust).

The keyword tables live in ``pipeline.derive.keywords``. ``_classify_one`` reads as the steps
above: the sport, the evidence of each active set and the session's own text (both in
``pipeline.derive.set_evidence``), the tally against the thresholds (``pipeline.derive.tally``),
the verdict with its reason. Kinds and regions are ``Kind`` and ``Region`` (stored as their
values).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import astuple, dataclass, replace
from enum import StrEnum

import polars as pl

from pipeline.config import ClassificationSettings
from pipeline.derive.keywords import TextHit, match_text
from pipeline.derive.known import EvidenceSource
from pipeline.derive.likeness import set_signature, workout_name
from pipeline.derive.set_evidence import Row, SetEvidence, fill_unknown, session_text, set_evidence
from pipeline.derive.summary_hints import SummaryHint, hints_by_activity
from pipeline.derive.tally import (
    STRENGTH_REGIONS,
    Tally,
    counts_text,
    heavy_text,
    leg_day_reason,
    not_leg_text,
    tally,
)
from pipeline.exports.match import RegionHint


class Kind(StrEnum):
    """What a session was; stored as its value (``classifications.kind``, ``labels.kind``)."""

    RUN = "run"
    LEG_STRENGTH = "leg_strength"
    STRENGTH = "strength"
    RIDE = "ride"
    SWIM = "swim"
    OTHER = "other"


class Region(StrEnum):
    """The body region a strength session worked (``classifications.region``)."""

    LOWER = "lower"
    UPPER = "upper"
    CORE = "core"
    FULL = "full"
    UNKNOWN = "unknown"


KINDS = tuple(k.value for k in Kind)

CLASSIFIED_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),
    "region": pl.String(),
    "leg_score": pl.Float64(),
    "lower_sets": pl.Int32(),
    "active_sets": pl.Int32(),
    "heavy": pl.Boolean(),
    "reason": pl.String(),
    "evidence": pl.String(),
    "set_signature": pl.String(),
    "workout_name": pl.String(),
}

_RUN_SPORTS = frozenset({"running"})
_RIDE_SPORTS = frozenset({"cycling", "e_biking"})
_SWIM_SPORTS = frozenset({"swimming"})
_SPORT_CODES = {1: "running", 2: "cycling", 5: "swimming", 10: "training", 21: "e_biking"}
_STRENGTH_SUBS = frozenset({"strength_training"})
_STRENGTH_WITH_SETS_SUBS = frozenset({"cardio_training", "hiit", "amrap", "emom", "tabata"})
_SUB_SPORT_CODES = {20: "strength_training", 26: "cardio_training"}
_HIIT_SPORT_CODE = 62


@dataclass(frozen=True)
class Classification:
    """One row of ``CLASSIFIED_SCHEMA``: what the rules say a session is, and why.

    ``region`` (strength kinds only): lower, upper, core, full or unknown. ``evidence``
    (strength candidates only): what decided, ``sets``, ``names``, ``summary`` or ``none``;
    ``set_signature`` and ``workout_name`` are what ``pipeline.derive.learned`` matches on.
    """

    activity_id: str
    kind: Kind
    region: Region | None
    leg_score: float | None  # None: decided by an export summary, not measured from sets
    lower_sets: int
    active_sets: int
    heavy: bool
    reason: str
    evidence: EvidenceSource | None = None
    set_signature: str | None = None
    workout_name: str | None = None


@dataclass(frozen=True)
class _Sport:
    sport: str
    sub: str
    by_summary: bool = False  # its export summary's type says strength (the file does not)

    @property
    def desc(self) -> str:
        said = ", strength by its export summary's type" if self.by_summary else ""
        return f"{self.sport or 'unknown sport'}/{self.sub or 'none'}{said}"

    @property
    def strength(self) -> bool:
        """A strength sport: a candidate even without sets."""
        return self.sub in _STRENGTH_SUBS or self.by_summary

    @property
    def conditional(self) -> bool:
        """HIIT and cardio training: strength only when they carry sets."""
        return self.sport == "hiit" or self.sub in _STRENGTH_WITH_SETS_SUBS


# -- the sport ----------------------------------------------------------------------


def _sport(row: Row) -> _Sport:
    sport = row.get("sport") or _SPORT_CODES.get(row.get("sport_code") or -1, "") or ""
    sub = row.get("sub_sport") or _SUB_SPORT_CODES.get(row.get("sub_sport_code") or -1, "") or ""
    if row.get("sport_code") == _HIIT_SPORT_CODE:
        sport = "hiit"
    return _Sport(str(sport), str(sub))


def _kind_by_sport(sport: _Sport) -> Kind | None:
    """run, ride or swim when the sport alone decides."""
    if sport.sport in _RUN_SPORTS:
        return Kind.RUN
    if sport.sport in _RIDE_SPORTS:
        return Kind.RIDE
    if sport.sport in _SWIM_SPORTS:
        return Kind.SWIM
    return None


# -- the verdict --------------------------------------------------------------------


def _by_name_only(act: Row, sport: _Sport) -> tuple[Kind, Region, str]:
    """(kind, region, reason) of a strength session without set data: its name decides."""
    name_hit = match_text(act.get("name"))
    if name_hit is not None and name_hit.region == "lower":
        reason = (
            f"leg day by name: no set data in this {sport.desc} session, "
            f"name {act['name']!r} says lower body ({name_hit.keyword!r})"
        )
        return Kind.LEG_STRENGTH, Region.LOWER, reason
    if name_hit is not None and name_hit.region != "cardio":
        region = name_hit.region
        reason = f"strength ({region}) by name {act['name']!r}: no set data ({sport.desc})"
        return Kind.STRENGTH, Region(region), reason
    reason = (
        f"strength, region unknown: {sport.desc} without set messages and no exercise or "
        "session name that tells what was trained"
    )
    return Kind.STRENGTH, Region.UNKNOWN, reason


def _focus(classified: list[SetEvidence]) -> tuple[Region, str]:
    """The region of a strength session that is not a leg day, and its mix of sets."""
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
    mix = ", ".join(f"{r} {by_region[r]}" for r in STRENGTH_REGIONS if by_region[r])
    return Region(region), mix


def _verdict(
    act: Row,
    sport: _Sport,
    t: Tally,
    cfg: ClassificationSettings,
    session: tuple[TextHit, str] | None,
    filled: int,
) -> tuple[Kind, Region | None, str]:
    """(kind, region, reason) of a strength candidate from its tally."""
    counts = counts_text(t, session, filled)
    heavy = heavy_text(t, cfg)
    if t.by_score or t.by_share:
        return Kind.LEG_STRENGTH, Region.LOWER, leg_day_reason(t, cfg, counts, heavy)
    if t.active == 0:
        return _by_name_only(act, sport)
    not_leg = not_leg_text(t, cfg)
    if not sport.strength and not sport.conditional:
        return Kind.OTHER, None, f"other: sport {sport.desc} with sets, {not_leg}; {counts}"
    if not t.classified:
        reason = (
            f"strength, region unknown: none of the {t.active} active sets has a known exercise "
            f"category, exercise name or step name; {not_leg}"
        )
        return Kind.STRENGTH, Region.UNKNOWN, reason
    region, mix = _focus(t.classified)
    reason = f"strength ({region}): {not_leg}; sets by region: {mix}; {counts}{heavy}"
    return Kind.STRENGTH, region, reason


def _classify_one(
    act: Row,
    sets: list[Row],
    steps: list[Row],
    cfg: ClassificationSettings,
    hint: SummaryHint | None = None,
) -> Classification:
    sport = _sport(act)
    active = [s for s in sets if s.get("set_type") == "active"]

    def unmeasured(kind: Kind, reason: str) -> Classification:
        return Classification(act["activity_id"], kind, None, 0.0, 0, len(active), False, reason)

    kind = _kind_by_sport(sport)
    if kind is not None:
        return unmeasured(kind, f"{kind}: sport {sport.desc}")
    if hint is not None and hint.strength and not sport.strength:
        sport = replace(sport, by_summary=True)
    if not (sport.strength or active):
        no_sets = " (no active sets)" if sport.conditional else ""
        return unmeasured(Kind.OTHER, f"other: sport {sport.desc}{no_sets}")

    evidence, used_steps = set_evidence(active, steps)
    session = session_text(act, steps, used_steps)
    evidence, filled = fill_unknown(evidence, session)
    t = tally(evidence, cfg)
    kind, region, reason = _verdict(act, sport, t, cfg, session, filled)
    out = Classification(
        act["activity_id"],
        kind,
        region,
        t.leg_score,
        len(t.lower),
        t.active,
        t.heavy,
        reason,
        _evidence_source(t, region),
        set_signature(active),
        workout_name(steps),
    )
    return out if hint is None else _with_summary(out, hint)


def _with_summary(c: Classification, hint: SummaryHint) -> Classification:
    """A strength candidate with what its matched export summaries say (``summary_hints``).

    The sets' verdict stands (a disagreeing summary is named in the reason); a session the
    file leaves unknown, or settles by names alone, takes the summary's region when it has one.
    """
    if c.kind not in (Kind.STRENGTH, Kind.LEG_STRENGTH):
        return c
    legs = hint.hint is RegionHint.LEGS
    if c.evidence is EvidenceSource.SETS:
        if hint.hint is RegionHint.UNKNOWN or legs == (c.kind is Kind.LEG_STRENGTH):
            return c
        return replace(c, reason=f"{c.reason}; the sets decide over the {hint.reason}")
    if hint.hint is RegionHint.UNKNOWN:
        return replace(c, reason=f"{c.reason}; {hint.reason}")
    file_said = f" (the file alone: {c.reason})" if c.evidence is EvidenceSource.NAMES else ""
    if legs:
        return replace(
            c,
            kind=Kind.LEG_STRENGTH,
            region=Region.LOWER,
            leg_score=None,
            lower_sets=0,
            heavy=hint.heavy,
            reason=f"leg day by export summary: {hint.reason}{file_said}",
            evidence=EvidenceSource.SUMMARY,
        )
    region = Region(hint.region)
    return replace(
        c,
        kind=Kind.STRENGTH,
        region=region,
        leg_score=0.0,
        lower_sets=0,
        heavy=False,
        reason=f"strength ({region}) by export summary: {hint.reason}{file_said}",
        evidence=EvidenceSource.SUMMARY,
    )


def _evidence_source(t: Tally, region: Region | None) -> EvidenceSource:
    """What decided a strength candidate: its sets, names alone, or nothing."""
    if region in (None, Region.UNKNOWN):
        return EvidenceSource.NONE
    if t.active == 0 or all(ev.via == "session text" for ev in t.classified):
        return EvidenceSource.NAMES  # no sets, or every identified set took the session's text
    return EvidenceSource.SETS


def _group(frame: pl.DataFrame, sort_by: list[str]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = defaultdict(list)
    if frame.height == 0:
        return out
    cols = [c for c in sort_by if c in frame.columns]
    rows = frame.sort(cols, nulls_last=True) if cols else frame
    for r in rows.iter_rows(named=True):
        out[str(r["activity_id"])].append(r)
    return out


def classify(
    activities: pl.DataFrame,
    sets: pl.DataFrame,
    steps: pl.DataFrame,
    settings: ClassificationSettings,
    summaries: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Classify every session of ``activities`` (one output row per activity_id, input order).

    ``sets`` and ``steps`` may hold rows of other activities; they are matched on
    ``activity_id``. ``summaries``: what the export summaries matched to some of them say
    (``summary_hints.HINTS_SCHEMA``); none or empty classifies from the files alone. Columns:
    see ``CLASSIFIED_SCHEMA`` (the fields of ``Classification``).
    """
    sets_by = _group(sets, ["activity_id", "set_index"])
    steps_by = _group(steps, ["activity_id", "step_index"])
    hints = hints_by_activity(summaries)
    rows = [
        astuple(
            _classify_one(
                act,
                sets_by.get(str(act["activity_id"]), []),
                steps_by.get(str(act["activity_id"]), []),
                settings,
                hints.get(str(act["activity_id"])),
            )
        )
        for act in activities.iter_rows(named=True)
    ]
    return (
        pl.DataFrame(rows, schema=CLASSIFIED_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=CLASSIFIED_SCHEMA)
    )
