//! MQTT: alerts and camera states published to the site's broker (Home
//! Assistant, Node-RED, a PLC gateway), with optional Home Assistant
//! discovery. Settings live in the database (the password encrypted like
//! camera passwords); a change reconnects at once.
//!
//! Topics under the prefix (default `peregrine`): `status` (`online`,
//! retained; the broker publishes `offline` when the connection drops),
//! `alerts` (each new alert, the events socket's JSON), `cameras/{id}/state`
//! (retained), `alarms/new` (the count of unacknowledged alarms, retained).

use std::sync::Mutex;
use std::time::Duration;

use peregrine_engine::EngineEvent;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{broadcast::error::RecvError, watch};
use tracing::{info, warn};

use crate::api::alerts::{AlertNotice, AlertView};
use crate::AppState;

pub const SETTING_KEY: &str = "mqtt";
const RETRY: Duration = Duration::from_secs(5);

/// As stored (JSON under the `mqtt` setting).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MqttSettings {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    /// ChaCha20-Poly1305 sealed, hex.
    pub password_enc: Option<String>,
    pub topic_prefix: String,
    pub home_assistant: bool,
}

/// Whether the broker connection is up, and why not.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MqttStatus {
    pub connected: bool,
    pub message: String,
}

/// Shared by the API (which changes settings and shows the status) and the task.
pub struct Mqtt {
    pub settings: watch::Sender<MqttSettings>,
    pub status: Mutex<MqttStatus>,
}

impl Mqtt {
    pub fn new(settings: MqttSettings) -> Self {
        Self {
            settings: watch::channel(settings).0,
            status: Mutex::new(MqttStatus::default()),
        }
    }

    fn set_status(&self, connected: bool, message: impl Into<String>) {
        if let Ok(mut s) = self.status.lock() {
            *s = MqttStatus {
                connected,
                message: message.into(),
            };
        }
    }
}

pub async fn run(state: AppState) {
    let mut changes = state.mqtt.settings.subscribe();
    loop {
        let settings = changes.borrow_and_update().clone();
        if !settings.enabled || settings.host.is_empty() {
            state.mqtt.set_status(false, "MQTT is off");
            if changes.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            () = session(&state, &settings) => tokio::time::sleep(RETRY).await,
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}

/// One connection: publishes until the broker goes away.
async fn session(state: &AppState, settings: &MqttSettings) {
    let prefix = settings.topic_prefix.trim_end_matches('/').to_owned();
    let mut options = MqttOptions::new(
        format!("peregrine-{}", std::process::id()),
        settings.host.clone(),
        settings.port,
    );
    options.set_keep_alive(Duration::from_secs(15));
    options.set_last_will(LastWill::new(
        format!("{prefix}/status"),
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    if let Some(user) = &settings.username {
        let password = settings
            .password_enc
            .as_deref()
            .and_then(decode_hex)
            .and_then(|sealed| state.secrets.decrypt(&sealed).ok())
            .unwrap_or_default();
        options.set_credentials(user.clone(), password);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    let mut alerts = state.alerts.subscribe();
    let mut events = state.engine.subscribe();
    let broker = format!("{}:{}", settings.host, settings.port);
    loop {
        tokio::select! {
            polled = eventloop.poll() => match polled {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    info!(broker = %broker, "MQTT connected");
                    state.mqtt.set_status(true, format!("connected to {broker}"));
                    announce(state, &client, &prefix, settings.home_assistant).await;
                }
                Ok(_) => {}
                Err(e) => {
                    let message = describe(&e, &broker);
                    warn!(broker = %broker, error = %e, "MQTT connection failed");
                    state.mqtt.set_status(false, message);
                    return;
                }
            },
            alert = alerts.recv() => match alert {
                Ok(notice) => {
                    if let AlertNotice::Raised(row) = &notice {
                        let body = json!({"type": "alert", "alert": AlertView::from(row)}).to_string();
                        let _ = client.try_publish(format!("{prefix}/alerts"), QoS::AtLeastOnce, false, body);
                    }
                    publish_alarm_count(state, &client, &prefix).await;
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            event = events.recv() => match event {
                Ok(EngineEvent::Camera { id, status }) => {
                    let state_name = serde_json::to_value(status.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                    let _ = client.try_publish(format!("{prefix}/cameras/{id}/state"), QoS::AtLeastOnce, true, state_name);
                }
                Ok(EngineEvent::Detections(_)) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// On (re)connect: online, every camera's state, the alarm count, and the
/// Home Assistant discovery configs when asked for.
async fn announce(state: &AppState, client: &AsyncClient, prefix: &str, home_assistant: bool) {
    let _ = client.try_publish(format!("{prefix}/status"), QoS::AtLeastOnce, true, "online");
    let cameras = state.store.cameras().await.unwrap_or_default();
    for camera in &cameras {
        let view = state.view(camera.clone());
        let state_name = serde_json::to_value(view.status.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = client.try_publish(
            format!("{prefix}/cameras/{}/state", camera.id),
            QoS::AtLeastOnce,
            true,
            state_name,
        );
        if home_assistant {
            let config = json!({
                "name": format!("{} online", camera.name),
                "unique_id": format!("peregrine_camera_{}_online", camera.id),
                "device_class": "connectivity",
                "state_topic": format!("{prefix}/cameras/{}/state", camera.id),
                "value_template": "{{ 'ON' if value == 'live' else 'OFF' }}",
                "availability_topic": format!("{prefix}/status"),
            });
            let topic = format!(
                "homeassistant/binary_sensor/peregrine_camera_{}/config",
                camera.id
            );
            let _ = client.try_publish(topic, QoS::AtLeastOnce, true, config.to_string());
        }
    }
    if home_assistant {
        let config = json!({
            "name": "Peregrine new alarms",
            "unique_id": "peregrine_new_alarms",
            "state_topic": format!("{prefix}/alarms/new"),
            "availability_topic": format!("{prefix}/status"),
        });
        let _ = client.try_publish(
            "homeassistant/sensor/peregrine_new_alarms/config",
            QoS::AtLeastOnce,
            true,
            config.to_string(),
        );
    }
    publish_alarm_count(state, client, prefix).await;
}

async fn publish_alarm_count(state: &AppState, client: &AsyncClient, prefix: &str) {
    if let Ok((new, _)) = state.store.open_alert_counts().await {
        let _ = client.try_publish(
            format!("{prefix}/alarms/new"),
            QoS::AtLeastOnce,
            true,
            new.to_string(),
        );
    }
}

fn describe(e: &rumqttc::ConnectionError, broker: &str) -> String {
    match e {
        rumqttc::ConnectionError::ConnectionRefused(code) => {
            format!("the broker at {broker} refused the connection ({code:?}): check the username and password")
        }
        rumqttc::ConnectionError::Io(_) => {
            format!("cannot reach the broker at {broker}: check the address and that it is running")
        }
        _ => format!("the connection to the broker at {broker} failed; retrying"),
    }
}

pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = vec![0, 1, 0xab, 0xff];
        assert_eq!(decode_hex(&encode_hex(&bytes)), Some(bytes));
        assert_eq!(decode_hex("zz"), None);
    }
}
