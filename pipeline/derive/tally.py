"""The tally of a strength session's active sets against the leg-day thresholds, and its words.

Pure, no I/O: step 4 of ``pipeline.derive.classify``. ``tally`` counts the lower-body sets, the
``leg_score`` (weights from ``pipeline.derive.keywords``), the lower-body share of the identified
sets and the heavy flag (domain.md D2: a loaded set of at most ``heavy_max_reps`` reps, or
``heavy_min_lower_sets`` lower-body sets); the ``*_text`` functions write the numbers into the
reason a person reads.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pipeline.config import ClassificationSettings
from pipeline.derive.keywords import TextHit
from pipeline.derive.set_evidence import Row, SetEvidence

#: Regions of strength work (cardio and unidentified sets are not counted in the share).
STRENGTH_REGIONS = ("lower", "upper", "core", "full")


@dataclass(frozen=True)
class Tally:
    """The measurements of a strength candidate's active sets, against the thresholds."""

    active: int
    lower: list[tuple[Row, SetEvidence]]
    classified: list[SetEvidence]  # sets of a strength region (not cardio, not unknown)
    unknown: int
    leg_score: float
    share: float
    heavy_sets: list[Row]
    heavy: bool
    by_score: bool
    by_share: bool


def tally(evidence: list[tuple[Row, SetEvidence]], cfg: ClassificationSettings) -> Tally:
    n_active = len(evidence)
    lower = [(s, ev) for s, ev in evidence if ev.region == "lower"]
    classified = [ev for _, ev in evidence if ev.region in STRENGTH_REGIONS]
    leg_score = round(sum(ev.weight for _, ev in lower), 3)
    share = leg_score / len(classified) if classified else 0.0
    heavy_sets = [
        s
        for s, _ in lower
        if (s.get("weight_kg") or 0.0) > 0
        and s.get("repetitions") is not None
        and 1 <= s["repetitions"] <= cfg.heavy_max_reps
    ]
    return Tally(
        active=n_active,
        lower=lower,
        classified=classified,
        unknown=sum(1 for _, ev in evidence if ev.region == "unknown"),
        leg_score=float(leg_score),
        share=share,
        heavy_sets=heavy_sets,
        heavy=bool(heavy_sets) or len(lower) >= cfg.heavy_min_lower_sets,
        by_score=leg_score >= cfg.leg_score_threshold,
        by_share=bool(classified)
        and share >= cfg.leg_share_threshold
        and n_active >= cfg.leg_share_min_sets,
    )


def fmt(x: float) -> str:
    return f"{x:.1f}"


def counts_text(t: Tally, session: tuple[TextHit, str] | None, filled: int) -> str:
    """``3 lower-body of 8 active sets (squat x3) [...], 8 identified``: the numbers behind it."""
    lower_counts = Counter(ev.label.split(" (")[0].split("/")[0] for _, ev in t.lower)
    lower_desc = ", ".join(f"{k} x{v}" for k, v in sorted(lower_counts.items()))
    majority = sum(1 for _, ev in t.lower if ev.via == "candidate majority")
    by_step = sum(1 for _, ev in t.lower if ev.via in ("workout step", "exercise name"))
    details = []
    if majority:
        details.append(f"{majority} by candidate majority")
    if by_step:
        details.append(f"{by_step} by exercise/step name")
    if filled and session is not None:
        details.append(f"{filled} unidentified set(s) given the region of {session[1]!r}")
    detail = f" [{'; '.join(details)}]" if details else ""
    counts = (
        f"{len(t.lower)} lower-body of {t.active} active sets"
        f"{' (' + lower_desc + ')' if lower_desc else ''}{detail}, "
        f"{len(t.classified)} identified"
    )
    if t.unknown:
        counts += f"; {t.unknown} set(s) unidentified"
    return counts


def heavy_text(t: Tally, cfg: ClassificationSettings) -> str:
    if t.heavy_sets:
        h = t.heavy_sets[0]
        return f"; heavy: {h['weight_kg']:g} kg x {h['repetitions']} reps <= {cfg.heavy_max_reps}"
    if t.heavy:
        return f"; heavy: {len(t.lower)} lower-body sets >= {cfg.heavy_min_lower_sets}"
    return ""


def leg_day_reason(t: Tally, cfg: ClassificationSettings, counts: str, heavy: str) -> str:
    why = []
    if t.by_score:
        why.append(f"leg_score {fmt(t.leg_score)} >= {fmt(cfg.leg_score_threshold)}")
    if t.by_share:
        why.append(
            f"lower share {t.share:.0%} >= {cfg.leg_share_threshold:.0%} with "
            f"{t.active} >= {cfg.leg_share_min_sets} active sets"
        )
    return f"leg day: {' and '.join(why)}; {counts}{heavy}"


def not_leg_text(t: Tally, cfg: ClassificationSettings) -> str:
    return f"not a leg day: leg_score {fmt(t.leg_score)} < {fmt(cfg.leg_score_threshold)} and " + (
        f"lower share {t.share:.0%} < {cfg.leg_share_threshold:.0%}"
        if t.share < cfg.leg_share_threshold or not t.classified
        else f"only {t.active} < {cfg.leg_share_min_sets} active sets for the share rule"
    )
