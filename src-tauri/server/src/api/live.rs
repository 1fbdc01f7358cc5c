//! `WS /api/v1/cameras/{id}/live`: the camera's own H.264 as fragmented MP4,
//! no re-encoding, for Media Source Extensions.
//!
//! Messages: a text `{"type":"init","mime","width","height","base_us"}`, a
//! binary init segment, then one binary media segment per frame (the first
//! a keyframe; `tfdt` = the frame's `media_time` in µs). The first fragments
//! are the camera's current GOP, so a picture shows at once and the player
//! skips ahead to the live edge. A new init pair
//! follows a change of stream parameters or a clock re-anchor. A slow
//! client skips to the next keyframe rather than falling behind.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use peregrine_engine::fmp4;
use peregrine_engine::ingest::{AccessUnit, VideoParams};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use super::error::ApiError;
use super::{parse_id, AppState};

/// Used for a frame's duration until two frames give a real one.
const DEFAULT_FRAME_US: i64 = 100_000;

pub async fn subscribe(
    ws: WebSocketUpgrade,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    if s.store.camera(id).await?.is_none() {
        return Err(ApiError::not_found(format!("no camera with id {id}")));
    }
    let (cached, units) = s.engine.subscribe_units(id).ok_or_else(|| {
        ApiError::unavailable("this camera is disabled: enable it to watch it live")
    })?;
    Ok(ws.on_upgrade(move |socket| async move {
        tracing::info!(camera = id, "live viewer connected");
        forward(socket, cached, units).await;
        tracing::info!(camera = id, "live viewer left");
    }))
}

/// Per-connection muxing state.
struct Session {
    params: Option<Arc<VideoParams>>,
    sequence: u32,
    last_time: Option<i64>,
    waiting_for_keyframe: bool,
}

async fn forward(
    mut socket: WebSocket,
    cached: Vec<Arc<AccessUnit>>,
    mut units: Receiver<Arc<AccessUnit>>,
) {
    let mut session = Session {
        params: None,
        sequence: 0,
        last_time: None,
        waiting_for_keyframe: true,
    };
    let mut overlapping = !cached.is_empty();
    // The current GOP first, so the first picture shows without waiting for
    // the camera's next keyframe; the player then jumps to the live edge.
    for unit in &cached {
        for message in session.messages(unit) {
            if socket.send(message).await.is_err() {
                return;
            }
        }
    }
    loop {
        tokio::select! {
            unit = units.recv() => match unit {
                // The subscription can repeat the cache's last few units, until
                // the first new one.
                Ok(unit) if overlapping && cached.iter().any(|c| Arc::ptr_eq(c, &unit)) => {}
                Ok(unit) => {
                    overlapping = false;
                    for message in session.messages(&unit) {
                        if socket.send(message).await.is_err() {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => session.waiting_for_keyframe = true,
                Err(RecvError::Closed) => {
                    let bye = json!({"type": "error", "message": "the camera was stopped or restarted"});
                    let _ = socket.send(Message::Text(bye.to_string().into())).await;
                    return;
                }
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

impl Session {
    /// What to send for one access unit: nothing (waiting for a keyframe), a
    /// fragment, or a new init pair and a fragment.
    fn messages(&mut self, unit: &AccessUnit) -> Vec<Message> {
        if self.waiting_for_keyframe && !unit.random_access {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(3);
        let new_init = self.params.as_ref() != Some(&unit.params) || unit.discontinuity;
        if new_init {
            if !unit.random_access {
                self.waiting_for_keyframe = true;
                return out;
            }
            let init = json!({
                "type": "init",
                "mime": fmp4::mime_type(&unit.params),
                "width": unit.params.width,
                "height": unit.params.height,
                "base_us": unit.media_time,
            });
            out.push(Message::Text(init.to_string().into()));
            out.push(Message::Binary(fmp4::init_segment(&unit.params).into()));
            self.params = Some(unit.params.clone());
            self.last_time = None;
        }
        self.waiting_for_keyframe = false;
        let duration = self
            .last_time
            .map(|t| unit.media_time - t)
            .filter(|d| (1..=1_000_000).contains(d))
            .unwrap_or(DEFAULT_FRAME_US);
        self.last_time = Some(unit.media_time);
        self.sequence = self.sequence.wrapping_add(1);
        let fragment = fmp4::media_segment(
            self.sequence,
            unit.media_time,
            duration as u32,
            unit.random_access,
            &unit.data,
        );
        out.push(Message::Binary(fragment.into()));
        out
    }
}
