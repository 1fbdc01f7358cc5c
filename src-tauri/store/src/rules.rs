//! Zones (areas, lines, masks) and rules, per camera. Geometry and rule
//! definitions are JSON the engine reads; this module only stores them.

use sqlx::FromRow;

use crate::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct ZoneRow {
    pub id: i64,
    pub camera_id: i64,
    pub name: String,
    /// zone, line or mask.
    pub kind: String,
    /// JSON `[[x, y], …]` in 0..1 of the frame.
    pub points: String,
}

#[derive(Clone, Debug)]
pub struct NewZone {
    pub camera_id: i64,
    pub name: String,
    pub kind: String,
    pub points: String,
}

#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct RuleRow {
    pub id: i64,
    pub camera_id: i64,
    pub name: String,
    pub enabled: bool,
    /// The template it was made from, if any.
    pub template: Option<String>,
    /// JSON: classes, trigger, schedule, cooldown_s, priority.
    pub definition: String,
}

#[derive(Clone, Debug)]
pub struct NewRule {
    pub camera_id: i64,
    pub name: String,
    pub enabled: bool,
    pub template: Option<String>,
    pub definition: String,
}

impl Store {
    /// Zones of one camera, or of all when `camera` is `None`.
    pub async fn zones(&self, camera: Option<i64>) -> Result<Vec<ZoneRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM zones WHERE ?1 IS NULL OR camera_id = ?1 ORDER BY camera_id, id",
        )
        .bind(camera)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn zone(&self, id: i64) -> Result<Option<ZoneRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM zones WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn insert_zone(&self, z: &NewZone) -> Result<ZoneRow, StoreError> {
        Ok(sqlx::query_as(
            "INSERT INTO zones (camera_id, name, kind, points) VALUES (?, ?, ?, ?) RETURNING *",
        )
        .bind(z.camera_id)
        .bind(&z.name)
        .bind(&z.kind)
        .bind(&z.points)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Renames or redraws a zone (its camera stays); `None` when there is none.
    pub async fn update_zone(&self, id: i64, z: &NewZone) -> Result<Option<ZoneRow>, StoreError> {
        Ok(sqlx::query_as(
            "UPDATE zones SET name = ?, kind = ?, points = ? WHERE id = ? RETURNING *",
        )
        .bind(&z.name)
        .bind(&z.kind)
        .bind(&z.points)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn delete_zone(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM zones WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Rules of one camera, or of all when `camera` is `None`.
    pub async fn rules(&self, camera: Option<i64>) -> Result<Vec<RuleRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM rules WHERE ?1 IS NULL OR camera_id = ?1 ORDER BY camera_id, id",
        )
        .bind(camera)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn rule(&self, id: i64) -> Result<Option<RuleRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM rules WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn insert_rule(&self, r: &NewRule) -> Result<RuleRow, StoreError> {
        Ok(sqlx::query_as(
            "INSERT INTO rules (camera_id, name, enabled, template, definition)
             VALUES (?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(r.camera_id)
        .bind(&r.name)
        .bind(r.enabled)
        .bind(&r.template)
        .bind(&r.definition)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn update_rule(&self, id: i64, r: &NewRule) -> Result<Option<RuleRow>, StoreError> {
        Ok(sqlx::query_as(
            "UPDATE rules SET name = ?, enabled = ?, template = ?, definition = ? WHERE id = ? RETURNING *",
        )
        .bind(&r.name)
        .bind(r.enabled)
        .bind(&r.template)
        .bind(&r.definition)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn delete_rule(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM rules WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
