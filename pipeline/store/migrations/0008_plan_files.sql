-- 0008: FIT workout and schedule files, decoded, kept per athlete (issue 13). The plans are
-- rebuilt from all of them (pipeline.plans.service.rebuild_fit_plans), so a workout file and the
-- schedule that points at it may arrive in either order, in different runs.

CREATE TABLE plan_files (
    athlete_id     VARCHAR NOT NULL,
    sha256         VARCHAR NOT NULL,             -- the file's bytes (files.sha256)
    name           VARCHAR NOT NULL,             -- the file's name when it was ingested
    file_type      VARCHAR NOT NULL CHECK (file_type IN ('workout', 'schedules')),
    serial_number  BIGINT,                       -- file_id: a schedule entry points at a workout
    time_created   TIMESTAMPTZ,                  -- by these two (UTC instant)
    title          VARCHAR,                      -- workout name (workout files)
    entries        INTEGER NOT NULL,             -- workout steps, or schedule entries
    messages       VARCHAR NOT NULL,             -- the decoded messages as JSON, datetimes tagged
    stored_utc     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, sha256)
);
