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

-- How many objects of a class stood on one frame, for frames with two or
-- more: "more than 3 people" seeks here instead of grouping detections.
CREATE TABLE frame_counts (
    camera_id  INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    media_time INTEGER NOT NULL,
    class      TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (camera_id, media_time, class)
);
CREATE INDEX frame_counts_by_class_count ON frame_counts (class, n, media_time);
INSERT INTO frame_counts (camera_id, media_time, class, n)
    SELECT camera_id, media_time, class, count(*) FROM detections
    GROUP BY camera_id, media_time, class HAVING count(*) >= 2;

-- The zones each track stood in (from its dwell), so a place in a query
-- is an index lookup rather than JSON parsed on every track.
CREATE TABLE track_zones (
    track_id INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    zone     TEXT    NOT NULL,
    seconds  REAL    NOT NULL,
    PRIMARY KEY (zone, track_id)
);
INSERT OR IGNORE INTO track_zones (track_id, zone, seconds)
    SELECT t.id, d.key, d.value FROM tracks t, json_each(t.dwell) d;
