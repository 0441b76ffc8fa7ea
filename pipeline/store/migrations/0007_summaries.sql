-- 0007: what Garmin Connect and Strava export summaries say about activities (issue 12 item 4).
--
-- One row per summary: a Garmin `*_summarizedActivities.json` entry or a Strava
-- `activities.csv` row (pipeline/exports). The same summary arriving again (same source and
-- source_id) replaces its row. The match columns are derived: refresh matches every summary of
-- an athlete against its activities (pipeline/derive/summary_hints.py) and writes them back;
-- matched_utc NULL means "not matched since the row was (re)written".
CREATE TABLE activity_summaries (
    athlete_id      VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,   -- garmin_summary | strava_csv (exports.types.ExportSource)
    source_id       VARCHAR NOT NULL,   -- Garmin activityId, Strava Activity ID
    title           VARCHAR,            -- the name the person gave it in Connect / Strava
    activity_type   VARCHAR,            -- as given: strength_training, Weight Training, Run
    sport_type      VARCHAR,            -- Garmin sportType (values UNCONFIRMED)
    start_utc       TIMESTAMPTZ,
    start_local     TIMESTAMP,          -- wall clock as given (Garmin startTimeLocal)
    duration_s      DOUBLE,
    exercises       STRUCT(category VARCHAR, sub_category VARCHAR, sets INTEGER, reps INTEGER,
                           max_weight_kg DOUBLE, volume_kg DOUBLE, duration_s DOUBLE)[],
    file_name       VARCHAR,            -- Strava Filename, e.g. activities/123.fit.gz
    file_sha256     VARCHAR,            -- sha256 of the FIT bytes stored from file_name
    origin          VARCHAR NOT NULL,   -- the summary file as a person knows it (zip!member)
    origin_sha256   VARCHAR NOT NULL,   -- sha256 of the summary file's bytes
    unexpected      VARCHAR[],          -- what lenient reading skipped, guessed or fell back on
    content_sha256  VARCHAR NOT NULL,   -- digest of what matching and classification read
    imported_utc    TIMESTAMPTZ NOT NULL,
    -- the match (pipeline/exports/match.py), written by refresh
    activity_id     VARCHAR,            -- the matched activity; NULL unless matched
    match_how       VARCHAR,            -- file | start_exact | start_tolerance_type_duration | ambiguous | none
    delta_s         DOUBLE,             -- summary start minus activity start
    candidates      VARCHAR[],          -- ambiguous: the activities it could be
    match_note      VARCHAR,
    matched_utc     TIMESTAMPTZ,
    PRIMARY KEY (athlete_id, source, source_id)
);
