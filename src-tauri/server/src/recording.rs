//! Recording around the engine's recorders: where files go, crash recovery
//! at boot (trim a torn tail, close the index row), and retention (days and
//! bytes per camera and in total, a free-space floor; oldest first; never a
//! camera's newest segment or one under an evidence lock). Retention deletes
//! in chunks so it never holds the database for long.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use peregrine_engine::fmp4;
use peregrine_engine::record::{RecordMode, RecordingConfig};
use peregrine_store::{CameraRow, RecordingRow, Store};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::AppState;

/// Segments deleted per transaction.
const PRUNE_CHUNK: i64 = 32;
const PRUNE_EVERY: Duration = Duration::from_secs(30);
const SETTINGS_KEY: &str = "recording";
const US_PER_DAY: f64 = 86_400e6;

/// Where recordings go and how long a segment runs.
#[derive(Clone, Debug)]
pub struct RecordingOptions {
    pub dir: PathBuf,
    pub segment: Duration,
}

impl RecordingOptions {
    /// `$PEREGRINE_RECORDINGS` or `<data dir>/recordings`; 60 s segments.
    pub fn from_env(data_dir: &Path) -> Self {
        let dir = std::env::var_os("PEREGRINE_RECORDINGS")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("recordings"));
        Self {
            dir,
            segment: Duration::from_secs(60),
        }
    }

    /// How a stored camera records.
    pub fn config_for(&self, row: &CameraRow) -> RecordingConfig {
        RecordingConfig {
            root: self.dir.clone(),
            mode: RecordMode::parse(&row.record_mode).unwrap_or_default(),
            segment: self.segment,
            pre_roll: Duration::from_secs_f64(row.pre_roll_s.clamp(0.0, 600.0)),
            post_roll: Duration::from_secs_f64(row.post_roll_s.clamp(0.0, 3600.0)),
        }
    }
}

/// The installation's retention (`GET/PUT /api/v1/settings/recording`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Days of video kept unless a camera says otherwise.
    pub retain_days: f64,
    /// All cameras together; `null`: no cap but the free-space floor.
    pub max_total_bytes: Option<i64>,
    /// Prune while the disk has less free than this.
    pub min_free_bytes: i64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            retain_days: 30.0,
            max_total_bytes: None,
            min_free_bytes: 2_000_000_000,
        }
    }
}

pub async fn load_settings(store: &Store) -> RetentionSettings {
    match store.setting(SETTINGS_KEY).await {
        Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_else(|e| {
            warn!(error = %e, "stored recording settings are unreadable; using the defaults");
            RetentionSettings::default()
        }),
        _ => RetentionSettings::default(),
    }
}

pub async fn save_settings(store: &Store, settings: &RetentionSettings) -> anyhow::Result<()> {
    store
        .set_setting(SETTINGS_KEY, &serde_json::to_string(settings)?)
        .await?;
    Ok(())
}

/// Boot: every segment a crash left open is scanned, its torn tail cut,
/// and its row closed at the last whole fragment; one with no whole
/// fragment (or no file) is removed.
pub async fn recover(store: &Store, dir: &Path) -> anyhow::Result<usize> {
    let open = store.open_recordings().await?;
    for row in &open {
        let path = dir.join(&row.path);
        let scanned = tokio::task::spawn_blocking({
            let path = path.clone();
            move || trim(&path)
        })
        .await?;
        match scanned {
            Ok(Some((end_us, bytes))) => {
                store.close_recording(row.id, end_us, bytes as i64).await?;
                info!(path = %row.path, lost_bytes = row.bytes.max(0) as u64, end_us, "recovered a segment left open");
            }
            Ok(None) => {
                let _ = std::fs::remove_file(&path);
                store.delete_recordings(&[row.id]).await?;
                info!(path = %row.path, "removed a segment with no complete video");
            }
            Err(e) => {
                warn!(path = %row.path, error = %e, "cannot recover a segment; removing it from the index");
                store.delete_recordings(&[row.id]).await?;
            }
        }
    }
    Ok(open.len())
}

/// Cuts a file back to its last whole fragment: (end time, bytes), or
/// `None` when nothing playable is left.
fn trim(path: &Path) -> std::io::Result<Option<(i64, u64)>> {
    let mut file = match File::options().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let scanned = match fmp4::scan(&mut file) {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let Some(end_us) = scanned.end_us() else {
        return Ok(None);
    };
    if scanned.valid_len < scanned.file_len {
        file.set_len(scanned.valid_len)?;
        file.sync_all()?;
    }
    Ok(Some((end_us, scanned.valid_len)))
}

/// The retention task: every half minute, and at once when a recorder
/// runs out of space.
pub async fn run(state: AppState) {
    let space_needed = state.engine.space_needed();
    loop {
        if let Err(e) = prune(&state).await {
            warn!(error = %e, "retention failed this round");
        }
        tokio::select! {
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
            _ = space_needed.notified() => info!("a recorder ran out of space: pruning now"),
        }
    }
}

/// Why a segment was deleted, for the log.
#[derive(Clone, Copy, Debug)]
enum Reason {
    CameraQuota,
    TotalQuota,
    FreeSpace,
}

/// One round of retention; returns how many segments were deleted.
pub async fn prune(state: &AppState) -> anyhow::Result<usize> {
    let settings = load_settings(&state.store).await;
    let now = chrono::Utc::now().timestamp_micros();
    let usage = state.store.recording_usage().await?;
    let used_by = |camera: i64| -> i64 {
        usage
            .iter()
            .filter(|(id, _)| *id == camera)
            .map(|(_, b)| b)
            .sum()
    };
    let mut deleted = 0;
    let mut freed_total = 0;
    for camera in state.store.cameras().await? {
        let days = camera.retain_days.unwrap_or(settings.retain_days);
        let (n, freed) = prune_older(state, camera.id, now - (days * US_PER_DAY) as i64).await?;
        deleted += n;
        freed_total += freed;
        if let Some(cap) = camera.max_bytes {
            let excess = used_by(camera.id) - freed - cap;
            let (n, freed) =
                prune_bytes(state, Some(camera.id), excess, Reason::CameraQuota).await?;
            deleted += n;
            freed_total += freed;
        }
    }
    if let Some(cap) = settings.max_total_bytes {
        let used: i64 = usage.iter().map(|(_, b)| b).sum();
        let (n, _) = prune_bytes(state, None, used - freed_total - cap, Reason::TotalQuota).await?;
        deleted += n;
    }
    if let Some(free) = free_space(&state.recordings.dir) {
        let short = settings.min_free_bytes - free as i64;
        let (n, _) = prune_bytes(state, None, short, Reason::FreeSpace).await?;
        deleted += n;
    }
    Ok(deleted)
}

/// Deletes a camera's prunable segments that ended before `before`, a
/// chunk per transaction: (segments, bytes).
async fn prune_older(state: &AppState, camera: i64, before: i64) -> anyhow::Result<(usize, i64)> {
    let now = chrono::Utc::now().timestamp_micros();
    let (mut deleted, mut freed) = (0, 0);
    loop {
        let chunk = state
            .store
            .prunable_recordings(Some(camera), before, now, PRUNE_CHUNK)
            .await?;
        if chunk.is_empty() {
            return Ok((deleted, freed));
        }
        delete(state, &chunk).await?;
        deleted += chunk.len();
        freed += chunk.iter().map(|r| r.bytes).sum::<i64>();
        info!(camera, segments = chunk.len(), first = %chunk[0].path, "pruned recordings past their days");
    }
}

/// Deletes the oldest prunable segments (of a camera, or of all) until
/// `excess` bytes are gone: (segments, bytes).
async fn prune_bytes(
    state: &AppState,
    camera: Option<i64>,
    mut excess: i64,
    reason: Reason,
) -> anyhow::Result<(usize, i64)> {
    let now = chrono::Utc::now().timestamp_micros();
    let (mut deleted, mut freed) = (0, 0);
    while excess > 0 {
        let chunk = state
            .store
            .prunable_recordings(camera, now, now, PRUNE_CHUNK)
            .await?;
        if chunk.is_empty() {
            warn!(?reason, excess_bytes = excess, "over the limit, but every remaining recording is a camera's newest or under an evidence lock");
            break;
        }
        // No more than the limit needs.
        let mut take = 0;
        let mut bytes = 0;
        while take < chunk.len() && bytes < excess {
            bytes += chunk[take].bytes;
            take += 1;
        }
        delete(state, &chunk[..take]).await?;
        excess -= bytes;
        deleted += take;
        freed += bytes;
        info!(?reason, segments = take, first = %chunk[0].path, "pruned recordings");
    }
    Ok((deleted, freed))
}

/// Files first, then their rows: a crash in between leaves rows that
/// recovery or the next round clears, never files no row knows.
async fn delete(state: &AppState, rows: &[RecordingRow]) -> anyhow::Result<()> {
    for row in rows {
        match tokio::fs::remove_file(state.recordings.dir.join(&row.path)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!(path = %row.path, error = %e, "cannot delete a recording file"),
        }
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    state.store.delete_recordings(&ids).await?;
    Ok(())
}

/// Free bytes on the disk holding `dir` (or its nearest existing parent).
pub fn free_space(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    fs4::available_space(existing).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_engine::ingest::VideoParams;

    #[test]
    fn a_torn_tail_is_cut_back_to_the_last_whole_fragment() {
        let dir = tempfile::tempdir().unwrap();
        let params = VideoParams {
            rfc6381_codec: "avc1.4D401E".to_owned(),
            extra_data: vec![],
            sample_entry: b"\0\0\0\x08avc1".to_vec(),
            width: 768,
            height: 576,
        };
        let mut bytes = fmp4::init_segment(&params);
        let data = [0u8, 0, 0, 2, 0x65, 0x88];
        let sample = [fmp4::Sample {
            duration_us: 1_000_000,
            sync: true,
            data: &data,
        }];
        bytes.extend(fmp4::fragment(1, 5_000_000, &sample));
        let whole = bytes.len() as u64;
        let torn = fmp4::fragment(2, 6_000_000, &sample);
        bytes.extend(&torn[..torn.len() - 3]);
        let path = dir.path().join("open.mp4");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(trim(&path).unwrap(), Some((6_000_000, whole)));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        std::fs::write(&path, b"not a video").unwrap();
        assert_eq!(trim(&path).unwrap(), None);
        assert_eq!(trim(&dir.path().join("gone.mp4")).unwrap(), None);
    }
}
