-- 0002: what legday derives from the activities, and the corrections a person makes.

-- A person's correction of an activity's kind (`legday label`). Never touched by re-ingest or
-- re-classification; it wins over the rules.
CREATE TABLE labels (
    athlete_id    VARCHAR NOT NULL,
    activity_id   VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL CHECK (kind IN ('run', 'leg_strength', 'strength', 'ride', 'swim', 'other')),
    note          VARCHAR,
    labelled_utc  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, activity_id)
);

-- What the rules say each activity is (recomputed; see `labels` for corrections).
CREATE TABLE classifications (
    athlete_id    VARCHAR NOT NULL,
    activity_id   VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,            -- run, leg_strength, strength, ride, swim, other
    region        VARCHAR,                     -- strength focus: lower, upper, core, full, unknown
    leg_score     DOUBLE,                      -- weighted count of active lower-body sets
    lower_sets    INTEGER,
    active_sets   INTEGER,
    heavy         BOOLEAN,                     -- heavy leg session (low-rep loaded sets or volume)
    reason        VARCHAR NOT NULL,            -- why, in words, with the numbers
    computed_utc  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, activity_id)
);

-- Heart-rate metrics of every activity with heart rate; intensity labels for runs.
CREATE TABLE session_metrics (
    athlete_id        VARCHAR NOT NULL,
    activity_id       VARCHAR NOT NULL,
    hr_samples        INTEGER,
    hr_seconds        DOUBLE,                  -- seconds of heart rate counted (gaps capped)
    avg_hr            DOUBLE,                  -- bpm
    peak_hr           INTEGER,                 -- bpm
    z1_s DOUBLE, z2_s DOUBLE, z3_s DOUBLE, z4_s DOUBLE, z5_s DOUBLE,   -- configured zone model
    hrmax_z1_s DOUBLE, hrmax_z2_s DOUBLE, hrmax_z3_s DOUBLE, hrmax_z4_s DOUBLE, hrmax_z5_s DOUBLE,
    hrr_z1_s DOUBLE, hrr_z2_s DOUBLE, hrr_z3_s DOUBLE, hrr_z4_s DOUBLE, hrr_z5_s DOUBLE,
    lthr_z1_s DOUBLE, lthr_z2_s DOUBLE, lthr_z3_s DOUBLE, lthr_z4_s DOUBLE, lthr_z5_s DOUBLE,
    z4plus_s          DOUBLE,
    trimp_banister    DOUBLE,                  -- Banister TRIMP (arbitrary units)
    trimp_edwards     DOUBLE,                  -- Edwards TRIMP (zone-minutes x weight)
    intensity         VARCHAR,                 -- runs: easy, moderate, hard, unknown
    intensity_reason  VARCHAR,
    max_hr_used       INTEGER,                 -- bpm
    max_hr_source     VARCHAR,                 -- configured, observed, age_formula, default
    resting_hr_used   INTEGER,
    lthr_used         INTEGER,
    computed_utc      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, activity_id)
);

-- Intense (or easy) runs too soon after a leg session: one row per flagged run.
CREATE TABLE recovery_flags (
    athlete_id        VARCHAR NOT NULL,
    flag_id           VARCHAR NOT NULL,
    run_activity_id   VARCHAR NOT NULL,
    leg_activity_id   VARCHAR NOT NULL,
    run_start_utc     TIMESTAMPTZ NOT NULL,
    leg_end_utc       TIMESTAMPTZ NOT NULL,
    hours_between     DOUBLE NOT NULL,         -- real elapsed hours (DST-proof)
    severity          VARCHAR NOT NULL CHECK (severity IN ('alert', 'warning', 'info')),
    rule              VARCHAR NOT NULL,
    run_intensity     VARCHAR,
    leg_heavy         BOOLEAN,
    leg_unaccustomed  BOOLEAN,
    message           VARCHAR NOT NULL,        -- the finding in one sentence, with the numbers
    threshold_hours   DOUBLE,                  -- the window of the rule that fired
    evidence          VARCHAR,                 -- literature keys behind the rule (README, S1..S11)
    intense_ok_from_utc TIMESTAMPTZ,           -- when an intense run is advised again
    computed_utc      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, flag_id)
);

-- Daily reports as rendered (markdown, json, html), per athlete and local date.
CREATE TABLE reports (
    athlete_id      VARCHAR NOT NULL,
    local_date      DATE NOT NULL,
    format          VARCHAR NOT NULL CHECK (format IN ('md', 'json', 'html')),
    schema_version  VARCHAR NOT NULL,
    content         VARCHAR NOT NULL,
    generated_utc   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, local_date, format)
);

-- One row per activity with what legday made of it: the view most queries start from.
CREATE VIEW activity_overview AS
SELECT a.athlete_id, a.activity_id, a.start_utc, a.end_utc, a.sport, a.sub_sport, a.name,
       coalesce(l.kind, c.kind) AS kind,
       CASE WHEN l.kind IS NOT NULL THEN 'label' ELSE 'rules' END AS kind_source,
       c.region, c.leg_score, c.heavy,
       coalesce('labelled ' || l.kind || ' by you' || coalesce(': ' || l.note, ''), c.reason) AS kind_reason,
       m.intensity, m.intensity_reason, m.trimp_banister, m.trimp_edwards,
       a.elapsed_s, a.distance_m, a.avg_hr, a.max_hr, a.file_sha256
FROM activities a
LEFT JOIN classifications c USING (athlete_id, activity_id)
LEFT JOIN labels l USING (athlete_id, activity_id)
LEFT JOIN session_metrics m USING (athlete_id, activity_id);
