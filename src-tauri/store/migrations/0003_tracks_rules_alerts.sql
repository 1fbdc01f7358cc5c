-- Zones, lines, masks (detections ignored) and privacy areas (also blacked
-- out in every picture) drawn on a camera; points are [[x, y], …] in 0..1 of
-- the frame (JSON). A line is its first two points.
CREATE TABLE zones (
    id        INTEGER PRIMARY KEY,
    camera_id INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    name      TEXT    NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('zone', 'line', 'mask', 'privacy')),
    points    TEXT    NOT NULL
);

-- Rules: what fires an alert. `definition` is the rule's JSON (classes,
-- trigger, schedule, cooldown, priority) as the engine reads it.
CREATE TABLE rules (
    id         INTEGER PRIMARY KEY,
    camera_id  INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    template   TEXT,
    definition TEXT    NOT NULL
);

-- One row per object followed over frames, written when its track ends.
-- Colours are comma-separated palette names; dwell is JSON {zone: seconds}.
CREATE TABLE tracks (
    id            INTEGER PRIMARY KEY,      -- the track id detections carry
    camera_id     INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    class         TEXT    NOT NULL,
    first_seen    INTEGER NOT NULL,         -- UTC µs
    last_seen     INTEGER NOT NULL,
    best_score    REAL    NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    direction     TEXT    NOT NULL,
    speed         REAL    NOT NULL,
    dwell         TEXT    NOT NULL DEFAULT '{}',
    colours       TEXT    NOT NULL DEFAULT '',
    upper_colours TEXT    NOT NULL DEFAULT '',
    lower_colours TEXT    NOT NULL DEFAULT '',
    thumbnail     BLOB
);
CREATE INDEX tracks_by_time ON tracks (first_seen);
CREATE INDEX tracks_by_camera_time ON tracks (camera_id, first_seen);

-- Alerts and their life in the alarm queue: new → acknowledged → closed.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    camera_id   INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    rule_id     INTEGER REFERENCES rules (id) ON DELETE SET NULL,
    rule_name   TEXT    NOT NULL,
    priority    TEXT    NOT NULL,
    media_time  INTEGER NOT NULL,           -- the frame it fired on, UTC µs
    track_id    INTEGER,
    class       TEXT    NOT NULL,
    score       REAL    NOT NULL,
    zone        TEXT    NOT NULL,
    x REAL, y REAL, w REAL, h REAL,
    explanation TEXT    NOT NULL,
    colours     TEXT    NOT NULL DEFAULT '',  -- the object's look when it fired
    state       TEXT    NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'acknowledged', 'closed')),
    false_alarm INTEGER NOT NULL DEFAULT 0,
    note        TEXT    NOT NULL DEFAULT '',
    snapshot    BLOB,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX alerts_by_time ON alerts (media_time);
CREATE INDEX alerts_by_state ON alerts (state, media_time);

-- Every change of an alert's state, note or false-alarm mark: when, by whom.
CREATE TABLE alert_history (
    id          INTEGER PRIMARY KEY,
    alert_id    INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,           -- UTC µs
    actor       TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    false_alarm INTEGER NOT NULL,
    note        TEXT    NOT NULL
);
CREATE INDEX alert_history_by_alert ON alert_history (alert_id, at);

-- False alarms learnt from the operator: firings of the same rule and class
-- in the same place with the same look are suppressed (and counted) until
-- the exclusion is deleted.
CREATE TABLE exclusions (
    id                INTEGER PRIMARY KEY,
    camera_id         INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    alert_id          INTEGER REFERENCES alerts (id) ON DELETE SET NULL,
    rule_id           INTEGER REFERENCES rules (id) ON DELETE CASCADE,
    class             TEXT    NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    colours           TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    suppressed        INTEGER NOT NULL DEFAULT 0,
    last_suppressed_at INTEGER
);
CREATE INDEX exclusions_by_camera ON exclusions (camera_id);

-- Webhooks: every new alert is POSTed as JSON to each enabled URL, retried
-- with backoff; each attempt is logged.
CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id         INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    alert_id   INTEGER REFERENCES alerts (id) ON DELETE SET NULL,
    attempt    INTEGER NOT NULL,
    at         INTEGER NOT NULL,            -- UTC µs
    ok         INTEGER NOT NULL,
    status     INTEGER,                     -- HTTP status, when there was an answer
    error      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, id);

-- Installation-wide settings (MQTT and the like) as JSON values.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
