//! How a window on this machine finds and joins the recording service. The
//! service writes where it listens beside its API token, both readable by
//! the `peregrine` group (the installing user joins it); a window that can
//! read them, and finds the service answering, attaches instead of running
//! a server of its own. No password is typed: reading the file is the proof.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tracing::{debug, info};

use crate::auth::TOKEN_FILE;

/// Written by the service into its data folder at every start.
pub const SERVICE_FILE: &str = "service.json";
/// A service that does not answer within this is treated as absent.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceFile {
    /// The API's address, e.g. `http://127.0.0.1:8640`.
    pub url: String,
    pub pid: u32,
    pub version: String,
}

/// A running service a window can show.
#[derive(Clone, Debug)]
pub struct Service {
    pub url: String,
    pub token: String,
}

impl Service {
    /// The URL that logs the window in.
    pub fn login_url(&self) -> String {
        format!("{}/?t={}", self.url, self.token)
    }
}

/// Says where the service listens (readable by the service's group, like
/// the token).
pub fn announce(data_dir: &Path, addr: SocketAddr) -> anyhow::Result<()> {
    let file = ServiceFile {
        url: format!("http://{addr}"),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let path = data_dir.join(SERVICE_FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(&file)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The service whose data folder is `data_dir`, if this user may read its
/// token and it answers now.
pub async fn find(data_dir: &Path) -> Option<Service> {
    let read = || -> anyhow::Result<Service> {
        let file: ServiceFile =
            serde_json::from_slice(&std::fs::read(data_dir.join(SERVICE_FILE))?)?;
        let token = std::fs::read_to_string(data_dir.join(TOKEN_FILE))?;
        Ok(Service {
            url: file.url,
            token: token.trim().to_owned(),
        })
    };
    let service = match read() {
        Ok(service) => service,
        Err(e) => {
            debug!(dir = %data_dir.display(), error = %e, "no recording service to attach to");
            return None;
        }
    };
    if answers(&service).await {
        info!(url = %service.url, "attaching to the recording service");
        Some(service)
    } else {
        info!(url = %service.url, "the recording service does not answer: running standalone");
        None
    }
}

async fn answers(service: &Service) -> bool {
    let Ok(client) = reqwest::Client::builder().timeout(ANSWER_TIMEOUT).build() else {
        return false;
    };
    client
        .get(format!("{}/api/v1/health", service.url))
        .bearer_auth(&service.token)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}
