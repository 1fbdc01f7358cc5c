//! Peregrine's database: schema (numbered migrations), and every query.
//! Only this crate knows SQL, so SQLite stays the embedded default and
//! another backend can come in behind the same functions.
//!
//! Times are UTC microseconds (`media_time`), boxes normalised to 0..1.
//! The pool is safe to share across tasks; writes of detections arrive in
//! batches from one writer task, each batch in one short transaction.

mod alerts;
mod recordings;
mod rules;
pub mod search;
mod tracks;
mod webhooks;

pub use alerts::{AlertChange, AlertHistoryRow, AlertQuery, AlertRow, ExclusionRow, NewAlert};
pub use recordings::{BookmarkRow, LockRow, NewRecording, RecordingRow};
pub use rules::{NewRule, NewZone, RuleRow, ZoneRow};
pub use tracks::{NewTrack, TrackRow};
pub use webhooks::{DeliveryRow, NewDelivery, WebhookRow};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::query::QueryAs;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{FromRow, QueryBuilder, Sqlite, SqlitePool};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot update the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

#[derive(Clone, Debug, FromRow)]
pub struct CameraRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub sub_url: Option<String>,
    pub username: Option<String>,
    pub password_enc: Option<Vec<u8>>,
    pub detect_fps: f64,
    pub enabled: bool,
    pub created_at: i64,
    /// Comma-separated class names to keep; `None` keeps all.
    pub classes: Option<String>,
    pub min_score: f64,
    /// `off`, `continuous` or `events`.
    pub record_mode: String,
    pub pre_roll_s: f64,
    pub post_roll_s: f64,
    /// Days of video to keep; `None`: the installation's setting.
    pub retain_days: Option<f64>,
    /// This camera's share of the disk; `None`: no cap of its own.
    pub max_bytes: Option<i64>,
}

/// A camera to insert or the full new state of one to update.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraFields {
    pub name: String,
    pub url: String,
    pub sub_url: Option<String>,
    pub username: Option<String>,
    pub password_enc: Option<Vec<u8>>,
    pub detect_fps: f64,
    pub enabled: bool,
    pub classes: Option<String>,
    pub min_score: f64,
    /// `off`, `continuous` or `events`.
    pub record_mode: String,
    pub pre_roll_s: f64,
    pub post_roll_s: f64,
    /// Days of video to keep; `None`: the installation's setting.
    pub retain_days: Option<f64>,
    /// This camera's share of the disk; `None`: no cap of its own.
    pub max_bytes: Option<i64>,
}

impl CameraRow {
    /// The row's editable fields.
    pub fn fields(&self) -> CameraFields {
        CameraFields {
            name: self.name.clone(),
            url: self.url.clone(),
            sub_url: self.sub_url.clone(),
            username: self.username.clone(),
            password_enc: self.password_enc.clone(),
            detect_fps: self.detect_fps,
            enabled: self.enabled,
            classes: self.classes.clone(),
            min_score: self.min_score,
            record_mode: self.record_mode.clone(),
            pre_roll_s: self.pre_roll_s,
            post_roll_s: self.post_roll_s,
            retain_days: self.retain_days,
            max_bytes: self.max_bytes,
        }
    }
}

#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct DetectionRow {
    pub id: i64,
    pub camera_id: i64,
    pub media_time: i64,
    pub class: String,
    pub score: f64,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub track_id: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewDetection {
    pub camera_id: i64,
    pub media_time: i64,
    pub class: String,
    pub score: f64,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub track_id: Option<i64>,
}

/// Filter for [`Store::detections`]; all bounds optional, times in UTC µs.
#[derive(Clone, Debug, Default)]
pub struct DetectionQuery {
    pub camera: Option<i64>,
    pub class: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: i64,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(open_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn cameras(&self) -> Result<Vec<CameraRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM cameras ORDER BY id")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn camera(&self, id: i64) -> Result<Option<CameraRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM cameras WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn insert_camera(
        &self,
        c: &CameraFields,
        created_at: i64,
    ) -> Result<CameraRow, StoreError> {
        let sql = "INSERT INTO cameras (name, url, sub_url, username, password_enc, detect_fps, enabled,
                   classes, min_score, record_mode, pre_roll_s, post_roll_s, retain_days, max_bytes, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *";
        Ok(bind_camera(sqlx::query_as(sql), c)
            .bind(created_at)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Replaces a camera's fields; `None` when there is no such camera.
    pub async fn update_camera(
        &self,
        id: i64,
        c: &CameraFields,
    ) -> Result<Option<CameraRow>, StoreError> {
        let sql =
            "UPDATE cameras SET name = ?, url = ?, sub_url = ?, username = ?, password_enc = ?,
                   detect_fps = ?, enabled = ?, classes = ?, min_score = ?, record_mode = ?,
                   pre_roll_s = ?, post_roll_s = ?, retain_days = ?, max_bytes = ?
                   WHERE id = ? RETURNING *";
        Ok(bind_camera(sqlx::query_as(sql), c)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Deletes a camera and its detections; `false` when there was none.
    pub async fn delete_camera(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM cameras WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Inserts a batch in one transaction.
    pub async fn insert_detections(&self, batch: &[NewDetection]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for d in batch {
            sqlx::query(
                "INSERT INTO detections (camera_id, media_time, class, score, x, y, w, h, track_id)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(d.camera_id)
            .bind(d.media_time)
            .bind(&d.class)
            .bind(d.score)
            .bind(d.x)
            .bind(d.y)
            .bind(d.w)
            .bind(d.h)
            .bind(d.track_id)
            .execute(&mut *tx)
            .await?;
        }
        for ((camera_id, media_time, class), n) in frame_counts(batch) {
            sqlx::query(
                "INSERT INTO frame_counts (camera_id, media_time, class, n) VALUES (?, ?, ?, ?)
                 ON CONFLICT (camera_id, media_time, class) DO UPDATE SET n = n + excluded.n",
            )
            .bind(camera_id)
            .bind(media_time)
            .bind(class)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Detections matching `q`, newest first.
    pub async fn detections(&self, q: &DetectionQuery) -> Result<Vec<DetectionRow>, StoreError> {
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT * FROM detections WHERE 1 = 1");
        if let Some(camera) = q.camera {
            sql.push(" AND camera_id = ").push_bind(camera);
        }
        if let Some(class) = &q.class {
            sql.push(" AND class = ").push_bind(class.clone());
        }
        if let Some(from) = q.from {
            sql.push(" AND media_time >= ").push_bind(from);
        }
        if let Some(to) = q.to {
            sql.push(" AND media_time < ").push_bind(to);
        }
        sql.push(" ORDER BY media_time DESC, id DESC LIMIT ")
            .push_bind(q.limit);
        Ok(sql.build_query_as().fetch_all(&self.pool).await?)
    }
}

/// Binds a camera's fields in column order: name, url, sub_url, username,
/// password_enc, detect_fps, enabled, classes, min_score.
/// Objects per (camera, frame, class), where two or more stood together.
fn frame_counts(batch: &[NewDetection]) -> Vec<((i64, i64, &str), i64)> {
    let mut counts: std::collections::HashMap<(i64, i64, &str), i64> = Default::default();
    for d in batch {
        *counts
            .entry((d.camera_id, d.media_time, d.class.as_str()))
            .or_default() += 1;
    }
    counts.into_iter().filter(|(_, n)| *n >= 2).collect()
}

fn bind_camera<'q>(
    query: QueryAs<'q, Sqlite, CameraRow, SqliteArguments<'q>>,
    c: &'q CameraFields,
) -> QueryAs<'q, Sqlite, CameraRow, SqliteArguments<'q>> {
    query
        .bind(&c.name)
        .bind(&c.url)
        .bind(&c.sub_url)
        .bind(&c.username)
        .bind(&c.password_enc)
        .bind(c.detect_fps)
        .bind(c.enabled)
        .bind(&c.classes)
        .bind(c.min_score)
        .bind(&c.record_mode)
        .bind(c.pre_roll_s)
        .bind(c.post_roll_s)
        .bind(c.retain_days)
        .bind(c.max_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(name: &str) -> CameraFields {
        CameraFields {
            name: name.to_owned(),
            url: "rtsp://127.0.0.1:8554/cam1".to_owned(),
            sub_url: None,
            username: Some("admin".to_owned()),
            password_enc: Some(vec![1, 2, 3]),
            detect_fps: 5.0,
            enabled: true,
            classes: None,
            min_score: 0.5,
            record_mode: "continuous".to_owned(),
            pre_roll_s: 5.0,
            post_roll_s: 10.0,
            retain_days: None,
            max_bytes: None,
        }
    }

    fn detection(camera_id: i64, media_time: i64, class: &str) -> NewDetection {
        NewDetection {
            camera_id,
            media_time,
            class: class.to_owned(),
            score: 0.8,
            x: 0.1,
            y: 0.2,
            w: 0.3,
            h: 0.4,
            track_id: None,
        }
    }

    #[tokio::test]
    async fn cameras_and_detections_round_trip_through_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peregrine.db");
        let store = Store::open(&path).await.unwrap();
        let cam = store.insert_camera(&camera("Gate"), 1).await.unwrap();
        let other = store.insert_camera(&camera("Door"), 2).await.unwrap();
        store
            .insert_detections(&[
                detection(cam.id, 100, "person"),
                detection(cam.id, 200, "car"),
                detection(other.id, 300, "person"),
            ])
            .await
            .unwrap();
        store.close().await;

        // Reopen: everything was committed to the file.
        let store = Store::open(&path).await.unwrap();
        let people = store
            .detections(&DetectionQuery {
                class: Some("person".to_owned()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            people.iter().map(|d| d.media_time).collect::<Vec<_>>(),
            vec![300, 100]
        );
        let windowed = store
            .detections(&DetectionQuery {
                camera: Some(cam.id),
                from: Some(150),
                to: Some(250),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(windowed.len(), 1);
        assert_eq!(windowed[0].class, "car");

        let mut renamed = camera("Gate 2");
        renamed.detect_fps = 2.0;
        let updated = store
            .update_camera(cam.id, &renamed)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((updated.name.as_str(), updated.detect_fps), ("Gate 2", 2.0));
        assert!(store.update_camera(999, &renamed).await.unwrap().is_none());

        assert!(store.delete_camera(cam.id).await.unwrap());
        assert!(!store.delete_camera(cam.id).await.unwrap());
        let left = store
            .detections(&DetectionQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "a deleted camera's detections go with it");
    }
}
