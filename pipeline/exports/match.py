"""Match export summaries to stored activities, and read a region hint from titles and exercises.

Pure functions over the contracts in ``exports_types`` and a polars frame of the ``activities``
relation (columns as in migration 0001: ``activity_id``, ``start_utc``, ``sport``, ``sub_sport``,
``elapsed_s``, ``timer_s``, ``file_sha256``; an ``original_name`` column from ``files`` is used
when present). How matching decides, in order (``docs/exports.md``):

1. by file: a summary naming its file (Strava ``Filename``) matches the activity stored from that
   file, by the file's sha256 (``file_sha256``: name -> hash, computed by the caller) or by its
   name without ``.gz``;
2. by start: the one activity of a compatible type starting within ``exact_s`` (``start_exact``);
3. else the one activity within ``tolerance_s`` whose type and duration agree
   (``start_tolerance_type_duration``);
4. several candidates, or a summary of the same source claiming the same activity as another:
   ``ambiguous`` (no activity; the candidates are listed). Otherwise ``none``.

So within one source no activity is given to two summaries; a Garmin and a Strava summary of
the same activity may both match it.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import polars as pl

from pipeline.config import ClassificationSettings
from pipeline.derive.keywords import CATEGORY_REGION, KEYWORDS
from pipeline.exports.types import ActivitySummary, ExerciseSummary

__all__ = ["MatchHow", "RegionHint", "SummaryMatch", "match_summaries", "title_region_hint"]


class MatchHow(StrEnum):
    """How a summary was tied to a stored activity (stored with the summary)."""

    FILE = "file"
    START_EXACT = "start_exact"
    START_TOLERANCE_TYPE_DURATION = "start_tolerance_type_duration"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


@dataclass(frozen=True)
class SummaryMatch:
    """The activity a summary belongs to (None unless matched), how, and by how much."""

    summary: ActivitySummary
    activity_id: str | None
    how: MatchHow
    delta_s: float | None  # summary start minus activity start, when both are known
    candidates: tuple[str, ...] = ()  # for ambiguous: the activities it could be
    note: str = ""


def _family(text: str | None) -> str:
    """run / training / ride / swim / other, or unknown when nothing says (matches anything)."""
    t = (text or "").lower().replace("_", " ")
    if not t.strip() or t.strip() in ("workout", "generic", "all", "uncategorized"):
        return "unknown"
    for family, words in (
        ("run", ("run",)),
        ("swim", ("swim",)),
        ("ride", ("ride", "cycl", "bik")),
        ("training", ("strength", "weight", "training", "hiit", "cardio", "crossfit", "fitness")),
    ):
        if any(w in t for w in words):
            return family
    return "other"


def _compatible(a: str, b: str) -> bool:
    """Types agree unless they name different sports; 'other' may be any kind of training
    (Garmin 'yoga' is stored as FIT training/yoga, Strava 'Elliptical' as fitness_equipment)."""
    return a == b or "unknown" in (a, b) or {a, b} == {"other", "training"}


def _activity_family(row: dict[str, Any]) -> str:
    sport, sub = row.get("sport"), row.get("sub_sport")
    if sub and _family(sub) in ("training", "run", "ride", "swim"):
        return _family(sub)
    return _family(sport)


def _duration_ok(summary_s: float | None, row: dict[str, Any], abs_s: float, rel: float) -> bool:
    """True when the durations agree with elapsed or timer time, or one is unknown."""
    known = [float(row[k]) for k in ("elapsed_s", "timer_s") if row.get(k) is not None]
    if summary_s is None or not known:
        return True
    return any(abs(summary_s - k) <= max(abs_s, rel * max(summary_s, k)) for k in known)


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _base(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return base[:-3] if base.endswith(".gz") else base


def match_summaries(
    summaries: list[ActivitySummary],
    activities: pl.DataFrame,
    tolerance_s: float = 120.0,
    *,
    exact_s: float = 1.0,
    duration_abs_s: float = 120.0,
    duration_rel: float = 0.10,
    file_sha256: Mapping[str, str] | None = None,
) -> list[SummaryMatch]:
    """One ``SummaryMatch`` per summary, in input order (the rules: module docstring).

    ``activities`` holds one athlete's activities: the caller filters by ``athlete_id``, since
    an export belongs to one person. ``file_sha256`` maps a summary's ``file_name`` to the hex
    sha256 of that file's FIT bytes (after gunzip).
    """
    for col in ("activity_id", "start_utc"):
        if col not in activities.columns:
            raise ValueError(f"activities frame lacks column {col!r} (migration 0001 names)")
    rows = [r for r in activities.iter_rows(named=True) if r["activity_id"] is not None]
    timed = sorted(
        ((_utc(r["start_utc"]).timestamp(), r) for r in rows if r["start_utc"] is not None),
        key=lambda t: (t[0], str(t[1]["activity_id"])),
    )
    starts = [t for t, _ in timed]
    by_sha: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("file_sha256"):
            by_sha[str(r["file_sha256"])].append(r)
        if r.get("original_name"):
            by_name[_base(str(r["original_name"]))].append(r)
    hashes = file_sha256 or {}

    def delta(s: ActivitySummary, r: dict[str, Any]) -> float | None:
        if s.start_utc is None or r.get("start_utc") is None:
            return None
        return round((_utc(s.start_utc) - _utc(r["start_utc"])).total_seconds(), 3)

    def one(s: ActivitySummary) -> SummaryMatch:
        if s.file_name:
            sha = hashes.get(s.file_name)
            found, via = (by_sha.get(sha, []), f"sha256 {sha[:12]}") if sha else ([], "")
            if not found:
                # A name is weaker proof than a hash (names repeat across exports): it counts
                # only when the starts agree within the tolerance, or one is unknown.
                found = [
                    r
                    for r in by_name.get(_base(s.file_name), [])
                    if abs(delta(s, r) or 0.0) <= tolerance_s
                ]
                via = f"name {_base(s.file_name)!r}"
            if found:
                # A file can hold several sessions (multisport): the closest start is this one.
                best = min(found, key=lambda r: abs(delta(s, r) or 0.0))
                return SummaryMatch(
                    s,
                    str(best["activity_id"]),
                    MatchHow.FILE,
                    delta(s, best),
                    note=f"file {s.file_name} by {via}",
                )
        if s.start_utc is None:
            return SummaryMatch(
                s, None, MatchHow.NONE, None, note="no start time and no stored file"
            )
        t = _utc(s.start_utc).timestamp()
        lo, hi = (
            bisect.bisect_left(starts, t - tolerance_s),
            bisect.bisect_right(starts, t + tolerance_s),
        )
        fam = _family(s.activity_type)
        near = [r for _, r in timed[lo:hi]]
        typed = [r for r in near if _compatible(fam, _activity_family(r))]
        exact = [r for r in typed if abs(delta(s, r) or 0.0) <= exact_s]
        fitting = exact or [
            r for r in typed if _duration_ok(s.duration_s, r, duration_abs_s, duration_rel)
        ]
        how = MatchHow.START_EXACT if exact else MatchHow.START_TOLERANCE_TYPE_DURATION
        if len(fitting) == 1:
            return SummaryMatch(s, str(fitting[0]["activity_id"]), how, delta(s, fitting[0]))
        if len(fitting) > 1:
            ids = tuple(str(r["activity_id"]) for r in fitting)
            return SummaryMatch(
                s,
                None,
                MatchHow.AMBIGUOUS,
                None,
                ids,
                f"{len(ids)} activities start within {tolerance_s:g} s with a fitting type",
            )
        why = (
            f"{len(near)} start(s) within {tolerance_s:g} s, none of a fitting type and duration"
            if near
            else f"no activity starts within {tolerance_s:g} s"
        )
        return SummaryMatch(s, None, MatchHow.NONE, None, note=why)

    out = [one(s) for s in summaries]
    # Within one source an activity goes to one summary: a single file match keeps it (the
    # file is proof), otherwise every distinct claimant becomes ambiguous.
    claims: dict[tuple[str, str], dict[str, bool]] = defaultdict(dict)
    for m in out:
        if m.activity_id is not None:
            by_file = claims[(m.summary.source.value, m.activity_id)]
            sid = m.summary.source_id
            by_file[sid] = by_file.get(sid, False) or m.how is MatchHow.FILE
    result = []
    for m in out:
        ids = claims.get((m.summary.source.value, m.activity_id or ""), {})
        winners = [sid for sid, file in ids.items() if file]
        keeps = len(ids) <= 1 or (len(winners) == 1 and winners[0] == m.summary.source_id)
        if m.activity_id is not None and not keeps:
            others = sorted(set(ids) - {m.summary.source_id})
            m = SummaryMatch(
                m.summary,
                None,
                MatchHow.AMBIGUOUS,
                m.delta_s,
                (m.activity_id,),
                f"activity {m.activity_id} also claimed by {m.summary.source.value} {others}",
            )
        result.append(m)
    return result


# --- region hint ------------------------------------------------------------------------------


class RegionHint(StrEnum):
    """What a summary says about the body region a strength session trained."""

    LEGS = "legs"
    NOT_LEGS = "not_legs"
    UNKNOWN = "unknown"


#: Title words that name a session half but are not in classify.KEYWORDS (checked first).
_TITLE_WORDS: tuple[tuple[str, str, float], ...] = (
    ("lower", "lower", 1.0),
    ("unterkörper", "lower", 1.0),
    ("upper", "upper", 0.0),
)
_PATTERNS = tuple(
    (re.compile(rf"(?<!\w){re.escape(kw)}(?:s|es)?(?!\w)"), kw, region)
    for kw, region, _ in _TITLE_WORDS + KEYWORDS
)


def _title_hint(title: str | None) -> tuple[RegionHint, str]:
    if not title or not title.strip():
        return RegionHint.UNKNOWN, "no title"
    text = re.sub(r"\s+", " ", re.sub(r"[_\-/&+,]+", " ", title.lower()))
    hits: list[tuple[str, str]] = []
    for pattern, kw, region in _PATTERNS:
        for m in pattern.finditer(text):
            hits.append((kw, region))
            # Blank the phrase so a generic word inside it ("leg" in "leg raise") is not hit again.
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    lower = [kw for kw, r in hits if r == "lower"]
    other = [kw for kw, r in hits if r in ("upper", "core")]
    if lower:
        return RegionHint.LEGS, f"title {title!r} names lower body ({', '.join(lower)})"
    if other:
        return (
            RegionHint.NOT_LEGS,
            f"title {title!r} names only upper body/core ({', '.join(other)})",
        )
    if hits:
        return (
            RegionHint.UNKNOWN,
            f"title {title!r} names no body half ({', '.join(kw for kw, _ in hits)})",
        )
    return RegionHint.UNKNOWN, f"title {title!r} has no exercise or body word"


def _exercise_hint(
    exercises: tuple[ExerciseSummary, ...] | list[ExerciseSummary], cfg: ClassificationSettings
) -> tuple[RegionHint, str]:
    leg_score, identified, unidentified = 0.0, 0, 0
    lower: dict[str, int] = defaultdict(int)
    for ex in exercises:
        n = ex.sets if ex.sets is not None and ex.sets > 0 else 1
        region, weight = CATEGORY_REGION.get(ex.category.lower(), ("unknown", 0.0))
        if region == "unknown":
            unidentified += n
        elif region != "cardio":
            identified += n
            if region == "lower":
                leg_score += weight * n
                lower[ex.category] += n
    if not identified:
        what = (
            f"{unidentified} set(s), none of a known category"
            if unidentified
            else "no exercise summary"
        )
        return RegionHint.UNKNOWN, what
    share = leg_score / identified
    desc = ", ".join(f"{k} x{v}" for k, v in sorted(lower.items())) or "no lower-body sets"
    counts = f"{desc}; {identified} identified, {unidentified} unknown set(s)"
    if leg_score >= cfg.leg_score_threshold or (
        share >= cfg.leg_share_threshold and identified + unidentified >= cfg.leg_share_min_sets
    ):
        return (
            RegionHint.LEGS,
            f"exercise summary: leg_score {leg_score:.1f}, share {share:.0%} ({counts})",
        )
    if unidentified > identified:
        return RegionHint.UNKNOWN, f"exercise summary: most sets unknown ({counts})"
    return (
        RegionHint.NOT_LEGS,
        f"exercise summary: leg_score {leg_score:.1f}, share {share:.0%} ({counts})",
    )


def title_region_hint(
    title: str | None,
    exercises: tuple[ExerciseSummary, ...] | list[ExerciseSummary] = (),
    settings: ClassificationSettings | None = None,
) -> tuple[RegionHint, str]:
    """What a summary's title and exercise categories say, with the reason in words.

    Either alone decides when the other says nothing; when they disagree the hint is
    ``unknown`` (a possible leg session): a title is what the person typed, the categories
    may be the watch's uncorrected guesses (exports.md section 1), so neither overrules.
    """
    cfg = settings or ClassificationSettings()
    by_title, title_why = _title_hint(title)
    by_sets, sets_why = _exercise_hint(exercises, cfg)
    if by_sets is RegionHint.UNKNOWN or by_title is by_sets:
        if by_title is RegionHint.UNKNOWN and by_sets is RegionHint.UNKNOWN:
            return RegionHint.UNKNOWN, f"{title_why}; {sets_why}"
        return (
            (by_title, title_why)
            if by_sets is RegionHint.UNKNOWN
            else (by_sets, f"{sets_why}; {title_why}")
        )
    if by_title is RegionHint.UNKNOWN:
        return by_sets, sets_why
    return RegionHint.UNKNOWN, f"title and exercises disagree: {title_why}, but {sets_why}"
