//! The recording index (one row per segment file), bookmarks, evidence
//! locks, and the queries retention prunes with. Retention deletes in
//! bounded chunks so pruning never holds the writer for long.

use sqlx::FromRow;

use crate::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, FromRow, serde::Serialize)]
pub struct RecordingRow {
    pub id: i64,
    pub camera_id: i64,
    pub path: String,
    pub start_us: i64,
    pub end_us: i64,
    pub bytes: i64,
    pub codec: String,
    pub width: i64,
    pub height: i64,
    pub open: bool,
}

#[derive(Clone, Debug)]
pub struct NewRecording {
    pub camera_id: i64,
    pub path: String,
    pub start_us: i64,
    pub codec: String,
    pub width: i64,
    pub height: i64,
}

#[derive(Clone, Debug, PartialEq, FromRow, serde::Serialize)]
pub struct BookmarkRow {
    pub id: i64,
    pub camera_id: i64,
    pub media_time: i64,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, FromRow, serde::Serialize)]
pub struct LockRow {
    pub id: i64,
    pub camera_id: i64,
    pub start_us: i64,
    pub end_us: i64,
    pub reason: String,
    pub until_us: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

/// Closed, not a camera's newest, not under a lock in force at `now`.
const PRUNABLE: &str = "r.open = 0
    AND r.start_us < (SELECT max(n.start_us) FROM recordings n WHERE n.camera_id = r.camera_id)
    AND NOT EXISTS (SELECT 1 FROM evidence_locks l
        WHERE l.camera_id = r.camera_id AND l.start_us < r.end_us AND l.end_us > r.start_us
          AND (l.until_us IS NULL OR l.until_us > ?))";

impl Store {
    pub async fn open_recording(&self, r: &NewRecording) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO recordings (camera_id, path, start_us, end_us, bytes, codec, width, height, open)
             VALUES (?, ?, ?, ?, 0, ?, ?, ?, 1)
             ON CONFLICT (path) DO NOTHING",
        )
        .bind(r.camera_id)
        .bind(&r.path)
        .bind(r.start_us)
        .bind(r.start_us)
        .bind(&r.codec)
        .bind(r.width)
        .bind(r.height)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A segment reached `end_us`; `open = false` closes it.
    pub async fn grow_recording(
        &self,
        path: &str,
        end_us: i64,
        bytes: i64,
        open: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE recordings SET end_us = max(end_us, ?), bytes = ?, open = ? WHERE path = ?",
        )
        .bind(end_us)
        .bind(bytes)
        .bind(open)
        .bind(path)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets a segment's extent exactly (crash recovery after trimming).
    pub async fn close_recording(
        &self,
        id: i64,
        end_us: i64,
        bytes: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE recordings SET end_us = ?, bytes = ?, open = 0 WHERE id = ?")
            .bind(end_us)
            .bind(bytes)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_recording_path(&self, path: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM recordings WHERE path = ?")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes rows in one short transaction (their files are already gone).
    pub async fn delete_recordings(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for id in ids {
            sqlx::query("DELETE FROM recordings WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rows a crash may have left open.
    pub async fn open_recordings(&self) -> Result<Vec<RecordingRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM recordings WHERE open = 1 ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn recording(&self, id: i64) -> Result<Option<RecordingRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM recordings WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A camera's segments overlapping `[from, to)`, oldest first.
    pub async fn recordings(
        &self,
        camera_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<RecordingRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM recordings WHERE camera_id = ? AND start_us < ? AND end_us > ?
             ORDER BY start_us",
        )
        .bind(camera_id)
        .bind(to)
        .bind(from)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Bytes recorded per camera: (camera id, bytes).
    pub async fn recording_usage(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT camera_id, CAST(total(bytes) AS INTEGER) FROM recordings GROUP BY camera_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The oldest prunable segments (all cameras, or one), ending before
    /// `before`: at most `limit`.
    pub async fn prunable_recordings(
        &self,
        camera_id: Option<i64>,
        before: i64,
        now: i64,
        limit: i64,
    ) -> Result<Vec<RecordingRow>, StoreError> {
        let sql = format!(
            "SELECT r.* FROM recordings r WHERE {PRUNABLE}
             AND (? IS NULL OR r.camera_id = ?) AND r.end_us <= ?
             ORDER BY r.start_us LIMIT ?"
        );
        Ok(sqlx::query_as(&sql)
            .bind(now)
            .bind(camera_id)
            .bind(camera_id)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn insert_bookmark(
        &self,
        camera_id: i64,
        media_time: i64,
        note: &str,
        created_by: &str,
        now: i64,
    ) -> Result<BookmarkRow, StoreError> {
        Ok(sqlx::query_as(
            "INSERT INTO bookmarks (camera_id, media_time, note, created_by, created_at)
             VALUES (?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(camera_id)
        .bind(media_time)
        .bind(note)
        .bind(created_by)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn bookmarks(
        &self,
        camera_id: Option<i64>,
        from: i64,
        to: i64,
    ) -> Result<Vec<BookmarkRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM bookmarks WHERE (? IS NULL OR camera_id = ?)
             AND media_time >= ? AND media_time < ? ORDER BY media_time",
        )
        .bind(camera_id)
        .bind(camera_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_bookmark(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM bookmarks WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_lock(
        &self,
        camera_id: i64,
        start_us: i64,
        end_us: i64,
        reason: &str,
        until_us: Option<i64>,
        created_by: &str,
        now: i64,
    ) -> Result<LockRow, StoreError> {
        Ok(sqlx::query_as(
            "INSERT INTO evidence_locks (camera_id, start_us, end_us, reason, until_us, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(camera_id)
        .bind(start_us)
        .bind(end_us)
        .bind(reason)
        .bind(until_us)
        .bind(created_by)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Locks on a camera (or all) overlapping `[from, to)`.
    pub async fn locks(
        &self,
        camera_id: Option<i64>,
        from: i64,
        to: i64,
    ) -> Result<Vec<LockRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM evidence_locks WHERE (? IS NULL OR camera_id = ?)
             AND start_us < ? AND end_us > ? ORDER BY start_us",
        )
        .bind(camera_id)
        .bind(camera_id)
        .bind(to)
        .bind(from)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_lock(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM evidence_locks WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A camera's alerts with `from <= media_time < to`, oldest first.
    pub async fn alerts_between(
        &self,
        camera_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<crate::AlertRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM alerts WHERE camera_id = ? AND media_time >= ? AND media_time < ?
             ORDER BY media_time LIMIT 10000",
            crate::alerts::ALERT_COLUMNS
        );
        Ok(sqlx::query_as(&sql)
            .bind(camera_id)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Detections per bucket of `bucket_us` on a camera over `[from, to)`:
    /// (bucket start, count). Motion density on the timeline.
    pub async fn detection_density(
        &self,
        camera_id: i64,
        from: i64,
        to: i64,
        bucket_us: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT ? + ((media_time - ?) / ?) * ? AS bucket, count(*) FROM detections
             WHERE camera_id = ? AND media_time >= ? AND media_time < ?
             GROUP BY bucket ORDER BY bucket",
        )
        .bind(from)
        .bind(from)
        .bind(bucket_us.max(1))
        .bind(bucket_us.max(1))
        .bind(camera_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CameraFields;

    async fn store_with_camera() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let fields = CameraFields {
            name: "Gate".into(),
            url: "rtsp://127.0.0.1/x".into(),
            sub_url: None,
            username: None,
            password_enc: None,
            detect_fps: 5.0,
            enabled: true,
            classes: None,
            min_score: 0.5,
            record_mode: "continuous".into(),
            pre_roll_s: 5.0,
            post_roll_s: 10.0,
            retain_days: None,
            max_bytes: None,
        };
        let cam = store.insert_camera(&fields, 0).await.unwrap().id;
        (dir, store, cam)
    }

    async fn segment(store: &Store, camera_id: i64, start_s: i64) {
        let path = format!("{camera_id}/{start_s}.mp4");
        let r = NewRecording {
            camera_id,
            path: path.clone(),
            start_us: start_s * 1_000_000,
            codec: "avc1".into(),
            width: 768,
            height: 576,
        };
        store.open_recording(&r).await.unwrap();
        store
            .grow_recording(&path, (start_s + 60) * 1_000_000, 1000, false)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn pruning_takes_the_oldest_first_and_spares_locks_and_the_newest() {
        let (_dir, store, cam) = store_with_camera().await;
        for start in [0, 60, 120, 180] {
            segment(&store, cam, start).await;
        }
        // Locked: the segment at 60 s (lock in force), and the one at 0 s
        // under a lock that has expired.
        store
            .insert_lock(cam, 70_000_000, 80_000_000, "incident", None, "test", 0)
            .await
            .unwrap();
        store
            .insert_lock(cam, 0, 10_000_000, "old", Some(5), "test", 0)
            .await
            .unwrap();
        let prunable = store
            .prunable_recordings(None, i64::MAX, 10, 10)
            .await
            .unwrap();
        let starts: Vec<i64> = prunable.iter().map(|r| r.start_us / 1_000_000).collect();
        assert_eq!(starts, [0, 120], "oldest first; locked and newest kept");
        let before_120 = store
            .prunable_recordings(Some(cam), 120_000_000, 10, 10)
            .await
            .unwrap();
        assert_eq!(before_120.len(), 1);
        store.delete_recordings(&[before_120[0].id]).await.unwrap();
        let usage = store.recording_usage().await.unwrap();
        assert_eq!(usage, [(cam, 3000)]);
    }
}
