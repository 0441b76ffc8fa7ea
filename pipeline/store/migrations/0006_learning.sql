-- 0006: what makes strength sessions alike, and kinds learned from a person's labels (issue 12).

-- What decided a strength candidate's kind (sets, names, none) and the keys
-- pipeline.derive.learned matches sessions on. NULL in rows classified before 0006: refresh
-- classifies those again (pipeline.store.derive_sql.stale_activity_ids).
ALTER TABLE classifications ADD COLUMN evidence VARCHAR;
ALTER TABLE classifications ADD COLUMN set_signature VARCHAR;  -- 3x5@100|3x8@60 (derive/likeness.py)
ALTER TABLE classifications ADD COLUMN workout_name VARCHAR;   -- the workout the watch followed

-- A person's label carried over to sessions like the labelled one (derive/learned.py).
-- Derived: replaced whole for an athlete at each refresh; an explicit label always wins over it.
CREATE TABLE learned_kinds (
    athlete_id           VARCHAR NOT NULL,
    activity_id          VARCHAR NOT NULL,
    kind                 VARCHAR NOT NULL,   -- the teacher's label
    teacher_activity_id  VARCHAR NOT NULL,   -- the labelled session it was matched to
    matched_by           VARCHAR NOT NULL,   -- set_signature, workout_name or title
    reason               VARCHAR NOT NULL,   -- learned from label on <id> (same set signature)
    computed_utc         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, activity_id)
);

-- The overview with the learned kinds: label, then learned, then the rules.
CREATE OR REPLACE VIEW activity_overview AS
SELECT a.athlete_id, a.activity_id, a.start_utc, a.end_utc, a.sport, a.sub_sport, a.name,
       coalesce(l.kind, lk.kind, c.kind) AS kind,
       CASE WHEN l.kind IS NOT NULL THEN 'label'
            WHEN lk.kind IS NOT NULL THEN 'learned'
            ELSE 'rules' END AS kind_source,
       c.region, c.leg_score, c.heavy,
       coalesce('labelled ' || l.kind || ' by you' || coalesce(': ' || l.note, ''), lk.reason,
                c.reason) AS kind_reason,
       m.intensity, m.intensity_reason, m.trimp_banister, m.trimp_edwards,
       a.elapsed_s, a.distance_m, a.avg_hr, a.max_hr, a.file_sha256
FROM activities a
LEFT JOIN classifications c USING (athlete_id, activity_id)
LEFT JOIN labels l USING (athlete_id, activity_id)
LEFT JOIN learned_kinds lk USING (athlete_id, activity_id)
LEFT JOIN session_metrics m USING (athlete_id, activity_id);
