"""The SQL behind "how much is known": an athlete's strength sessions of a period (issue 12).

One statement, read-only, on the store passed in. ``pipeline.derive.known.count_known`` counts
the rows by verdict (legs, not legs, possible) and by evidence (sets, names, summary, label,
learned); ``legday status`` and the report show the counts.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipeline.store.db import Store


def strength_sessions(
    store: Store, athlete_id: str, since: datetime, until: datetime
) -> pl.DataFrame:
    """Strength sessions (effective kind ``strength`` or ``leg_strength``) starting in
    ``[since, until)``: ``activity_id, kind, region, kind_source, evidence``
    (``known.KNOWN_ROWS_SCHEMA``). Kinds as everywhere: label, then learned, then the rules."""
    return store.frame(
        "SELECT a.activity_id, coalesce(l.kind, lk.kind, c.kind) AS kind, c.region, "
        "CASE WHEN l.kind IS NOT NULL THEN 'label' WHEN lk.kind IS NOT NULL THEN 'learned' "
        "ELSE 'rules' END AS kind_source, c.evidence "
        "FROM activities a "
        "JOIN classifications c USING (athlete_id, activity_id) "
        "LEFT JOIN labels l USING (athlete_id, activity_id) "
        "LEFT JOIN learned_kinds lk USING (athlete_id, activity_id) "
        "WHERE a.athlete_id = ? AND a.time_plausible AND a.start_utc >= ? AND a.start_utc < ? "
        "AND coalesce(l.kind, lk.kind, c.kind) IN ('strength', 'leg_strength') "
        "ORDER BY a.start_utc, a.activity_id",
        [athlete_id, since, until],
    )
