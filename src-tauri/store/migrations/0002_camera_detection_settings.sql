-- Per-camera detection settings: which classes to keep (a comma-separated
-- list; NULL keeps every class) and the minimum score to keep a detection.
ALTER TABLE cameras ADD COLUMN classes TEXT;
ALTER TABLE cameras ADD COLUMN min_score REAL NOT NULL DEFAULT 0.5;
