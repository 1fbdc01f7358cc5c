//! Tracks: one row per object followed over frames, written when it ends.

use sqlx::FromRow;

use crate::{Store, StoreError};

/// A track as stored, without its thumbnail.
#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct TrackRow {
    pub id: i64,
    pub camera_id: i64,
    pub class: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub best_score: f64,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub direction: String,
    pub speed: f64,
    /// JSON {zone name: seconds}.
    pub dwell: String,
    /// Comma-separated palette names.
    pub colours: String,
    pub upper_colours: String,
    pub lower_colours: String,
}

#[derive(Clone, Debug)]
pub struct NewTrack {
    pub row: TrackRow,
    pub thumbnail: Option<Vec<u8>>,
}

const TRACK_COLUMNS: &str = "id, camera_id, class, first_seen, last_seen, best_score, x, y, w, h,
    direction, speed, dwell, colours, upper_colours, lower_colours";

impl Store {
    /// Stores an ended track (a track stored twice keeps its latest summary).
    pub async fn insert_track(&self, t: &NewTrack) -> Result<(), StoreError> {
        let r = &t.row;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT OR REPLACE INTO tracks (id, camera_id, class, first_seen, last_seen, best_score,
             x, y, w, h, direction, speed, dwell, colours, upper_colours, lower_colours, thumbnail)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id)
        .bind(r.camera_id)
        .bind(&r.class)
        .bind(r.first_seen)
        .bind(r.last_seen)
        .bind(r.best_score)
        .bind(r.x)
        .bind(r.y)
        .bind(r.w)
        .bind(r.h)
        .bind(&r.direction)
        .bind(r.speed)
        .bind(&r.dwell)
        .bind(&r.colours)
        .bind(&r.upper_colours)
        .bind(&r.lower_colours)
        .bind(&t.thumbnail)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT OR REPLACE INTO track_zones (track_id, zone, seconds)
             SELECT ?, d.key, d.value FROM json_each(?) d",
        )
        .bind(r.id)
        .bind(&r.dwell)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Tracks of a camera (or all), newest first.
    pub async fn tracks(
        &self,
        camera: Option<i64>,
        limit: i64,
    ) -> Result<Vec<TrackRow>, StoreError> {
        let sql = format!(
            "SELECT {TRACK_COLUMNS} FROM tracks WHERE ?1 IS NULL OR camera_id = ?1
             ORDER BY first_seen DESC LIMIT ?2"
        );
        Ok(sqlx::query_as(&sql)
            .bind(camera)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn track_thumbnail(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Option<Vec<u8>>,)> =
            sqlx::query_as("SELECT thumbnail FROM tracks WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(t,)| t))
    }

    /// The highest track id used so far (in tracks, detections or alerts), so
    /// ids stay unique across restarts.
    pub async fn max_track_id(&self) -> Result<i64, StoreError> {
        let (max,): (Option<i64>,) = sqlx::query_as(
            "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM tracks
             UNION ALL SELECT MAX(track_id) FROM detections
             UNION ALL SELECT MAX(track_id) FROM alerts)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(max.unwrap_or(0))
    }
}
