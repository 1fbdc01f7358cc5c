-- Recording: how each camera records, the index of segment files, bookmarks
-- and evidence locks. Times are UTC µs (media_time), paths are relative to
-- the recordings folder.
ALTER TABLE cameras ADD COLUMN record_mode TEXT NOT NULL DEFAULT 'continuous'
    CHECK (record_mode IN ('off', 'continuous', 'events'));
ALTER TABLE cameras ADD COLUMN pre_roll_s REAL NOT NULL DEFAULT 5;
ALTER TABLE cameras ADD COLUMN post_roll_s REAL NOT NULL DEFAULT 10;
-- NULL: the installation's setting.
ALTER TABLE cameras ADD COLUMN retain_days REAL;
-- NULL: no cap of its own (the total cap still applies).
ALTER TABLE cameras ADD COLUMN max_bytes INTEGER;

-- One row per segment file; `open` until the recorder closes it (or crash
-- recovery trims and closes it at the next start).
CREATE TABLE recordings (
    id        INTEGER PRIMARY KEY,
    camera_id INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    path      TEXT    NOT NULL UNIQUE,
    start_us  INTEGER NOT NULL,
    end_us    INTEGER NOT NULL,
    bytes     INTEGER NOT NULL,
    codec     TEXT    NOT NULL,
    width     INTEGER NOT NULL,
    height    INTEGER NOT NULL,
    open      INTEGER NOT NULL DEFAULT 1
);

CREATE INDEX recordings_by_camera_time ON recordings (camera_id, start_us);
CREATE INDEX recordings_by_time ON recordings (start_us);

CREATE TABLE bookmarks (
    id         INTEGER PRIMARY KEY,
    camera_id  INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    media_time INTEGER NOT NULL,
    note       TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX bookmarks_by_camera_time ON bookmarks (camera_id, media_time);

-- Retention never deletes a recording that overlaps a lock still in force.
CREATE TABLE evidence_locks (
    id         INTEGER PRIMARY KEY,
    camera_id  INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    start_us   INTEGER NOT NULL,
    end_us     INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    until_us   INTEGER,            -- NULL: until unlocked
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
