"""What the athlete's own runs say about leg days (issue 14, part 2): pure functions, no I/O.

Runs are put in buckets by the hours from the END of the last leg session to the START of the
run (the same gap pipeline.derive.recovery uses): 0-24 h, 24-48 h, 48-72 h, and > 72 h as the baseline.
Runs with no leg session before them are left out (the gap is unknown: a short history is not a
layoff). For each measure of ``evidence_measures`` and each bucket the result is its n, the
difference of its mean to the baseline's mean with a bootstrap confidence interval, and a
verdict; below ``min_n`` runs in the bucket or the baseline the verdict is "not enough data" and
there is no number at all (``BucketResult.difference`` is None): never a number without its
interval.

Differences are relative (%, bucket mean / baseline mean - 1) for efficiency and heart rate at
easy pace, and absolute (percentage points) for cardiac drift, which is itself a percentage near
zero. Intervals are percentile bootstraps (resampling runs within the bucket and within the
baseline, ``n_boot`` times, numpy's seeded generator, so the same data give the same numbers).
Each interval is widened for the number of intervals shown (Bonferroni over 3 buckets x 3
measures), so the chance that ANY interval excludes zero when nothing happens stays at most
1 - ``confidence``.

Personal windows are suggested only where the evidence is clear: every bucket has enough data,
and at least one is clearly worse; the suggestion is the upper edge of the latest clearly-worse
bucket. A suggestion is data for the person to read; nothing here changes any setting.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import polars as pl

from pipeline.derive.evidence_measures import MEASURES_SCHEMA


class Measure(StrEnum):
    """A per-run measure (a column of ``evidence_measures.MEASURES_SCHEMA``)."""

    EFFICIENCY = "efficiency_m_per_beat"
    HR_AT_EASY_PACE = "hr_at_easy_pace_bpm"
    CARDIAC_DRIFT = "cardiac_drift_pct"


#: +1: a higher value is worse; -1: a lower value is worse.
WORSE_DIRECTION: dict[Measure, int] = {
    Measure.EFFICIENCY: -1,
    Measure.HR_AT_EASY_PACE: 1,
    Measure.CARDIAC_DRIFT: 1,
}
#: True: difference in % of the baseline mean; False: in the measure's own unit.
RELATIVE: dict[Measure, bool] = {
    Measure.EFFICIENCY: True,
    Measure.HR_AT_EASY_PACE: True,
    Measure.CARDIAC_DRIFT: False,
}


class Bucket(StrEnum):
    """Hours from the end of the last leg session to the start of the run."""

    H0_24 = "0-24 h"
    H24_48 = "24-48 h"
    H48_72 = "48-72 h"
    BASELINE = "> 72 h"


#: Upper edge (hours) of each compared bucket.
BUCKET_END: dict[Bucket, float] = {Bucket.H0_24: 24.0, Bucket.H24_48: 48.0, Bucket.H48_72: 72.0}
COMPARED: tuple[Bucket, ...] = (Bucket.H0_24, Bucket.H24_48, Bucket.H48_72)


class Verdict(StrEnum):
    WORSE = "worse"
    BETTER = "better"
    NO_CLEAR_DIFFERENCE = "no clear difference"
    NOT_ENOUGH_DATA = "not enough data"


@dataclass(frozen=True)
class EvidenceSettings:
    """How much evidence counts."""

    min_n: int = 8  # runs in a bucket and in the baseline before any number is shown
    n_boot: int = 2000
    confidence: float = 0.95  # family-wise, over all intervals of a report
    seed: int = 14

    def __post_init__(self) -> None:
        if self.min_n < 2 or self.n_boot < 100 or not 0.5 < self.confidence < 1.0:
            raise ValueError("EvidenceSettings: min_n >= 2, n_boot >= 100, confidence in (.5, 1)")

    @property
    def per_interval_confidence(self) -> float:
        return 1.0 - (1.0 - self.confidence) / (len(COMPARED) * len(Measure))


@dataclass(frozen=True)
class Difference:
    """A bucket's difference to the baseline, always with its interval (units in ``unit``)."""

    estimate: float
    low: float
    high: float
    unit: str  # '%' (relative to the baseline mean) or the measure's own unit

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


@dataclass(frozen=True)
class BucketResult:
    measure: Measure
    bucket: Bucket
    n: int
    baseline_n: int
    difference: Difference | None  # None exactly when the verdict is NOT_ENOUGH_DATA
    verdict: Verdict


@dataclass(frozen=True)
class WindowSuggestion:
    """A personal window a measure supports, or None with the reason why not."""

    measure: Measure
    hours: float | None
    reason: str


@dataclass(frozen=True)
class EvidenceReport:
    results: tuple[BucketResult, ...]
    suggestions: tuple[WindowSuggestion, ...]
    suggested_window_hours: float | None  # the longest window any measure supports, if any
    runs_used: int
    runs_without_prior_leg: int
    min_n: int
    confidence: float  # family-wise
    per_interval_confidence: float

    def result(self, measure: Measure, bucket: Bucket) -> BucketResult:
        return next(r for r in self.results if r.measure == measure and r.bucket == bucket)


def hours_since_legs(runs: pl.DataFrame, legs: pl.DataFrame) -> pl.DataFrame:
    """``runs`` (``activity_id, start_utc``) with ``hours_since_legs`` (null: no leg session
    ended before the run) and ``bucket``; ``legs`` holds the leg sessions' ``end_utc``."""
    ends = sorted(t for t in legs["end_utc"].to_list() if t is not None)
    hours: list[float | None] = []
    for start in runs["start_utc"].to_list():
        i = bisect_right(ends, start) if start is not None else 0
        hours.append((start - ends[i - 1]).total_seconds() / 3600.0 if i else None)
    out = runs.with_columns(pl.Series("hours_since_legs", hours, dtype=pl.Float64()))
    return out.with_columns(
        pl.when(pl.col("hours_since_legs") < 24)
        .then(pl.lit(Bucket.H0_24.value))
        .when(pl.col("hours_since_legs") < 48)
        .then(pl.lit(Bucket.H24_48.value))
        .when(pl.col("hours_since_legs") < 72)
        .then(pl.lit(Bucket.H48_72.value))
        .when(pl.col("hours_since_legs").is_not_null())
        .then(pl.lit(Bucket.BASELINE.value))
        .otherwise(None)
        .alias("bucket")
    )


def _diff(bucket: np.ndarray, base: np.ndarray, relative: bool) -> np.ndarray:
    """Difference of means along the last axis (vectorised over bootstrap rows)."""
    if relative:
        return (bucket.mean(axis=-1) / base.mean(axis=-1) - 1.0) * 100.0
    return bucket.mean(axis=-1) - base.mean(axis=-1)


def bootstrap_difference(
    bucket: np.ndarray,
    base: np.ndarray,
    *,
    relative: bool,
    confidence: float,
    n_boot: int,
    rng: np.random.Generator,
) -> Difference:
    """Point difference and percentile-bootstrap interval of mean(bucket) vs mean(base)."""
    estimate = float(_diff(bucket, base, relative))
    rb = bucket[rng.integers(0, bucket.size, size=(n_boot, bucket.size))]
    ra = base[rng.integers(0, base.size, size=(n_boot, base.size))]
    draws = _diff(rb, ra, relative)
    alpha = 1.0 - confidence
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return Difference(estimate, float(low), float(high), "%" if relative else "points")


def _verdict(measure: Measure, diff: Difference) -> Verdict:
    if not diff.excludes_zero:
        return Verdict.NO_CLEAR_DIFFERENCE
    worse = diff.estimate * WORSE_DIRECTION[measure] > 0
    return Verdict.WORSE if worse else Verdict.BETTER


def _suggest(measure: Measure, results: list[BucketResult]) -> WindowSuggestion:
    thin = [r.bucket.value for r in results if r.verdict == Verdict.NOT_ENOUGH_DATA]
    if thin:
        return WindowSuggestion(measure, None, f"not enough data in {', '.join(thin)}")
    worse = [r.bucket for r in results if r.verdict == Verdict.WORSE]
    if not worse:
        return WindowSuggestion(
            measure, None, "no bucket is clearly worse than the baseline; no window suggested"
        )
    hours = max(BUCKET_END[b] for b in worse)
    reason = f"runs {', '.join(b.value for b in worse)} after legs were clearly worse"
    if hours < BUCKET_END[Bucket.H48_72]:
        reason += "; later buckets were not"
    return WindowSuggestion(measure, hours, reason)


def evidence(
    runs: pl.DataFrame,
    measures: pl.DataFrame,
    legs: pl.DataFrame,
    settings: EvidenceSettings | None = None,
) -> EvidenceReport:
    """Compare runs by hours since the last leg session. ``runs``: ``activity_id, start_utc``
    (one athlete's runs); ``measures``: ``evidence_measures.run_measures`` over the laps of
    those runs only (the usual easy pace is taken over what it is given); ``legs``: the
    athlete's leg sessions with ``end_utc``."""
    cfg = settings or EvidenceSettings()
    missing = [c for c in MEASURES_SCHEMA if c not in measures.columns]
    if missing:
        raise ValueError(f"measures frame lacks columns: {', '.join(missing)}")
    timed = hours_since_legs(runs.select("activity_id", "start_utc"), legs)
    joined = timed.join(measures, on="activity_id", how="inner")
    level = cfg.per_interval_confidence
    results: list[BucketResult] = []
    suggestions: list[WindowSuggestion] = []
    for mi, measure in enumerate(Measure):
        col = joined.filter(pl.col(measure.value).is_not_null() & pl.col("bucket").is_not_null())
        values = {
            b: col.filter(pl.col("bucket") == b.value)[measure.value].to_numpy().astype(float)
            for b in Bucket
        }
        values = {b: v[np.isfinite(v)] for b, v in values.items()}
        base = values[Bucket.BASELINE]
        per_measure: list[BucketResult] = []
        for bi, bucket in enumerate(COMPARED):
            sample = values[bucket]
            if sample.size < cfg.min_n or base.size < cfg.min_n:
                per_measure.append(
                    BucketResult(
                        measure, bucket, sample.size, base.size, None, Verdict.NOT_ENOUGH_DATA
                    )
                )
                continue
            rng = np.random.default_rng([cfg.seed, mi, bi])
            diff = bootstrap_difference(
                sample,
                base,
                relative=RELATIVE[measure],
                confidence=level,
                n_boot=cfg.n_boot,
                rng=rng,
            )
            per_measure.append(
                BucketResult(measure, bucket, sample.size, base.size, diff, _verdict(measure, diff))
            )
        results.extend(per_measure)
        suggestions.append(_suggest(measure, per_measure))
    windows = [s.hours for s in suggestions if s.hours is not None]
    return EvidenceReport(
        results=tuple(results),
        suggestions=tuple(suggestions),
        suggested_window_hours=max(windows) if windows else None,
        runs_used=int(joined.filter(pl.col("bucket").is_not_null()).height),
        runs_without_prior_leg=int(timed.filter(pl.col("hours_since_legs").is_null()).height),
        min_n=cfg.min_n,
        confidence=cfg.confidence,
        per_interval_confidence=level,
    )


def describe(result: BucketResult) -> str:
    """One line for a person: the bucket, its n, and the difference with its interval."""
    if result.difference is None:
        return (
            f"{result.bucket.value}: n = {result.n} (baseline {result.baseline_n}) — "
            f"not enough data"
        )
    d = result.difference
    unit = "%" if d.unit == "%" else " points"
    return (
        f"{result.bucket.value}: n = {result.n} (baseline {result.baseline_n}), "
        f"{d.estimate:+.1f}{unit} [{d.low:+.1f}, {d.high:+.1f}] — {result.verdict.value}"
    )
