//! The service manager that runs `peregrine serve --service`: told when the
//! service is ready, that it is still alive (a watchdog restarts it when it
//! hangs), and when it stops.

use std::time::Duration;

use tracing::{debug, warn};

pub trait ServiceManager: Send + Sync {
    /// Start-up is complete; `status` is shown by the manager.
    fn ready(&self, status: &str);
    /// Still working: sent at [`ServiceManager::watchdog_interval`].
    fn alive(&self);
    /// An orderly stop has begun.
    fn stopping(&self);
    /// How often the manager wants to hear [`ServiceManager::alive`];
    /// `None` when it does not watch.
    fn watchdog_interval(&self) -> Option<Duration>;
}

/// systemd's notify protocol (`Type=notify`, `WatchdogSec=`). Outside
/// systemd (no `$NOTIFY_SOCKET`) every call does nothing.
pub struct Systemd;

impl Systemd {
    fn send(&self, states: &[sd_notify::NotifyState]) {
        if let Err(e) = sd_notify::notify(false, states) {
            warn!(error = %e, "cannot notify systemd");
        }
    }
}

impl ServiceManager for Systemd {
    fn ready(&self, status: &str) {
        self.send(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(status),
        ]);
    }

    fn alive(&self) {
        debug!("watchdog: alive");
        self.send(&[sd_notify::NotifyState::Watchdog]);
    }

    fn stopping(&self) {
        self.send(&[sd_notify::NotifyState::Stopping]);
    }

    fn watchdog_interval(&self) -> Option<Duration> {
        let mut usec = 0;
        // Half the manager's limit, so one late tick is not a restart.
        sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
    }
}

/// This machine's service manager.
pub fn current() -> &'static dyn ServiceManager {
    &Systemd
}
