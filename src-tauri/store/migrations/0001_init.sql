-- Cameras. Credentials: the password is stored only encrypted (ciphertext
-- with its nonce); the key never enters the database.
CREATE TABLE cameras (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    url          TEXT    NOT NULL,          -- main stream, without credentials
    sub_url      TEXT,                      -- optional detection stream
    username     TEXT,
    password_enc BLOB,
    detect_fps   REAL    NOT NULL DEFAULT 5.0,
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL           -- UTC µs
);

-- One row per detected object on a frame. media_time is the frame's UTC µs
-- (the one clock); the box is normalised to 0..1 of the frame, top-left origin.
CREATE TABLE detections (
    id         INTEGER PRIMARY KEY,
    camera_id  INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    media_time INTEGER NOT NULL,
    class      TEXT    NOT NULL,
    score      REAL    NOT NULL,
    x          REAL    NOT NULL,
    y          REAL    NOT NULL,
    w          REAL    NOT NULL,
    h          REAL    NOT NULL,
    track_id   INTEGER
);

CREATE INDEX detections_by_time ON detections (media_time);
CREATE INDEX detections_by_camera_time ON detections (camera_id, media_time);
CREATE INDEX detections_by_class_time ON detections (class, media_time);
