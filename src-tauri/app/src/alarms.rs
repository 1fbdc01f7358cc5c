//! The desktop side of the alarm queue: a tray icon whose tooltip and title
//! carry the count of unacknowledged alarms (click: bring the window back),
//! and a native notification for every new alarm. Both follow the server's
//! alert stream, so they agree with the queue in the window.

use peregrine_server::api::alerts::AlertNotice;
use peregrine_store::{AlertRow, Store};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::{self, error::RecvError};
use tracing::{info, warn};

/// The setting the health answer reads (`notifications`).
const NOTIFICATIONS_KEY: &str = "desktop_notifications";

/// Creates the tray icon and follows the alerts until the server stops.
pub fn start(
    app: &AppHandle,
    store: Store,
    mut alerts: broadcast::Receiver<AlertNotice>,
) -> tauri::Result<()> {
    let mut builder = TrayIconBuilder::with_id("alarms")
        .tooltip("Peregrine")
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let tray = builder.build(app)?;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        update_tray(&tray, &store).await;
        let mut last_shown: Option<Result<(), String>> = None;
        loop {
            match alerts.recv().await {
                Ok(notice) => {
                    if let AlertNotice::Raised(alert) = &notice {
                        let shown = notify(&app, alert);
                        if last_shown.as_ref() != Some(&shown) {
                            record(&store, &shown).await;
                            last_shown = Some(shown);
                        }
                    }
                    update_tray(&tray, &store).await;
                }
                Err(RecvError::Lagged(_)) => update_tray(&tray, &store).await,
                Err(RecvError::Closed) => break,
            }
        }
    });
    Ok(())
}

async fn update_tray(tray: &TrayIcon, store: &Store) {
    let Ok((new, _)) = store.open_alert_counts().await else {
        return;
    };
    let tooltip = match new {
        0 => "Peregrine: no new alarms".to_owned(),
        1 => "Peregrine: 1 new alarm".to_owned(),
        n => format!("Peregrine: {n} new alarms"),
    };
    let title = (new > 0).then(|| new.to_string());
    if let Err(e) = tray
        .set_tooltip(Some(&tooltip))
        .and_then(|()| tray.set_title(title.as_deref()))
    {
        warn!(error = %e, "cannot update the tray icon");
        return;
    }
    info!(new_alarms = new, "tray updated");
}

fn notify(app: &AppHandle, alert: &AlertRow) -> Result<(), String> {
    let shown = app
        .notification()
        .builder()
        .title(format!("Alarm: {}", alert.rule_name))
        .body(&alert.explanation)
        .show();
    match shown {
        Ok(()) => {
            info!(alert = alert.id, "notification shown");
            Ok(())
        }
        // No notification service (a kiosk without a desktop): the queue and its sound still work.
        Err(e) => {
            warn!(alert = alert.id, error = %e, "cannot show a desktop notification");
            Err(e.to_string())
        }
    }
}

/// Tells the UI (through the health answer) whether notifications work,
/// so a failure is flagged in the alarm queue rather than only logged.
async fn record(store: &Store, shown: &Result<(), String>) {
    let value = match shown {
        Ok(()) => serde_json::json!({"ok": true, "message": ""}),
        Err(e) => {
            serde_json::json!({"ok": false, "message": format!("desktop notifications cannot be shown: {e}")})
        }
    };
    if let Err(e) = store
        .set_setting(NOTIFICATIONS_KEY, &value.to_string())
        .await
    {
        warn!(error = %e, "cannot record whether notifications work");
    }
}

fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}
