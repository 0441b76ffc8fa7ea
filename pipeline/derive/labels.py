"""A person's corrections of a session's kind (``legday label``), applied one way everywhere.

Pure, no I/O: the caller reads the ``labels`` relation (``pipeline.store.derive_sql``) and passes
it in. Refresh (the kinds the metrics see), the recovery frame (flags, reports) and the tests all
go through ``apply_labels``; the ``activity_overview`` view (migration 0002) states the same rule
in SQL for ``legday query``, and a test checks that the two agree.

What a label changes, and what it leaves:

* ``kind`` becomes the label's kind (the latest label of an activity wins), also over a kind
  learned from another session's label (``pipeline.derive.learned``, applied before this);
* the reason becomes ``labelled <kind> by you[: <note>]`` and the source ``label``;
* ``region``, ``leg_score``, ``lower_sets``, ``active_sets`` and ``heavy`` stay what the rules
  measured from the sets. A session labelled ``leg_strength`` therefore keeps the rules' region
  (``upper`` when its sets were bench presses, ``unknown`` when it had no set data): the region
  describes what was recorded, the label what the session was. The recovery rules read kind,
  times, ``heavy`` and ``leg_score``; the region only to find possible leg sessions (rules'
  ``unknown``, no label: ``pipeline.derive.possible_legs``), so the label alone decides every flag;
  the fatigue model (``pipeline.store.fatigue_sql``, which joins labels the same way) gives the
  region only to sets nothing identifies.
"""

from __future__ import annotations

import polars as pl

from pipeline.derive.classify import KINDS
from pipeline.errors import ReportError
from pipeline.fit.schemas import UTC_TS

#: The ``labels`` relation as ``apply_labels`` reads it.
LABELS_SCHEMA: dict[str, pl.DataType] = {
    "activity_id": pl.String(),
    "kind": pl.String(),
    "note": pl.String(),
    "labelled_utc": UTC_TS,
}


def check_kind(kind: str) -> str:
    """``kind`` when a label may name it; else a one-line error that lists the kinds."""
    if kind not in KINDS:
        raise ReportError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return kind


def apply_labels(
    frame: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    reason: str = "reason",
    source: str | None = None,
) -> pl.DataFrame:
    """``frame`` with the labels' kinds over the rules' (rows, order and columns kept).

    ``frame`` has ``activity_id``, ``kind`` and a reason column named ``reason``; ``labels`` has
    the columns of ``LABELS_SCHEMA``. When ``source`` names a column, it is added with ``label``
    or ``rules`` for each row.
    """
    bad = sorted(set(labels["kind"].drop_nulls().to_list()) - set(KINDS))
    if bad:
        raise ValueError(f"labels with unknown kind(s) {bad}; expected one of {', '.join(KINDS)}")
    latest = (
        labels.sort("labelled_utc")
        .unique("activity_id", keep="last")
        .select(
            pl.col("activity_id").cast(pl.String),
            pl.col("kind").cast(pl.String).alias("_label_kind"),
            pl.col("note").cast(pl.String).alias("_label_note"),
        )
    )
    labelled = pl.col("_label_kind").is_not_null()
    said = pl.concat_str(
        pl.lit("labelled "),
        pl.col("_label_kind"),
        pl.lit(" by you"),
        pl.concat_str(pl.lit(": "), pl.col("_label_note")).fill_null(""),
    )
    out = frame.join(latest, on="activity_id", how="left", maintain_order="left").with_columns(
        pl.coalesce("_label_kind", "kind").alias("kind"),
        pl.when(labelled).then(said).otherwise(pl.col(reason)).alias(reason),
    )
    if source is not None:
        # A source already there (``learned``, from ``pipeline.derive.learned``) stays on rows
        # without a label.
        other = pl.col(source) if source in frame.columns else pl.lit("rules")
        out = out.with_columns(
            pl.when(labelled).then(pl.lit("label")).otherwise(other).alias(source)
        )
    return out.drop("_label_kind", "_label_note")
