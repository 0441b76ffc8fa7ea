"""Export summaries as evidence: which activity each belongs to now, and what it says.

Pure, no I/O. Refresh (``pipeline.derive.refresh``) reads the athlete's stored summaries and the
few activity columns matching needs (``pipeline.store.summaries_sql``), and

* ``match_changes`` matches every summary again (``pipeline.exports.match.match_summaries``):
  matching is a pure function of both sides, so a summary stored before its FIT file matches
  once the file is stored, and a summary replaced by a newer export is matched afresh. It
  returns the matches that differ from the stored ones, and every activity a summary left or
  joined: refresh classifies those again;
* ``summary_hints`` turns the summaries matched to some activities into one ``SummaryHint``
  per activity: the region its title and exercise summary say (``title_region_hint``), whether
  its type says strength, and a reason that names the source. ``pipeline.derive.classify``
  decides what a hint may change (only sessions the file does not settle by its sets).

An ``ambiguous`` match gives no activity, so it changes nothing until a person settles it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline.config import ClassificationSettings
from pipeline.derive.keywords import CATEGORY_REGION, match_text
from pipeline.exports.match import RegionHint, match_summaries, title_region_hint
from pipeline.exports.types import ActivitySummary, ExerciseSummary, ExportSource

#: How a reason names each source.
SOURCE_WORDS = {
    ExportSource.GARMIN_SUMMARY.value: "Garmin Connect export summary",
    ExportSource.STRAVA_CSV.value: "Strava export (activities.csv)",
}
#: The match columns refresh writes back (``summaries_sql.MATCH_COLUMNS`` but the time).
MATCH_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_id": pl.String(),
    "activity_id": pl.String(),
    "match_how": pl.String(),
    "delta_s": pl.Float64(),
    "candidates": pl.List(pl.String()),
    "match_note": pl.String(),
}
_COMPARED = ("activity_id", "match_how", "delta_s", "candidates")


@dataclass(frozen=True)
class SummaryHint:
    """What the summaries matched to one activity say about it."""

    activity_id: str
    hint: RegionHint  # legs, not_legs, or unknown (nothing, or sources disagree)
    region: str  # for not_legs: upper, core or full (what fits); lower for legs
    strength: bool  # a summary's type says strength / weight training
    heavy: bool  # lower-body work loaded at <= heavy_max_reps reps, or many lower-body sets
    reason: str  # names the source: "Garmin Connect export summary: title 'Leg day' names ..."


def says_strength(activity_type: object) -> bool:
    """Garmin ``strength_training``, Strava ``Weight Training`` (not HIIT or cardio)."""
    text = str(activity_type or "").lower().replace("_", " ")
    return "strength" in text or "weight" in text


def _summary(row: dict[str, Any]) -> ActivitySummary:
    return ActivitySummary(
        source=ExportSource(row["source"]),
        source_id=str(row["source_id"]),
        title=row.get("title"),
        activity_type=row.get("activity_type"),
        start_utc=row.get("start_utc"),
        duration_s=row.get("duration_s"),
        file_name=row.get("file_name"),
    )


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def norm(c: str, v: Any) -> Any:
        if c == "candidates":
            return tuple(v or ())
        return round(float(v), 3) if c == "delta_s" and v is not None else v

    return all(norm(c, old.get(c)) == norm(c, new.get(c)) for c in _COMPARED)


def match_changes(
    stored: pl.DataFrame, activities: pl.DataFrame, tolerance_s: float = 120.0
) -> tuple[pl.DataFrame, set[str]]:
    """The matches to write (``MATCH_SCHEMA``) and the activities to classify again.

    ``stored``: ``summaries_sql.summaries_to_match`` rows; ``activities``: the athlete's
    ``activities_to_match`` rows. A row is rewritten when its match differs or it was never
    matched since it was (re)stored (``matched_utc`` null); the activities it left and joined
    are re-classified (a replaced summary may have a new title, so its activity too).
    """
    rows = stored.to_dicts()
    hashes = {str(r["file_name"]): str(r["file_sha256"]) for r in rows if r.get("file_sha256")}
    matches = match_summaries(
        [_summary(r) for r in rows], activities, tolerance_s, file_sha256=hashes
    )
    out: list[dict[str, Any]] = []
    moved: set[str] = set()
    for old, m in zip(rows, matches, strict=True):
        new = {
            "source": m.summary.source.value,
            "source_id": m.summary.source_id,
            "activity_id": m.activity_id,
            "match_how": m.how.value,
            "delta_s": m.delta_s,
            "candidates": list(m.candidates),
            "match_note": m.note or None,
        }
        fresh = old.get("matched_utc") is None
        if fresh or not _same(old, new) or old.get("match_note") != new["match_note"]:
            out.append(new)
        if fresh or old.get("activity_id") != m.activity_id:
            moved.update(a for a in (old.get("activity_id"), m.activity_id) if a is not None)
    return pl.DataFrame(out, schema=MATCH_SCHEMA), moved


# -- what matched summaries say ----------------------------------------------------------------


def _exercises(raw: object) -> tuple[ExerciseSummary, ...]:
    out = []
    for e in raw if isinstance(raw, list) else []:
        if isinstance(e, dict) and e.get("category"):
            out.append(
                ExerciseSummary(
                    category=str(e["category"]),
                    sets=e.get("sets"),
                    reps=e.get("reps"),
                    max_weight_kg=e.get("max_weight_kg"),
                )
            )
    return tuple(out)


def _region_not_legs(title: str | None, exercises: tuple[ExerciseSummary, ...]) -> str:
    """upper, core or full: what the exercise categories (by sets) or the title say."""
    by_region: Counter[str] = Counter()
    for e in exercises:
        region = CATEGORY_REGION.get(e.category.lower(), ("unknown", 0.0))[0]
        if region in ("upper", "core", "full"):
            by_region[region] += e.sets if e.sets and e.sets > 0 else 1
    if by_region:
        return by_region.most_common(1)[0][0]
    hit = match_text(title)
    return hit.region if hit is not None and hit.region in ("upper", "core", "full") else "upper"


def _heavy(exercises: tuple[ExerciseSummary, ...], cfg: ClassificationSettings) -> bool:
    """The heavy rule of the sets (``derive.tally``) read from the exercise summary."""
    lower_sets = 0
    for e in exercises:
        if CATEGORY_REGION.get(e.category.lower(), ("unknown", 0.0))[0] != "lower":
            continue
        sets = e.sets if e.sets and e.sets > 0 else 1
        lower_sets += sets
        per_set = (e.reps or 0) / sets
        if (e.max_weight_kg or 0.0) > 0 and 1 <= per_set <= cfg.heavy_max_reps:
            return True
    return lower_sets >= cfg.heavy_min_lower_sets


def _one_hint(
    activity_id: str, rows: list[dict[str, Any]], cfg: ClassificationSettings
) -> SummaryHint:
    said: list[tuple[RegionHint, str, str | None, tuple[ExerciseSummary, ...]]] = []
    for r in rows:
        exercises = _exercises(r.get("exercises"))
        hint, why = title_region_hint(r.get("title"), exercises, cfg)
        words = SOURCE_WORDS.get(str(r["source"]), str(r["source"]))
        said.append((hint, f"{words}: {why}", r.get("title"), exercises))
    decided = {h for h, *_ in said if h is not RegionHint.UNKNOWN}
    hint = decided.pop() if len(decided) == 1 else RegionHint.UNKNOWN
    reason = "; ".join(w for h, w, *_ in said if h is hint or hint is RegionHint.UNKNOWN)
    if len(decided) > 1:
        reason = f"export summaries disagree: {reason}"
    exercises = tuple(e for *_, ex in said for e in ex)
    titles = [t for _, _, t, _ in said if t]
    if hint is RegionHint.LEGS:
        region = "lower"
    else:
        region = _region_not_legs(titles[0] if titles else None, exercises)
    return SummaryHint(
        activity_id,
        hint,
        region,
        any(says_strength(r.get("activity_type")) for r in rows),
        hint is RegionHint.LEGS and _heavy(exercises, cfg),
        reason,
    )


#: One row per activity with matched summaries: what ``pipeline.derive.classify`` reads.
HINTS_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "hint": pl.String(),
    "region": pl.String(),
    "strength": pl.Boolean(),
    "heavy": pl.Boolean(),
    "reason": pl.String(),
}


def summary_hints(matched: pl.DataFrame, cfg: ClassificationSettings) -> pl.DataFrame:
    """One row (``HINTS_SCHEMA``) per activity of ``matched`` (``summaries_sql.matched_summaries``
    rows), in activity order."""
    by_activity: dict[str, list[dict[str, Any]]] = {}
    for r in matched.iter_rows(named=True):
        if r.get("activity_id") is not None:
            by_activity.setdefault(str(r["activity_id"]), []).append(r)
    rows = [
        (h.activity_id, h.hint.value, h.region, h.strength, h.heavy, h.reason)
        for h in (_one_hint(aid, by_activity[aid], cfg) for aid in sorted(by_activity))
    ]
    return pl.DataFrame(rows, schema=HINTS_SCHEMA, orient="row")


def hints_by_activity(hints: pl.DataFrame | None) -> dict[str, SummaryHint]:
    """``HINTS_SCHEMA`` rows as ``SummaryHint`` values by activity id (none: empty)."""
    if hints is None or hints.height == 0:
        return {}
    return {
        str(r["activity_id"]): SummaryHint(
            str(r["activity_id"]),
            RegionHint(r["hint"]),
            str(r["region"]),
            bool(r["strength"]),
            bool(r["heavy"]),
            str(r["reason"]),
        )
        for r in hints.iter_rows(named=True)
    }
