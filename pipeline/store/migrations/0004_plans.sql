-- 0004: planned workouts, the conflicts the "coming up" check found, and which findings have
-- been delivered (issue 13). Timestamps are TIMESTAMPTZ (UTC instants); the planned local start
-- is kept as the athlete's wall clock with the zone it was read in, so a plan reads back as it
-- was written, DST included.

CREATE TABLE planned_workouts (
    athlete_id   VARCHAR NOT NULL,
    plan_key     VARCHAR NOT NULL,             -- stable per source: UID, schedule entry, manual
    feed         VARCHAR NOT NULL,             -- the document it came from; a new read replaces its plans
    source       VARCHAR NOT NULL CHECK (source IN ('fit_workout', 'fit_schedule', 'ics', 'manual')),
    provenance   VARCHAR NOT NULL,             -- file hash, event, entry: where exactly
    start_local  TIMESTAMP NOT NULL,           -- wall clock in time_zone
    time_zone    VARCHAR NOT NULL,             -- IANA name (or +HH:MM when the source gave an offset)
    start_utc    TIMESTAMPTZ NOT NULL,
    all_day      BOOLEAN NOT NULL,             -- no time given: placed at the all-day hour
    duration_s   DOUBLE,                       -- NULL: unknown (one hour is assumed)
    sport        VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL CHECK (kind IN ('run', 'leg_strength', 'strength', 'other')),
    intensity    VARCHAR NOT NULL CHECK (intensity IN ('easy', 'moderate', 'hard', 'unknown')),
    reason       VARCHAR NOT NULL,             -- the words or numbers that decided kind and intensity
    title        VARCHAR NOT NULL,
    stored_utc   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, plan_key)
);

CREATE TABLE plan_conflicts (
    athlete_id       VARCHAR NOT NULL,
    finding_key      VARCHAR NOT NULL,         -- stable: plan, start, leg session and rule
    run_plan_key     VARCHAR NOT NULL,
    run_title        VARCHAR NOT NULL,
    run_start_utc    TIMESTAMPTZ NOT NULL,
    run_all_day      BOOLEAN NOT NULL,
    leg_session_id   VARCHAR NOT NULL,         -- activity_id, or 'plan:<plan_key>'
    leg_title        VARCHAR NOT NULL,
    leg_planned      BOOLEAN NOT NULL,
    leg_end_utc      TIMESTAMPTZ NOT NULL,
    hours_between    DOUBLE NOT NULL,          -- real elapsed hours (DST-proof)
    severity         VARCHAR NOT NULL CHECK (severity IN ('alert', 'warning', 'info')),
    rule             VARCHAR NOT NULL,
    threshold_hours  DOUBLE NOT NULL,
    evidence         VARCHAR NOT NULL,
    legs_ready_utc   TIMESTAMPTZ NOT NULL,
    move_to_utc      TIMESTAMPTZ NOT NULL,     -- first time the run draws no warning
    swap_plan_key    VARCHAR,                  -- an easy run whose slot clears the conflict
    suggestion       VARCHAR NOT NULL,
    message          VARCHAR NOT NULL,
    computed_utc     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, finding_key)
);

CREATE TABLE notifications_sent (
    finding_key  VARCHAR NOT NULL,             -- a conflict's finding_key or a flag's flag_id|rule
    channel      VARCHAR NOT NULL,             -- scheme + hash of the apprise URL (no secrets)
    sent_utc     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (finding_key, channel)
);
