-- 0005: the leg fatigue curve (issue 14, docs/fatigue.md). Derived, recomputed by
-- pipeline.derive.fatigue_service.refresh_fatigue; nothing here is a person's input.

-- What each active strength set added to each leg region, and why (the report explains a curve
-- with these rows). Replaced whole for an athlete at each refresh: a set's dose depends on the
-- athlete's e1RM so far and on whether its session was unaccustomed.
CREATE TABLE fatigue_doses (
    athlete_id        VARCHAR NOT NULL,
    activity_id       VARCHAR NOT NULL,
    set_index         INTEGER,
    time_utc          TIMESTAMPTZ NOT NULL,       -- the set's start
    exercise          VARCHAR NOT NULL,           -- exercise name, else category, else 'unknown'
    via               VARCHAR NOT NULL,           -- how regions were found: name, keyword, category, session, unknown
    reps              DOUBLE,
    weight_kg         DOUBLE,
    e1rm_kg           DOUBLE,                     -- NULL: scored by reps alone
    relative_load     DOUBLE,
    load_basis        VARCHAR,                    -- 'e1rm' | 'reps'
    heavy             BOOLEAN,
    unaccustomed      BOOLEAN,
    dose_quadriceps       DOUBLE NOT NULL,        -- fatigue units: 1.0 = right after 10 x 5 @ 80 % 1RM
    dose_posterior_chain  DOUBLE NOT NULL,
    dose_calves           DOUBLE NOT NULL,
    computed_utc      TIMESTAMPTZ NOT NULL
);

-- Hourly fatigue per region over the last days (recovery.fatigue.curve_days) up to the instant
-- the legs are ready (at most 7 days ahead): the report plots the last 7 days with runs marked.
-- Points after computed_utc are a projection with no further sets.
CREATE TABLE fatigue_curve (
    athlete_id    VARCHAR NOT NULL,
    time_utc      TIMESTAMPTZ NOT NULL,
    region        VARCHAR NOT NULL CHECK (region IN ('quadriceps', 'posterior_chain', 'calves')),
    fatigue       DOUBLE NOT NULL,
    computed_utc  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, time_utc, region)
);

-- "Legs ready" as computed at each refresh: the instant every region falls to the threshold,
-- counting the sets up to as_of_utc. ready_at_utc NULL: ready at as_of_utc already.
CREATE TABLE legs_ready (
    athlete_id                VARCHAR NOT NULL,
    as_of_utc                 TIMESTAMPTZ NOT NULL,
    ready_at_utc              TIMESTAMPTZ,
    limiting_region           VARCHAR,            -- the region that is ready last (NULL when ready)
    quadriceps                DOUBLE NOT NULL,    -- each region's level at as_of_utc
    posterior_chain           DOUBLE NOT NULL,
    calves                    DOUBLE NOT NULL,
    threshold                 DOUBLE NOT NULL,
    last_dose_utc             TIMESTAMPTZ,        -- the last set that loaded a leg region
    computed_utc              TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (athlete_id, as_of_utc)
);
