-- Where in time each activity's heart-rate samples lie. hr_samples has no index (an ART costs
-- ~58 bytes a row) and activity ids are hashes, so its zone maps cannot find one activity's rows
-- by id; they can by time. Reading an activity's samples filters on this span as well, so a
-- nightly run or a report reads the row groups of that time, not the whole history.
CREATE TABLE hr_spans (
    athlete_id   VARCHAR NOT NULL,
    activity_id  VARCHAR NOT NULL,
    first_utc    TIMESTAMPTZ,               -- NULL when no sample has a readable time
    last_utc     TIMESTAMPTZ,
    samples      INTEGER NOT NULL,
    PRIMARY KEY (athlete_id, activity_id)
);

INSERT INTO hr_spans
SELECT athlete_id, activity_id, min(ts), max(ts), count(*)::INTEGER
FROM hr_samples
GROUP BY athlete_id, activity_id;
