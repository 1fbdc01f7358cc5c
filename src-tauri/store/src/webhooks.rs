//! Webhooks and their delivery log, and installation-wide settings.

use sqlx::FromRow;

use crate::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub alert_id: Option<i64>,
    pub attempt: i64,
    pub at: i64,
    pub ok: bool,
    pub status: Option<i64>,
    pub error: String,
}

/// One attempt to deliver an alert.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub webhook_id: i64,
    pub alert_id: Option<i64>,
    pub attempt: i64,
    pub at: i64,
    pub ok: bool,
    pub status: Option<i64>,
    pub error: String,
}

impl Store {
    pub async fn webhooks(&self) -> Result<Vec<WebhookRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM webhooks ORDER BY id")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn webhook(&self, id: i64) -> Result<Option<WebhookRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM webhooks WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn insert_webhook(
        &self,
        name: &str,
        url: &str,
        enabled: bool,
        at: i64,
    ) -> Result<WebhookRow, StoreError> {
        Ok(sqlx::query_as(
            "INSERT INTO webhooks (name, url, enabled, created_at) VALUES (?, ?, ?, ?) RETURNING *",
        )
        .bind(name)
        .bind(url)
        .bind(enabled)
        .bind(at)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn update_webhook(
        &self,
        id: i64,
        name: &str,
        url: &str,
        enabled: bool,
    ) -> Result<Option<WebhookRow>, StoreError> {
        Ok(sqlx::query_as(
            "UPDATE webhooks SET name = ?, url = ?, enabled = ? WHERE id = ? RETURNING *",
        )
        .bind(name)
        .bind(url)
        .bind(enabled)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn delete_webhook(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn insert_delivery(&self, d: &NewDelivery) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, alert_id, attempt, at, ok, status, error)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(d.webhook_id)
        .bind(d.alert_id)
        .bind(d.attempt)
        .bind(d.at)
        .bind(d.ok)
        .bind(d.status)
        .bind(&d.error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A webhook's latest attempts, newest first.
    pub async fn deliveries(
        &self,
        webhook: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(webhook)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

impl Store {
    /// A setting's JSON value, if set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(v,)| v))
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
