-- 0001: files and what was decoded from them.
-- Every row carries athlete_id. Timestamps are TIMESTAMPTZ (UTC instants).
-- Units are in the column names: _s seconds, _m metres, _kg kilograms, _kcal kilocalories, bpm.

CREATE TABLE files (
    athlete_id      VARCHAR NOT NULL,
    sha256          VARCHAR NOT NULL,          -- hex sha256 of the file's bytes: its identity
    status          VARCHAR NOT NULL CHECK (status IN ('stored', 'partial', 'quarantined', 'duplicate')),
    reason_code     VARCHAR,                   -- stable code when status is not 'stored'
    message         VARCHAR,                   -- what happened and what a person can do
    warnings        STRUCT(code VARCHAR, message VARCHAR)[],
    original_name   VARCHAR NOT NULL,          -- file name when it first arrived
    size_bytes      BIGINT NOT NULL,
    file_type       VARCHAR,                   -- file_id.type: activity, settings, workout, ...
    manufacturer    VARCHAR,
    product         VARCHAR,
    serial_number   UBIGINT,
    time_created    TIMESTAMPTZ,
    utc_offset_s    INTEGER,                   -- device local time minus UTC (activity.local_timestamp)
    fit_identity    VARCHAR,                   -- manufacturer|product|serial|time_created, when known
    duplicate_of    VARCHAR,                   -- sha256 of the file that holds the same activity
    n_messages      INTEGER,
    n_activities    INTEGER NOT NULL DEFAULT 0,
    parser_version  VARCHAR NOT NULL,
    first_seen_utc  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, sha256)
);

CREATE TABLE file_sightings (
    athlete_id  VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    path        VARCHAR NOT NULL,              -- where the file was seen (inbox or ingest argument)
    seen_utc    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, sha256, path)
);

CREATE TABLE activities (
    athlete_id                VARCHAR NOT NULL,
    activity_id               VARCHAR NOT NULL,   -- stable: hash of athlete, FIT identity, session index
    file_sha256               VARCHAR NOT NULL,
    session_index             INTEGER NOT NULL,   -- 0-based position of the session in its file
    sport                     VARCHAR,
    sub_sport                 VARCHAR,
    sport_code                INTEGER,
    sub_sport_code            INTEGER,
    name                      VARCHAR,
    start_utc                 TIMESTAMPTZ,        -- NULL when the file has no readable time
    end_utc                   TIMESTAMPTZ,
    elapsed_s                 DOUBLE,
    timer_s                   DOUBLE,
    distance_m                DOUBLE,
    avg_hr                    INTEGER,            -- bpm
    max_hr                    INTEGER,            -- bpm
    calories_kcal             INTEGER,
    training_load_peak        DOUBLE,
    total_training_effect     DOUBLE,
    anaerobic_training_effect DOUBLE,
    workout_rpe               DOUBLE,             -- CR-10 (0..10)
    summary_source            VARCHAR NOT NULL,   -- 'session' message, or derived from 'records'
    time_plausible            BOOLEAN NOT NULL DEFAULT true, -- false: clock before 1990, in the
                                                  -- future or unreadable; kept, never put on a day
    utc_offset_s              INTEGER,
    PRIMARY KEY (athlete_id, activity_id)
);

CREATE TABLE laps (
    athlete_id      VARCHAR NOT NULL,
    activity_id     VARCHAR NOT NULL,
    lap_index       INTEGER NOT NULL,
    start_utc       TIMESTAMPTZ,
    end_utc         TIMESTAMPTZ,
    elapsed_s       DOUBLE,
    timer_s         DOUBLE,
    distance_m      DOUBLE,
    avg_hr          INTEGER,
    max_hr          INTEGER,
    calories_kcal   INTEGER
);

-- No primary key on purpose: an ART index costs ~58 bytes a row (libraries.md 3.2); rows are
-- replaced per activity inside one transaction.
CREATE TABLE hr_samples (
    athlete_id   VARCHAR NOT NULL,
    activity_id  VARCHAR NOT NULL,
    ts           TIMESTAMPTZ,                   -- NULL when the sample has no readable time
    bpm          SMALLINT NOT NULL,
    source       VARCHAR NOT NULL               -- 'record' or 'hr' (strap-buffered hr messages)
);

CREATE TABLE strength_sets (
    athlete_id        VARCHAR NOT NULL,
    activity_id       VARCHAR NOT NULL,
    set_index         INTEGER NOT NULL,
    set_type          VARCHAR,                  -- 'active' | 'rest'
    start_utc         TIMESTAMPTZ,
    duration_s        DOUBLE,
    repetitions       INTEGER,
    weight_kg         DOUBLE,
    category          VARCHAR,                  -- first known exercise category, or 'unknown'
    categories        VARCHAR[],                -- every candidate category, as names
    category_codes    INTEGER[],                -- raw candidate codes (65534 = unknown)
    category_subtype  INTEGER,
    exercise_name     VARCHAR,                  -- e.g. squat subtype 0 = 'leg_press'
    wkt_step_index    INTEGER
);

CREATE TABLE workout_steps (
    athlete_id     VARCHAR NOT NULL,
    file_sha256    VARCHAR NOT NULL,
    step_index     INTEGER,
    source         VARCHAR,                     -- 'workout_step' | 'exercise_title' | 'workout'
    name           VARCHAR,
    category       VARCHAR,
    exercise_name  VARCHAR
);
