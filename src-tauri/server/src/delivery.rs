//! Delivery beyond the screen: every new alert is POSTed as JSON
//! (`{"type":"alert","alert":{…}}`, the events socket's shape) to each
//! enabled webhook, retried with backoff when the receiver is down or
//! answers with an error, every attempt written to the delivery log.

use std::time::Duration;

use peregrine_store::{DeliveryRow, NewDelivery, WebhookRow};
use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use crate::api::alerts::{AlertNotice, AlertView};
use crate::AppState;

/// Waits before attempts 2, 3, 4 and 5.
const BACKOFF: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(4),
    Duration::from_secs(15),
    Duration::from_secs(60),
];
const TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(state: AppState) {
    let mut alerts = state.alerts.subscribe();
    loop {
        match alerts.recv().await {
            Ok(AlertNotice::Raised(alert)) => {
                let Ok(hooks) = state.store.webhooks().await else {
                    continue;
                };
                let body = serde_json::json!({"type": "alert", "alert": AlertView::from(&alert)});
                for hook in hooks.into_iter().filter(|h| h.enabled) {
                    tokio::spawn(deliver(state.clone(), hook, alert.id, body.clone()));
                }
            }
            Ok(AlertNotice::Changed(_)) => {}
            Err(RecvError::Lagged(missed)) => {
                warn!(missed, "webhooks missed alerts: the server was overloaded")
            }
            Err(RecvError::Closed) => break,
        }
    }
}

async fn deliver(state: AppState, hook: WebhookRow, alert: i64, body: serde_json::Value) {
    for n in 1..=BACKOFF.len() + 1 {
        if n > 1 {
            tokio::time::sleep(BACKOFF[n - 2]).await;
        }
        if attempt(&state, &hook, Some(alert), n as i64, &body)
            .await
            .ok
        {
            return;
        }
    }
    warn!(
        webhook = hook.id,
        alert,
        "webhook delivery gave up after {} attempts",
        BACKOFF.len() + 1
    );
}

/// One POST, logged; the log row says how it went.
pub async fn attempt(
    state: &AppState,
    hook: &WebhookRow,
    alert: Option<i64>,
    attempt: i64,
    body: &serde_json::Value,
) -> DeliveryRow {
    let sent = client().post(&hook.url).json(body).send().await;
    let (ok, status, error) = match sent {
        Ok(r) if r.status().is_success() => {
            (true, Some(i64::from(r.status().as_u16())), String::new())
        }
        Ok(r) => (
            false,
            Some(i64::from(r.status().as_u16())),
            format!("the receiver answered {}", r.status()),
        ),
        Err(e) if e.is_timeout() => (
            false,
            None,
            format!("no answer within {} s", TIMEOUT.as_secs()),
        ),
        Err(e) if e.is_connect() => (
            false,
            None,
            "cannot connect: is the receiver running?".to_owned(),
        ),
        Err(_) => (false, None, "the request failed".to_owned()),
    };
    if ok {
        info!(webhook = hook.id, alert, attempt, "webhook delivered");
    } else {
        warn!(webhook = hook.id, alert, attempt, error = %error, "webhook delivery failed");
    }
    let row = NewDelivery {
        webhook_id: hook.id,
        alert_id: alert,
        attempt,
        at: chrono::Utc::now().timestamp_micros(),
        ok,
        status,
        error,
    };
    if let Err(e) = state.store.insert_delivery(&row).await {
        warn!(error = %e, "cannot log a webhook delivery");
    }
    DeliveryRow {
        id: 0,
        webhook_id: row.webhook_id,
        alert_id: row.alert_id,
        attempt: row.attempt,
        at: row.at,
        ok: row.ok,
        status: row.status,
        error: row.error,
    }
}

fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        })
        .clone()
}
