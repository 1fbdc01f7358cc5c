-- Search: indexes for the filters it runs, and the audit log of searches
-- (who searched for what, when).
CREATE INDEX tracks_by_class_time ON tracks (class, first_seen);
CREATE INDEX alerts_by_track ON alerts (track_id);

CREATE TABLE search_audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,   -- UTC µs
    actor  TEXT    NOT NULL,
    query  TEXT    NOT NULL,
    filter TEXT    NOT NULL    -- the filter run, as JSON
);
