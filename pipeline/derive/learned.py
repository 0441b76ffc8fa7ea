"""Learning from a person's labels: a labelled session teaches legday about sessions like it.

Pure functions over frames, no I/O (refresh reads and writes the ``learned_kinds`` relation
through ``pipeline.store.derive_sql``). A session *learns* a kind when all of this holds:

* it is a possible leg session by the rules' own verdict: ``strength`` with region ``unknown``
  (learning never overrides what a session's own sets or name say, so an upper-body session
  identified by its sets stays what its sets show);
* it has no label of its own (an explicit label always wins);
* it shares a key with a labelled session, the *teacher* (``pipeline.derive.likeness``): the
  same set signature, the same workout name, or the same title (device default titles such as
  "Strength" never match). A session's title is its FIT name or, when that is absent or a
  device default, the title of an export summary matched to it (a Connect or Strava title such
  as "Lower A" lives only there).

When several teachers match, the most recently labelled one wins (a person's latest word);
between keys of one teacher the strongest is named: set signature, then workout name, then
title. The learned kind's reason names the teacher: ``learned from label on <id> (same set
signature): leg_strength``. ``preview_label`` says which other sessions a new label would change
(``legday label ... --dry-run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import polars as pl

from pipeline.derive.likeness import session_title_key, workout_key


class MatchKey(StrEnum):
    """What a session shares with its teacher, strongest first."""

    SET_SIGNATURE = "set_signature"
    WORKOUT_NAME = "workout_name"
    TITLE = "title"


_WORDS = {
    MatchKey.SET_SIGNATURE: "same set signature",
    MatchKey.WORKOUT_NAME: "same workout name",
    MatchKey.TITLE: "same title",
}

#: One row per strength candidate (and per labelled session): what learning reads.
FEATURES_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "start_utc": pl.Datetime("us", "UTC"),
    "name": pl.String(),
    "summary_title": pl.String(),  # of an export summary matched to it (``summary_hints``)
    "workout_name": pl.String(),
    "set_signature": pl.String(),
    "kind": pl.String(),  # the rules' kind
    "region": pl.String(),  # the rules' region
}

#: The ``learned_kinds`` relation without athlete and time.
LEARNED_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),
    "teacher_activity_id": pl.String(),
    "matched_by": pl.String(),
    "reason": pl.String(),
}


def _keys(row: dict[str, object]) -> dict[MatchKey, str]:
    found = {
        MatchKey.SET_SIGNATURE: row.get("set_signature"),
        MatchKey.WORKOUT_NAME: workout_key(row.get("workout_name")),
        MatchKey.TITLE: session_title_key(row.get("name"), row.get("summary_title")),
    }
    return {k: v for k, v in found.items() if isinstance(v, str) and v}


def _latest_labels(labels: pl.DataFrame) -> list[dict[str, object]]:
    """One label per activity (its latest), most recently labelled first."""
    if labels.height == 0:
        return []
    latest = labels.sort("labelled_utc").unique("activity_id", keep="last")
    return latest.sort(["labelled_utc", "activity_id"], descending=True).to_dicts()


def learn(features: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """The kinds sessions learn from ``labels`` (``LEARNED_SCHEMA``, sorted by activity id).

    ``features``: ``FEATURES_SCHEMA`` rows; ``labels``: ``labels.LABELS_SCHEMA`` rows.
    """
    rows = {str(r["activity_id"]): r for r in features.to_dicts()}
    teachers = [
        (str(lab["activity_id"]), str(lab["kind"]), _keys(rows[str(lab["activity_id"])]))
        for lab in _latest_labels(labels)
        if str(lab["activity_id"]) in rows
    ]
    labelled = {t[0] for t in teachers} | {str(a) for a in labels["activity_id"].to_list()}
    out = []
    for aid, row in sorted(rows.items()):
        if aid in labelled or row.get("kind") != "strength" or row.get("region") != "unknown":
            continue
        mine = _keys(row)
        for teacher_id, kind, theirs in teachers:  # most recent label first
            shared = [k for k in MatchKey if k in mine and theirs.get(k) == mine[k]]
            if shared:
                how = shared[0]
                reason = f"learned from label on {teacher_id} ({_WORDS[how]}): {kind}"
                out.append((aid, kind, teacher_id, how.value, reason))
                break
    return pl.DataFrame(out, schema=LEARNED_SCHEMA, orient="row")


def apply_learned(
    frame: pl.DataFrame, *, reason: str = "reason", source: str = "kind_source"
) -> pl.DataFrame:
    """``frame`` with the learned kinds (columns ``learned_kind``, ``learned_reason``, dropped
    here) over the rules' kind; ``source`` says ``learned`` or ``rules``. Labels go on after."""
    if "learned_kind" not in frame.columns:
        return frame.with_columns(pl.lit("rules").alias(source))
    learned = pl.col("learned_kind").is_not_null()
    return frame.with_columns(
        pl.coalesce("learned_kind", "kind").alias("kind"),
        pl.when(learned).then(pl.col("learned_reason")).otherwise(pl.col(reason)).alias(reason),
        pl.when(learned).then(pl.lit("learned")).otherwise(pl.lit("rules")).alias(source),
    ).drop("learned_kind", "learned_reason")


@dataclass(frozen=True)
class LabelChange:
    """A session whose kind a new label would change (``legday label --dry-run``)."""

    activity_id: str
    name: str | None
    start_utc: datetime | None
    kind_before: str
    source_before: str  # label, learned or rules
    kind_after: str
    reason_after: str


def _effective(
    features: pl.DataFrame, labels: pl.DataFrame
) -> dict[str, tuple[str, str, str | None]]:
    """activity id -> (kind, source, learned reason) with labels and learned kinds applied."""
    learned = {str(r["activity_id"]): r for r in learn(features, labels).to_dicts()}
    said = {str(r["activity_id"]): str(r["kind"]) for r in _latest_labels(labels)}
    out: dict[str, tuple[str, str, str | None]] = {}
    for r in features.to_dicts():
        aid = str(r["activity_id"])
        if aid in said:
            out[aid] = (said[aid], "label", None)
        elif aid in learned:
            out[aid] = (str(learned[aid]["kind"]), "learned", str(learned[aid]["reason"]))
        else:
            out[aid] = (str(r["kind"]), "rules", None)
    return out


def preview_label(
    features: pl.DataFrame, labels: pl.DataFrame, activity_id: str, kind: str, now: datetime
) -> list[LabelChange]:
    """The other sessions whose kind (or its source) would change if ``activity_id`` were
    labelled ``kind`` at ``now``, in start order."""
    new = pl.DataFrame(
        [{"activity_id": activity_id, "kind": kind, "note": None, "labelled_utc": now}],
        schema=labels.schema,
    )
    before = _effective(features, labels)
    after = _effective(features, pl.concat([labels, new]))
    info = {str(r["activity_id"]): r for r in features.to_dicts()}
    out = []
    for aid, (k_after, src_after, why) in after.items():
        k_before, src_before, _ = before[aid]
        if aid == activity_id or (k_after, src_after) == (k_before, src_before):
            continue
        out.append(
            LabelChange(
                aid,
                info[aid].get("name") or info[aid].get("summary_title"),
                info[aid].get("start_utc"),
                k_before,
                src_before,
                k_after,
                why or f"{src_after}: {k_after}",
            )
        )
    out.sort(key=lambda c: (c.start_utc.timestamp() if c.start_utc else 0.0, c.activity_id))
    return out
