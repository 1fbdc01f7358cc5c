//! `WS /api/v1/events`: camera state changes, detections and alerts as JSON.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use peregrine_engine::{Detection, EngineEvent};
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::alerts::AlertView;
use super::cameras::CameraView;
use super::{rfc3339_micros, AppState};

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EventView<'a> {
    Camera {
        camera: CameraView,
    },
    Detections {
        camera_id: i64,
        media_time: String,
        /// The same instant as an integer, to match live video frames exactly.
        media_time_us: i64,
        frame_width: u32,
        frame_height: u32,
        detections: &'a [Detection],
    },
    /// A new alert, or a change to one (acknowledged, closed, noted).
    Alert {
        alert: AlertView,
    },
}

pub async fn subscribe(ws: WebSocketUpgrade, State(s): State<AppState>) -> Response {
    ws.on_upgrade(move |socket| forward(socket, s))
}

async fn forward(mut socket: WebSocket, s: AppState) {
    let mut events = s.engine.subscribe();
    let mut alerts = s.alerts.subscribe();
    loop {
        tokio::select! {
            alert = alerts.recv() => {
                let text = match alert {
                    Ok(notice) => match serde_json::to_string(&EventView::Alert { alert: AlertView::from(notice.alert()) }) {
                        Ok(text) => text,
                        Err(_) => continue,
                    },
                    Err(RecvError::Lagged(missed)) => json!({"type": "lagged", "missed": missed}).to_string(),
                    Err(RecvError::Closed) => break,
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            event = events.recv() => {
                let text = match event {
                    Ok(event) => match render(&s, &event).await {
                        Some(text) => text,
                        None => continue,
                    },
                    // A slow client misses events rather than slowing the engine.
                    Err(RecvError::Lagged(missed)) => json!({"type": "lagged", "missed": missed}).to_string(),
                    Err(RecvError::Closed) => break,
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn render(s: &AppState, event: &EngineEvent) -> Option<String> {
    let view = match event {
        EngineEvent::Camera { id, .. } => {
            let row = s.store.camera(*id).await.ok()??;
            EventView::Camera {
                camera: s.view(row),
            }
        }
        EngineEvent::Detections(found) => EventView::Detections {
            camera_id: found.camera_id,
            media_time: rfc3339_micros(found.media_time),
            media_time_us: found.media_time,
            frame_width: found.frame_width,
            frame_height: found.frame_height,
            detections: &found.detections,
        },
    };
    serde_json::to_string(&view).ok()
}
