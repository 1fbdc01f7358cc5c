//! Alerts and the alarm queue: new → acknowledged → closed, with a note and
//! a false-alarm mark, every change kept in `alert_history` (when, by whom)
//! in the same transaction as the change itself.

use sqlx::{FromRow, QueryBuilder, Sqlite};

use crate::{Store, StoreError};

/// An alert as the queue shows it (the snapshot is fetched on its own).
#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub camera_id: i64,
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub priority: String,
    pub media_time: i64,
    pub track_id: Option<i64>,
    pub class: String,
    pub score: f64,
    pub zone: String,
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub w: Option<f64>,
    pub h: Option<f64>,
    pub explanation: String,
    /// Comma-separated colour names of the object when it fired.
    pub colours: String,
    pub state: String,
    pub false_alarm: bool,
    pub note: String,
    pub updated_at: i64,
    pub has_snapshot: bool,
}

#[derive(Clone, Debug)]
pub struct NewAlert {
    pub camera_id: i64,
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub priority: String,
    pub media_time: i64,
    pub track_id: Option<i64>,
    pub class: String,
    pub score: f64,
    pub zone: String,
    /// x, y, w, h in 0..1.
    pub bbox: Option<[f64; 4]>,
    pub explanation: String,
    pub colours: String,
    pub snapshot: Option<Vec<u8>>,
    pub created_at: i64,
}

/// What an operator changes; `None` leaves it as it is.
#[derive(Clone, Debug, Default)]
pub struct AlertChange {
    pub state: Option<String>,
    pub note: Option<String>,
    pub false_alarm: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct AlertHistoryRow {
    pub at: i64,
    pub actor: String,
    pub state: String,
    pub false_alarm: bool,
    pub note: String,
}

/// Filter for [`Store::alerts`]; all optional.
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    pub camera: Option<i64>,
    pub states: Vec<String>,
    pub priority: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

pub(crate) const ALERT_COLUMNS: &str =
    "id, camera_id, rule_id, rule_name, priority, media_time, track_id,
    class, score, zone, x, y, w, h, explanation, colours, state, false_alarm, note, updated_at,
    snapshot IS NOT NULL AS has_snapshot";

impl Store {
    /// Stores a new alert and the first line of its history (a rule deleted
    /// meanwhile leaves `rule_id` empty; its name stays).
    pub async fn insert_alert(&self, a: &NewAlert) -> Result<AlertRow, StoreError> {
        let mut tx = self.pool.begin().await?;
        let [x, y, w, h] = a.bbox.map_or([None; 4], |b| b.map(Some));
        let sql = format!(
            "INSERT INTO alerts (camera_id, rule_id, rule_name, priority, media_time, track_id, class,
             score, zone, x, y, w, h, explanation, colours, snapshot, updated_at)
             VALUES (?, (SELECT id FROM rules WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             RETURNING {ALERT_COLUMNS}"
        );
        let row: AlertRow = sqlx::query_as(&sql)
            .bind(a.camera_id)
            .bind(a.rule_id)
            .bind(&a.rule_name)
            .bind(&a.priority)
            .bind(a.media_time)
            .bind(a.track_id)
            .bind(&a.class)
            .bind(a.score)
            .bind(&a.zone)
            .bind(x)
            .bind(y)
            .bind(w)
            .bind(h)
            .bind(&a.explanation)
            .bind(&a.colours)
            .bind(&a.snapshot)
            .bind(a.created_at)
            .fetch_one(&mut *tx)
            .await?;
        record_history(&mut tx, &row, "system", a.created_at).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Alerts matching `q`, newest first.
    pub async fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRow>, StoreError> {
        let mut sql: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE 1 = 1"));
        if let Some(camera) = q.camera {
            sql.push(" AND camera_id = ").push_bind(camera);
        }
        if !q.states.is_empty() {
            sql.push(" AND state IN (");
            let mut list = sql.separated(", ");
            for s in &q.states {
                list.push_bind(s.clone());
            }
            sql.push(")");
        }
        if let Some(p) = &q.priority {
            sql.push(" AND priority = ").push_bind(p.clone());
        }
        if let Some(before) = q.before {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(q.limit);
        Ok(sql.build_query_as().fetch_all(&self.pool).await?)
    }

    pub async fn alert(&self, id: i64) -> Result<Option<AlertRow>, StoreError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn alert_snapshot(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Option<Vec<u8>>,)> =
            sqlx::query_as("SELECT snapshot FROM alerts WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(s,)| s))
    }

    /// How many alerts are in each state: (new, acknowledged).
    pub async fn open_alert_counts(&self) -> Result<(i64, i64), StoreError> {
        Ok(sqlx::query_as(
            "SELECT COALESCE(SUM(state = 'new'), 0), COALESCE(SUM(state = 'acknowledged'), 0) FROM alerts",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Applies an operator's change and records it; `None` when there is no such alert.
    pub async fn update_alert(
        &self,
        id: i64,
        change: &AlertChange,
        actor: &str,
        at: i64,
    ) -> Result<Option<AlertRow>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE alerts SET state = COALESCE(?, state), note = COALESCE(?, note),
             false_alarm = COALESCE(?, false_alarm), updated_at = ? WHERE id = ? RETURNING {ALERT_COLUMNS}"
        );
        let row: Option<AlertRow> = sqlx::query_as(&sql)
            .bind(&change.state)
            .bind(&change.note)
            .bind(change.false_alarm)
            .bind(at)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = &row {
            record_history(&mut tx, row, actor, at).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// Every change of one alert, oldest first.
    pub async fn alert_history(&self, id: i64) -> Result<Vec<AlertHistoryRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT at, actor, state, false_alarm, note FROM alert_history WHERE alert_id = ? ORDER BY at, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A false alarm learnt: what a repeat looks like.
#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct ExclusionRow {
    pub id: i64,
    pub camera_id: i64,
    pub alert_id: Option<i64>,
    pub rule_id: Option<i64>,
    pub class: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub colours: String,
    pub created_at: i64,
    pub suppressed: i64,
    pub last_suppressed_at: Option<i64>,
}

impl Store {
    /// Learns from an alert marked as a false alarm (once per alert); `None`
    /// when the alert has no box to learn from.
    pub async fn learn_false_alarm(
        &self,
        alert: &AlertRow,
        at: i64,
    ) -> Result<Option<ExclusionRow>, StoreError> {
        let (Some(x), Some(y), Some(w), Some(h)) = (alert.x, alert.y, alert.w, alert.h) else {
            return Ok(None);
        };
        if let Some(existing) = self
            .exclusions(Some(alert.camera_id))
            .await?
            .into_iter()
            .find(|e| e.alert_id == Some(alert.id))
        {
            return Ok(Some(existing));
        }
        Ok(Some(
            sqlx::query_as(
                "INSERT INTO exclusions (camera_id, alert_id, rule_id, class, x, y, w, h, colours, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            )
            .bind(alert.camera_id)
            .bind(alert.id)
            .bind(alert.rule_id)
            .bind(&alert.class)
            .bind(x)
            .bind(y)
            .bind(w)
            .bind(h)
            .bind(&alert.colours)
            .bind(at)
            .fetch_one(&self.pool)
            .await?,
        ))
    }

    /// Exclusions of one camera, or of all.
    pub async fn exclusions(&self, camera: Option<i64>) -> Result<Vec<ExclusionRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM exclusions WHERE ?1 IS NULL OR camera_id = ?1 ORDER BY id",
        )
        .bind(camera)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn exclusion(&self, id: i64) -> Result<Option<ExclusionRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM exclusions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn delete_exclusion(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM exclusions WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets what was learnt from one alert (its false-alarm mark was taken back).
    pub async fn unlearn_alert(&self, alert_id: i64) -> Result<Vec<i64>, StoreError> {
        let gone: Vec<(i64, i64)> =
            sqlx::query_as("DELETE FROM exclusions WHERE alert_id = ? RETURNING id, camera_id")
                .bind(alert_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(gone.into_iter().map(|(_, camera)| camera).collect())
    }

    /// Counts a firing an exclusion kept quiet.
    pub async fn count_suppressed(&self, id: i64, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE exclusions SET suppressed = suppressed + 1, last_suppressed_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

async fn record_history(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    row: &AlertRow,
    actor: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alert_history (alert_id, at, actor, state, false_alarm, note) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(row.id)
    .bind(at)
    .bind(actor)
    .bind(&row.state)
    .bind(row.false_alarm)
    .bind(&row.note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
