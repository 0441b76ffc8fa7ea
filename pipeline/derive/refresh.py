"""From stored activities to derived tables: kinds, metrics and recovery flags.

``refresh`` classifies new activities, computes their heart-rate metrics and re-evaluates the
recovery rules only where something changed: from the earliest new activity on (plus the rule
windows), so a nightly run with three new files costs the same on a store of ten years as on an
empty one. Export summaries (``activity_summaries``) are matched again at each refresh of an
athlete that has any, so a summary and its FIT file meet whichever arrived first. Reports are built from these tables in ``pipeline.report.produce``.

Reads and writes the store passed in (or opened here by path), through the statements of
``pipeline.store.derive_sql``; the decisions are ``pipeline.derive``'s: classification, labels
(``labels.py``, the one place a person's correction is applied), metrics and recovery rules.
``now`` is passed in: no clock reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from pipeline.config import AthleteSettings, Settings
from pipeline.derive import classify as cl
from pipeline.derive import fatigue_service
from pipeline.derive import known as kn
from pipeline.derive import learned as lr
from pipeline.derive import metrics as mt
from pipeline.derive import recovery as rc
from pipeline.derive import summary_hints as sh
from pipeline.derive.labels import apply_labels, check_kind
from pipeline.derive.likeness import title_key
from pipeline.errors import ReportError
from pipeline.store import db as st
from pipeline.store import derive_sql as sql
from pipeline.store import evidence_counts_sql
from pipeline.store import summaries_sql as sq

#: Days of history the load model reads: six time constants of the 42-day fitness model
#: leave under 0.3 % of the initial value, so older history cannot change the numbers shown.
LOAD_HISTORY_DAYS = 6 * 42
#: Activities classified and measured per transaction during a refresh.
REFRESH_CHUNK = 25


@dataclass(frozen=True)
class RefreshResult:
    athlete_id: str
    classified: int
    measured: int
    flags: int
    since_utc: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def hr_profile(
    store: st.Store, athlete_id: str, athlete: AthleteSettings, now: datetime
) -> mt.HrProfile:
    """The athlete's heart-rate anchors at ``now`` (observed max HR read only when not set)."""
    observed = None if athlete.max_hr else sql.observed_max_hr(store, athlete_id, now)
    return mt.resolve_hr_profile(athlete, observed, now.date())


# -- refresh ------------------------------------------------------------------------------


def _todo(
    store: st.Store, athlete_id: str, profile: mt.HrProfile, full: bool, only: list[str] | None
) -> list[str]:
    if only is not None:
        return list(only)
    if full:
        return sql.activity_ids(store, athlete_id)
    return sql.stale_activity_ids(
        store, athlete_id, profile.max_hr, profile.resting_hr, profile.lthr
    )


def refresh(
    store: st.Store,
    settings: Settings,
    athlete_id: str,
    *,
    now: datetime,
    full: bool = False,
    only: list[str] | None = None,
) -> RefreshResult:
    """Bring classifications, metrics and flags of one athlete up to date.

    By default only activities without derived rows, or measured with another HR profile, are
    recomputed; ``only`` forces a list of activities, ``full`` forces all. Activities an export
    summary joined or left since the last refresh (``summary_hints.match_changes``) are
    classified again in every mode.
    """
    athlete = settings.athlete(athlete_id)
    profile = hr_profile(store, athlete_id, athlete, now)
    # Export summaries first: a session whose summary arrived (or left) since the last refresh
    # is classified again, whichever of summary and FIT file came first.
    has_summaries = sq.count_summaries(store, athlete_id) > 0
    moved, since = (
        _refresh_summaries(store, settings, athlete_id, now) if has_summaries else ([], None)
    )
    todo = _todo(store, athlete_id, profile, full, only)
    if not todo and not moved:
        return RefreshResult(athlete_id, 0, 0, 0, None)
    labels = sql.load_labels(store, athlete_id)
    classified_n = len(set(moved) - set(todo))
    measured_n = 0
    # Chunks bound memory by the chunk, not by the history (a backfill of years of 1 Hz heart
    # rate would not fit otherwise); each chunk commits on its own, so an interrupted refresh
    # resumes where it stopped.
    for start in range(0, len(todo), REFRESH_CHUNK):
        ids = todo[start : start + REFRESH_CHUNK]
        with store.transaction():
            acts = sql.load_activities(store, athlete_id, ids=ids)
            sets = sql.load_sets(store, athlete_id, ids)
            steps = sql.load_steps(store, athlete_id, ids)
            hints = _hints(store, settings, athlete_id, ids) if has_summaries else None
            classified = cl.classify(acts, sets, steps, athlete.classification, hints)
            sql.replace_derived(store, "classifications", athlete_id, classified, now)
            # Metrics label runs, so they take the kind a person gave over the rules' kind.
            kinds = apply_labels(classified, labels)
            hr = sql.load_hr(store, athlete_id, ids)
            metrics = mt.session_metrics(acts, kinds, hr, profile, athlete.intensity)
            metrics = metrics.with_columns(
                pl.lit(profile.resting_hr).alias("resting_hr_used"),
                pl.lit(profile.lthr).alias("lthr_used"),
            )
            sql.replace_derived(store, "session_metrics", athlete_id, metrics, now)
        classified_n += classified.height
        measured_n += metrics.height
        first = acts.filter(pl.col("time_plausible"))["start_utc"].min()
        if isinstance(first, datetime) and (since is None or first < since):
            since = first
    # A new label, or a new session like a labelled one, changes what other sessions learn.
    learned_since = _refresh_learned(store, athlete_id, now)
    if learned_since is not None and (since is None or learned_since < since):
        since = learned_since
    n_flags = 0
    if since is not None:
        with store.transaction():
            n_flags = _refresh_flags(store, settings, athlete_id, since, now)
    return RefreshResult(athlete_id, classified_n, measured_n, n_flags, since)


def _hints(
    store: st.Store, settings: Settings, athlete_id: str, ids: list[str]
) -> pl.DataFrame | None:
    """What the export summaries matched to ``ids`` say (None: the athlete has none)."""
    matched = sq.matched_summaries(store, athlete_id, ids)
    if matched.height == 0:
        return None
    return sh.summary_hints(matched, settings.athlete(athlete_id).classification)


def _refresh_summaries(
    store: st.Store, settings: Settings, athlete_id: str, now: datetime
) -> tuple[list[str], datetime | None]:
    """Match the athlete's export summaries again and classify the activities a summary joined
    or left; returns those activities and the earliest start among them.

    The new matches and the new kinds are written in one transaction, so a crash leaves the
    old pair and the next refresh finds the same change again. Only the classification is
    redone: a summary never makes or unmakes a run, so the metrics stay as they are. Reads the
    summaries and five columns of the athlete's activities; refresh skips it (one count) for an
    athlete without summaries.
    """
    changes, moved_set = sh.match_changes(
        sq.summaries_to_match(store, athlete_id), sq.activities_to_match(store, athlete_id)
    )
    if changes.height == 0:
        return [], None
    moved = sorted(moved_set)
    first: datetime | None = None
    with store.transaction():
        sq.save_matches(store, athlete_id, changes, now)
        if moved:
            acts = sql.load_activities(store, athlete_id, ids=moved)
            classified = cl.classify(
                acts,
                sql.load_sets(store, athlete_id, moved),
                sql.load_steps(store, athlete_id, moved),
                settings.athlete(athlete_id).classification,
                _hints(store, settings, athlete_id, moved),
            )
            sql.replace_derived(store, "classifications", athlete_id, classified, now)
            start = acts.filter(pl.col("time_plausible"))["start_utc"].min()
            first = start if isinstance(start, datetime) else None
    return moved, first


def _refresh_learned(store: st.Store, athlete_id: str, now: datetime) -> datetime | None:
    """Learn kinds from the labels again (``derive.learned``); the earliest start of a session
    whose learned kind changed, or None when none did."""
    features = sql.learning_features(store, athlete_id)
    learned = lr.learn(features, sql.load_labels(store, athlete_id))
    before = {tuple(r) for r in sql.load_learned(store, athlete_id).iter_rows()}
    after = {tuple(r) for r in learned.iter_rows()}
    changed = {str(r[0]) for r in before ^ after}
    if not changed:
        return None
    with store.transaction():
        sql.replace_learned(store, athlete_id, learned, now)
    starts = features.filter(pl.col("activity_id").is_in(sorted(changed)))["start_utc"]
    first = starts.min()
    return first if isinstance(first, datetime) else None


def session_frame(
    store: st.Store, athlete_id: str, *, since: datetime | None, until: datetime | None = None
) -> pl.DataFrame:
    """Activities joined with effective kind and metrics: the recovery input.

    Kinds learned from labels (``derive.learned``) go over the rules', labels over both;
    ``kind_source`` says which (``rules``, ``learned``, ``label``).
    """
    sessions = lr.apply_learned(
        _titled(sql.rule_sessions(store, athlete_id, since=since, until=until)),
        reason="kind_reason",
    )
    return apply_labels(
        sessions, sql.load_labels(store, athlete_id), reason="kind_reason", source="kind_source"
    )


def _titled(sessions: pl.DataFrame) -> pl.DataFrame:
    """A session its file leaves unnamed, or names as the device does ("Strength"), is shown by
    the title the person gave it in Garmin Connect or Strava (its matched export summary)."""
    titles = sessions["summary_title"]
    if titles.null_count() == sessions.height:
        return sessions.drop("summary_title")
    names = [
        title if title is not None and title_key(name) is None else name
        for name, title in zip(sessions["name"], titles, strict=True)
    ]
    return sessions.with_columns(pl.Series("name", names, dtype=pl.String)).drop("summary_title")


def known_counts(
    store: st.Store, settings: Settings, athlete_id: str, until_utc: datetime
) -> kn.KnownCounts:
    """The athlete's strength sessions of the 28 days before ``until_utc`` by verdict and
    evidence (``derive.known``): what ``legday status`` and the report show."""
    rows = evidence_counts_sql.strength_sessions(
        store, athlete_id, kn.known_since(until_utc), until_utc
    )
    return kn.count_known(athlete_id, rows, settings.athlete(athlete_id).recovery, until_utc)


def preview_label(
    store: st.Store, athlete_id: str, activity: str, kind: str, *, now: datetime
) -> tuple[str, list[lr.LabelChange]]:
    """The full id of ``activity`` and the other sessions a label ``kind`` on it would change
    (``legday label --dry-run``); nothing is written."""
    check_kind(kind)
    full_id = _one_activity(store, athlete_id, activity)
    features = sql.learning_features(store, athlete_id)
    return full_id, lr.preview_label(
        features, sql.load_labels(store, athlete_id), full_id, kind, now
    )


def _one_activity(store: st.Store, athlete_id: str, activity: str) -> str:
    ids = sql.activity_ids_starting_with(store, athlete_id, activity)
    if len(ids) != 1:
        raise ReportError(
            f"no activity of {athlete_id!r} has an id starting with {activity!r}"
            if not ids
            else f"{len(ids)} activities start with {activity!r}; give more characters"
        )
    return ids[0]


def _refresh_flags(
    store: st.Store, settings: Settings, athlete_id: str, since: datetime, now: datetime
) -> int:
    athlete = settings.athlete(athlete_id)
    days = athlete.classification.unaccustomed_days
    r = athlete.recovery
    # Leg sessions this far before the earliest change can still decide a flag after it, and
    # the unaccustomed test looks ``days`` further back again.
    window_h = max(r.alert_hours, r.warning_hours, r.heavy_warning_hours, r.info_hours)
    lookback = since - timedelta(hours=window_h) - timedelta(days=days + 1)
    sessions = session_frame(store, athlete_id, since=lookback)
    if r.model == "fatigue":
        # The curve's flags (docs/fatigue.md section 4); its doses come from the whole history,
        # so the lookback changes no level.
        flags = fatigue_service.fatigue_flags(store, settings, athlete_id, sessions)
    else:
        flags = rc.recovery_flags(sessions, athlete.recovery, days, tz=athlete.tz)
    flags = flags.filter(pl.col("run_start_utc") >= since)
    sql.replace_flags(store, athlete_id, since, flags, now)
    return flags.height


def refresh_store(
    settings: Settings,
    *,
    now: datetime,
    on_wait: st.WaitCallback | None = None,
    full: bool = False,
    athletes: list[str] | None = None,
) -> dict[str, Any]:
    """Open the store as writer and refresh every athlete that has activities."""
    out: dict[str, Any] = {}
    with st.open_store(settings.db_path, timeout_s=600, on_wait=on_wait) as store:
        store.migrate(now)
        for athlete_id in athletes or sql.athletes_with_activities(store):
            if athlete_id not in settings.athletes:
                continue  # activities of an athlete no longer configured stay as they are
            out[athlete_id] = refresh(store, settings, athlete_id, now=now, full=full).as_dict()
            # The curve moves with the clock, not only with new sets, so it is recomputed under
            # both models even when nothing new came in (its own transaction).
            fatigue_service.refresh_fatigue(store, settings, athlete_id, now)
    return out


def set_label(
    store: st.Store, athlete_id: str, activity: str, kind: str, note: str | None, *, now: datetime
) -> str:
    """Record a person's correction; ``activity`` may be a unique id prefix. Returns the full id.

    What a label changes is ``pipeline.derive.labels``'s to say; refresh the activity after.
    """
    check_kind(kind)
    full_id = _one_activity(store, athlete_id, activity)
    sql.save_label(store, athlete_id, full_id, kind, note, now)
    return full_id
