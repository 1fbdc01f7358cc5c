//! `POST /api/v1/onvif/probe`: asks an ONVIF camera who it is and which
//! RTSP streams it offers, to fill in the camera form. Nothing is stored,
//! and the password is used only to sign the requests.
//!
//! `POST /api/v1/onvif/discover`: finds the ONVIF cameras on the local
//! network (WS-Discovery), with make, model and address.

use std::time::Duration;

use axum::Json;
use serde::{Deserialize, Serialize};
use tracing::debug;

use super::error::{ApiError, ApiJson};
use crate::onvif::discovery::{self, Found};
use crate::onvif::{Camera, Discovery, OnvifError};

const DEFAULT_PORT: u16 = 80;
/// How long a discovery listens for answers unless asked otherwise.
const DEFAULT_WAIT_MS: u64 = 3_000;
const MAX_WAIT_MS: u64 = 15_000;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DiscoverRequest {
    /// How long to listen for answers (default 3000, at most 15000).
    #[serde(default)]
    wait_ms: Option<u64>,
}

#[derive(Serialize)]
pub struct DiscoverReply {
    cameras: Vec<Found>,
    waited_ms: u64,
}

/// The cameras that answered a WS-Discovery probe on the local network.
pub async fn discover(
    body: Option<ApiJson<DiscoverRequest>>,
) -> Result<Json<DiscoverReply>, ApiError> {
    let request = body.map(|ApiJson(b)| b).unwrap_or_default();
    let waited_ms = request.wait_ms.unwrap_or(DEFAULT_WAIT_MS);
    if !(100..=MAX_WAIT_MS).contains(&waited_ms) {
        return Err(ApiError::invalid(
            "wait_ms",
            format!("must be between 100 and {MAX_WAIT_MS}"),
        ));
    }
    let cameras = discovery::probe(discovery::MULTICAST, Duration::from_millis(waited_ms))
        .await
        .map_err(|e| {
            ApiError::unavailable(format!(
                "Cannot search the network for cameras ({e}): check that this machine is on the cameras' network, or type a camera's address."
            ))
        })?;
    Ok(Json(DiscoverReply { cameras, waited_ms }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// Device information and each profile's stream URI, or what is wrong as a
/// sentence: 403 for refused credentials, 503 when there is no ONVIF camera.
pub async fn probe(ApiJson(body): ApiJson<ProbeRequest>) -> Result<Json<Discovery>, ApiError> {
    let host = check_host(&body.host)?;
    let port = body.port.unwrap_or(DEFAULT_PORT);
    if port == 0 {
        return Err(ApiError::invalid("port", "must be between 1 and 65535"));
    }
    let credentials = check_credentials(body.username, body.password)?;
    debug!(%host, port, "probing an ONVIF camera");
    let camera = Camera::new(&host, port, credentials).map_err(ApiError::internal)?;
    Ok(Json(camera.discover().await?))
}

impl From<OnvifError> for ApiError {
    fn from(e: OnvifError) -> Self {
        match e {
            // Not 401: that status means Peregrine's own token was refused.
            OnvifError::NotAuthorized => ApiError::forbidden(e.to_string()),
            _ => ApiError::unavailable(e.to_string()),
        }
    }
}

/// A bare host name or IP address: the port has its own field.
fn check_host(raw: &str) -> Result<url::Host, ApiError> {
    let raw = raw.trim();
    let invalid = || {
        ApiError::invalid(
            "host",
            "must be the camera's address alone, such as 192.168.1.20 or cam.local (no http://, path or port)",
        )
    };
    if raw.is_empty() || raw.len() > 253 || raw.contains(['/', '@', '?', '#']) {
        return Err(invalid());
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    // A bare IPv6 address is fine too: it just needs brackets in a URL.
    match raw.parse::<std::net::Ipv6Addr>() {
        Ok(ip) => Ok(url::Host::Ipv6(ip)),
        Err(_) => url::Host::parse(raw).map_err(|_| invalid()),
    }
}

/// Without a user name there is nothing to sign with: the password is dropped.
fn check_credentials(
    username: Option<String>,
    password: Option<String>,
) -> Result<Option<(String, String)>, ApiError> {
    let Some(username) = username.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if username.len() > 128 || username.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "username",
            "must be 1 to 128 printable characters",
        ));
    }
    let password = password.unwrap_or_default();
    if password.len() > 256 {
        return Err(ApiError::invalid(
            "password",
            "must be at most 256 characters",
        ));
    }
    Ok(Some((username, password)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bare_hosts_only() {
        for good in ["192.168.1.20", "cam.local", "::1", "[fe80::1]"] {
            assert!(check_host(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            " ",
            "http://cam",
            "cam/onvif",
            "cam one",
            "cam:8080",
            "u@cam",
        ] {
            assert!(check_host(bad).is_err(), "{bad:?}");
        }
    }
}
