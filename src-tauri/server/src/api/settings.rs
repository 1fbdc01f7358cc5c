//! `/api/v1/settings/mqtt`: the broker alerts and camera states go to.
//! The password goes in, is encrypted at once, and never comes back out.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::cameras::present;
use super::error::{ApiError, ApiJson};
use super::AppState;
use crate::mqtt::{self, MqttSettings, MqttStatus};

const DEFAULT_PORT: u16 = 1883;
const DEFAULT_PREFIX: &str = "peregrine";

#[derive(Serialize)]
pub struct MqttView {
    enabled: bool,
    host: String,
    port: u16,
    username: Option<String>,
    has_password: bool,
    topic_prefix: String,
    home_assistant: bool,
    #[serde(flatten)]
    status: MqttStatus,
}

/// Absent fields stay as they are; `"password": null` clears it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttInput {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default, deserialize_with = "present")]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    password: Option<Option<String>>,
    #[serde(default)]
    topic_prefix: Option<String>,
    #[serde(default)]
    home_assistant: Option<bool>,
}

impl AppState {
    fn mqtt_view(&self) -> MqttView {
        let s = self.mqtt.settings.borrow().clone();
        MqttView {
            enabled: s.enabled,
            host: s.host,
            port: s.port,
            username: s.username,
            has_password: s.password_enc.is_some(),
            topic_prefix: s.topic_prefix,
            home_assistant: s.home_assistant,
            status: self
                .mqtt
                .status
                .lock()
                .map(|st| st.clone())
                .unwrap_or_default(),
        }
    }
}

/// The stored settings, or the defaults.
pub async fn load_mqtt(store: &peregrine_store::Store) -> MqttSettings {
    let stored = store.setting(mqtt::SETTING_KEY).await.ok().flatten();
    stored
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or(MqttSettings {
            port: DEFAULT_PORT,
            topic_prefix: DEFAULT_PREFIX.to_owned(),
            ..MqttSettings::default()
        })
}

pub async fn get_mqtt(State(s): State<AppState>) -> Json<MqttView> {
    Json(s.mqtt_view())
}

pub async fn put_mqtt(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<MqttInput>,
) -> Result<Json<MqttView>, ApiError> {
    let mut settings = s.mqtt.settings.borrow().clone();
    if let Some(host) = body.host {
        let host = host.trim().to_owned();
        if host.len() > 253
            || host
                .chars()
                .any(|c| c.is_whitespace() || c == '/' || c == '@' || c.is_control())
        {
            return Err(ApiError::invalid(
                "host",
                "must be a host name or IP address, like 192.168.1.10",
            ));
        }
        settings.host = host;
    }
    if let Some(port) = body.port {
        if port == 0 {
            return Err(ApiError::invalid("port", "must be between 1 and 65535"));
        }
        settings.port = port;
    }
    if let Some(username) = body.username {
        settings.username = username.filter(|u| !u.is_empty());
    }
    if let Some(password) = body.password {
        settings.password_enc = match password.filter(|p| !p.is_empty()) {
            Some(p) => Some(mqtt::encode_hex(
                &s.secrets.encrypt(&p).map_err(ApiError::internal)?,
            )),
            None => None,
        };
    }
    if let Some(prefix) = body.topic_prefix {
        let prefix = prefix.trim().trim_end_matches('/').to_owned();
        if prefix.is_empty()
            || prefix.len() > 100
            || prefix.contains(['#', '+'])
            || prefix.chars().any(char::is_control)
        {
            return Err(ApiError::invalid(
                "topic_prefix",
                "must be 1 to 100 characters without # or +",
            ));
        }
        settings.topic_prefix = prefix;
    }
    if let Some(ha) = body.home_assistant {
        settings.home_assistant = ha;
    }
    if let Some(enabled) = body.enabled {
        settings.enabled = enabled;
    }
    if settings.enabled && settings.host.is_empty() {
        return Err(ApiError::invalid("host", "is needed to turn MQTT on"));
    }
    let json = serde_json::to_string(&settings).map_err(ApiError::internal)?;
    s.store.set_setting(mqtt::SETTING_KEY, &json).await?;
    s.mqtt.settings.send_replace(settings);
    Ok(Json(s.mqtt_view()))
}
