//! Evidence export and verification. An export is a folder: the recorded
//! video of each camera over the range (the camera's own bytes, cut at
//! fragment boundaries from the keyframe at or before the start), a JSON
//! sidecar (cameras, UTC times, detections, alerts, bookmarks, note), and
//! `manifest.json` listing every file's SHA-256, signed with this
//! installation's Ed25519 key in `manifest.sig`. [`verify`] (the
//! `peregrine verify` command and the UI's button) checks both.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use peregrine_engine::fmp4;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::api::rfc3339_micros;

const SIGNING_KEY_FILE: &str = "signing.key";
pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
const SIDECAR: &str = "metadata.json";
const README: &str = "README.txt";
const FORMAT: &str = "peregrine-export/1";

/// The installation's signing key: `<data dir>/signing.key` (mode 0600),
/// made on first use.
pub fn signing_key(data_dir: &Path) -> anyhow::Result<SigningKey> {
    let path = data_dir.join(SIGNING_KEY_FILE);
    if !path.exists() {
        let seed: [u8; 32] = rand::random();
        crate::secrets::write_key_file(&path, &seed.into())?;
    }
    let key = crate::secrets::read_key_file(&path)?;
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&key);
    Ok(SigningKey::from_bytes(&seed))
}

pub fn public_key_text(key: &VerifyingKey) -> String {
    BASE64.encode(key.as_bytes())
}

/// What to export.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub cameras: Vec<i64>,
    pub from_us: i64,
    pub to_us: i64,
    #[serde(default)]
    pub note: String,
    /// A folder to create the export in; default: `<data dir>/exports`.
    #[serde(default)]
    pub folder: Option<String>,
    /// Pack the export into one `.zip` file.
    #[serde(default)]
    pub zip: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Running,
    Done,
    Failed,
    Cancelled,
}

/// An export's progress, as `GET /api/v1/exports/{id}` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ExportStatus {
    pub id: u64,
    pub state: ExportState,
    /// 0..1 of the video bytes copied.
    pub progress: f64,
    pub path: String,
    pub message: String,
    pub files: usize,
    pub bytes: u64,
}

struct Job {
    status: ExportStatus,
    cancel: Arc<AtomicBool>,
}

/// Exports started since launch.
#[derive(Clone, Default)]
pub struct Exports(Arc<Mutex<HashMap<u64, Job>>>);

impl Exports {
    pub fn begin(&self, path: &Path) -> (u64, Arc<AtomicBool>) {
        let mut jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let id = jobs.keys().max().copied().unwrap_or(0) + 1;
        let cancel = Arc::new(AtomicBool::new(false));
        let status = ExportStatus {
            id,
            state: ExportState::Running,
            progress: 0.0,
            path: path.display().to_string(),
            message: "Starting…".to_owned(),
            files: 0,
            bytes: 0,
        };
        jobs.insert(
            id,
            Job {
                status,
                cancel: cancel.clone(),
            },
        );
        (id, cancel)
    }

    pub fn get(&self, id: u64) -> Option<ExportStatus> {
        let jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        jobs.get(&id).map(|j| j.status.clone())
    }

    pub fn list(&self) -> Vec<ExportStatus> {
        let jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = jobs.values().map(|j| j.status.clone()).collect();
        all.sort_by_key(|s| s.id);
        all
    }

    /// Asks a running export to stop; `false` when there is no such export.
    pub fn cancel(&self, id: u64) -> bool {
        let jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        jobs.get(&id)
            .map(|j| j.cancel.store(true, Ordering::Relaxed))
            .is_some()
    }

    pub fn update(&self, id: u64, change: impl FnOnce(&mut ExportStatus)) {
        let mut jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(job) = jobs.get_mut(&id) {
            change(&mut job.status);
        }
    }
}

/// One recorded segment to copy (path already resolved).
#[derive(Clone, Debug)]
pub struct SegmentSource {
    pub camera_id: i64,
    pub camera_name: String,
    pub file: PathBuf,
    pub start_us: i64,
    pub end_us: i64,
}

/// Everything an export holds, gathered from the database beforehand.
pub struct ExportPlan {
    pub folder: PathBuf,
    pub from_us: i64,
    pub to_us: i64,
    pub segments: Vec<SegmentSource>,
    /// The JSON sidecar, less its list of video files.
    pub sidecar: Value,
}

/// Writes the export (blocking: run it on a blocking thread). `progress`
/// hears (bytes copied, bytes to copy); `cancel` stops it, removing the folder.
pub fn write_export(
    plan: &ExportPlan,
    key: &SigningKey,
    cancel: &AtomicBool,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<(usize, u64)> {
    let video = plan.folder.join("video");
    fs::create_dir_all(&video).with_context(|| format!("cannot create {}", video.display()))?;
    let total: u64 = plan
        .segments
        .iter()
        .filter_map(|s| fs::metadata(&s.file).ok())
        .map(|m| m.len())
        .sum();
    let mut copied = 0;
    let mut files = Vec::new();
    let mut videos = Vec::new();
    for segment in &plan.segments {
        let name = format!(
            "video/{}_{}.mp4",
            slug(&segment.camera_name),
            file_time(segment.start_us.max(plan.from_us))
        );
        let cut = copy_range(
            segment,
            plan.from_us,
            plan.to_us,
            &plan.folder.join(&name),
            cancel,
            |n| {
                copied += n;
                progress(copied, total);
            },
        );
        if cancel.load(Ordering::Relaxed) {
            let _ = fs::remove_dir_all(&plan.folder);
            bail!("cancelled");
        }
        let Some((start_us, end_us, entry)) = cut? else {
            continue;
        };
        videos.push(json!({
            "file": name,
            "camera_id": segment.camera_id,
            "camera": segment.camera_name,
            "start": rfc3339_micros(start_us),
            "end": rfc3339_micros(end_us),
            "start_us": start_us,
            "end_us": end_us,
        }));
        files.push(FileEntry {
            path: name,
            ..entry
        });
    }
    let mut sidecar = plan.sidecar.clone();
    sidecar["videos"] = Value::Array(videos);
    let sidecar_bytes = serde_json::to_vec_pretty(&sidecar)?;
    files.push(write_hashed(&plan.folder, SIDECAR, &sidecar_bytes)?);
    let bytes = files.iter().map(|f| f.bytes).sum();
    sign_manifest(&plan.folder, &files, key)?;
    Ok((files.len(), bytes))
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct FileEntry {
    path: String,
    bytes: u64,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    created_at: String,
    /// Base64 Ed25519 public key of the installation that signed.
    public_key: String,
    files: Vec<FileEntry>,
}

fn sign_manifest(folder: &Path, files: &[FileEntry], key: &SigningKey) -> anyhow::Result<()> {
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        created_at: chrono::Utc::now().to_rfc3339(),
        public_key: public_key_text(&key.verifying_key()),
        files: files.to_vec(),
    };
    let bytes = serde_json::to_vec_pretty(&manifest)?;
    fs::write(folder.join(MANIFEST), &bytes)?;
    let signature = key.sign(&bytes);
    fs::write(
        folder.join(SIGNATURE),
        BASE64.encode(signature.to_bytes()) + "\n",
    )?;
    fs::write(
        folder.join(README),
        "Peregrine evidence export.\n\nmanifest.json lists every file with its SHA-256; manifest.sig is its\nEd25519 signature by the key in manifest.json. Check both with:\n\n    peregrine verify <this folder>\n",
    )?;
    Ok(())
}

fn write_hashed(folder: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<FileEntry> {
    fs::write(folder.join(name), bytes)?;
    Ok(FileEntry {
        path: name.to_owned(),
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
    })
}

/// Copies the segment's init and the fragments covering `[from, to)`,
/// starting at the keyframe fragment at or before `from`. Returns the
/// exported time span and the file's entry, or `None` if nothing overlaps.
fn copy_range(
    segment: &SegmentSource,
    from: i64,
    to: i64,
    out_path: &Path,
    cancel: &AtomicBool,
    mut copied: impl FnMut(u64),
) -> anyhow::Result<Option<(i64, i64, FileEntry)>> {
    let mut input = File::open(&segment.file)
        .with_context(|| format!("cannot open the recording {}", segment.file.display()))?;
    let scanned = fmp4::scan(&mut input)
        .with_context(|| format!("{} is not a readable recording", segment.file.display()))?;
    let first = scanned
        .fragments
        .iter()
        .rposition(|f| f.sync && f.start_us <= from)
        .or_else(|| scanned.fragments.iter().position(|f| f.sync))
        .unwrap_or(0);
    let chosen: Vec<_> = scanned
        .fragments
        .iter()
        .skip(first)
        .take_while(|f| f.start_us < to)
        .collect();
    let (Some(head), Some(tail)) = (chosen.first(), chosen.last()) else {
        return Ok(None);
    };
    let mut out =
        File::create(out_path).with_context(|| format!("cannot create {}", out_path.display()))?;
    let mut hasher = Sha256::new();
    let mut bytes = 0;
    let mut copy = |offset: u64, len: u64| -> io::Result<()> {
        input.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0; len as usize];
        input.read_exact(&mut buf)?;
        out.write_all(&buf)?;
        hasher.update(&buf);
        bytes += len;
        copied(len);
        Ok(())
    };
    copy(0, scanned.init_len)?;
    for fragment in &chosen {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        copy(fragment.offset, fragment.len)?;
    }
    out.sync_all()?;
    let entry = FileEntry {
        path: String::new(),
        bytes,
        sha256: hex(&hasher.finalize()),
    };
    Ok(Some((
        head.start_us,
        tail.start_us + tail.duration_us,
        entry,
    )))
}

/// What `verify` found.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// Every file matches and the signature holds.
    pub intact: bool,
    /// `valid`, `invalid`, `missing`, or `unexpected_key`.
    pub signature: String,
    pub public_key: Option<String>,
    /// Files whose bytes differ from the manifest, or that are missing.
    pub altered: Vec<String>,
    pub missing: Vec<String>,
    /// Files in the folder the manifest does not list.
    pub unlisted: Vec<String>,
    pub files: usize,
    /// A plain sentence for the user.
    pub message: String,
}

/// Checks an export (its folder, or its `.zip`): the manifest's signature
/// (against `expected_key` when given) and every file's hash.
pub fn verify(path: &Path, expected_key: Option<&str>) -> anyhow::Result<VerifyReport> {
    if path.is_file() {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let archive = zip::ZipArchive::new(file).with_context(|| {
            format!("{} is neither an export folder nor its zip", path.display())
        })?;
        verify_contents(
            &mut ZipContents(archive),
            &path.display().to_string(),
            expected_key,
        )
    } else {
        verify_contents(
            &mut FolderContents(path.to_owned()),
            &path.display().to_string(),
            expected_key,
        )
    }
}

/// What an export holds, wherever it is kept.
trait Contents {
    fn read(&mut self, name: &str) -> Option<Vec<u8>>;
    fn sha256(&mut self, name: &str) -> Option<String>;
    fn names(&mut self) -> Vec<String>;
}

struct FolderContents(PathBuf);

impl Contents for FolderContents {
    fn read(&mut self, name: &str) -> Option<Vec<u8>> {
        fs::read(safe_join(&self.0, name)?).ok()
    }

    fn sha256(&mut self, name: &str) -> Option<String> {
        hash_reader(File::open(safe_join(&self.0, name)?).ok()?)
    }

    fn names(&mut self) -> Vec<String> {
        list_files(&self.0)
    }
}

struct ZipContents(zip::ZipArchive<File>);

impl Contents for ZipContents {
    fn read(&mut self, name: &str) -> Option<Vec<u8>> {
        let mut entry = self.0.by_name(name).ok()?;
        let mut out = Vec::new();
        entry.read_to_end(&mut out).ok()?;
        Some(out)
    }

    fn sha256(&mut self, name: &str) -> Option<String> {
        hash_reader(self.0.by_name(name).ok()?)
    }

    fn names(&mut self) -> Vec<String> {
        self.0
            .file_names()
            .filter(|n| !n.ends_with('/'))
            .map(str::to_owned)
            .collect()
    }
}

fn verify_contents(
    contents: &mut dyn Contents,
    shown_as: &str,
    expected_key: Option<&str>,
) -> anyhow::Result<VerifyReport> {
    let manifest_bytes = contents
        .read(MANIFEST)
        .with_context(|| format!("{shown_as} has no {MANIFEST}: it is not a Peregrine export"))?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .with_context(|| format!("{MANIFEST} is not a valid manifest: it was altered"))?;
    let signature = check_signature(
        contents.read(SIGNATURE),
        &manifest_bytes,
        &manifest.public_key,
        expected_key,
    );
    let mut altered = Vec::new();
    let mut missing = Vec::new();
    for entry in &manifest.files {
        match contents.sha256(&entry.path) {
            Some(sha) if sha == entry.sha256 => {}
            Some(_) => altered.push(entry.path.clone()),
            None => missing.push(entry.path.clone()),
        }
    }
    let listed: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    let unlisted: Vec<String> = contents
        .names()
        .into_iter()
        .filter(|p| ![MANIFEST, SIGNATURE, README].contains(&p.as_str()))
        .filter(|p| !listed.contains(&p.as_str()))
        .collect();
    let intact = signature == "valid" && altered.is_empty() && missing.is_empty();
    let message = if intact {
        let extra = if unlisted.is_empty() {
            String::new()
        } else {
            format!(
                " ({} file(s) not part of the export were added: {})",
                unlisted.len(),
                unlisted.join(", ")
            )
        };
        format!(
            "Intact: all {} files match the signed manifest{extra}.",
            manifest.files.len()
        )
    } else {
        describe_damage(&signature, &altered, &missing)
    };
    Ok(VerifyReport {
        intact,
        signature,
        public_key: Some(manifest.public_key),
        altered,
        missing,
        unlisted,
        files: manifest.files.len(),
        message,
    })
}

/// Packs a finished export folder into `<folder>.zip` (stored: the video
/// is already compressed) and removes the folder.
pub fn zip_folder(folder: &Path) -> anyhow::Result<PathBuf> {
    let zip_path = folder.with_extension("zip");
    let file =
        File::create(&zip_path).with_context(|| format!("cannot create {}", zip_path.display()))?;
    let mut writer = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    for name in list_files(folder) {
        writer.start_file(name.as_str(), options)?;
        io::copy(&mut File::open(folder.join(&name))?, &mut writer)?;
    }
    writer.finish()?.sync_all()?;
    fs::remove_dir_all(folder)?;
    Ok(zip_path)
}

fn describe_damage(signature: &str, altered: &[String], missing: &[String]) -> String {
    let mut parts = Vec::new();
    if !altered.is_empty() {
        parts.push(format!("ALTERED: {}", altered.join(", ")));
    }
    if !missing.is_empty() {
        parts.push(format!("MISSING: {}", missing.join(", ")));
    }
    match signature {
        "valid" => {}
        "missing" => parts.push(format!(
            "{SIGNATURE} is missing: the manifest is not signed"
        )),
        "unexpected_key" => parts.push(
            "the signature is valid but was made by a different key than the one expected"
                .to_owned(),
        ),
        _ => parts.push(format!(
            "the signature does not match: {MANIFEST} was altered or signed by another key"
        )),
    }
    format!("NOT intact: {}.", parts.join("; "))
}

fn check_signature(
    signature: Option<Vec<u8>>,
    manifest: &[u8],
    public_key: &str,
    expected_key: Option<&str>,
) -> String {
    let Some(text) = signature.and_then(|b| String::from_utf8(b).ok()) else {
        return "missing".to_owned();
    };
    let key = BASE64
        .decode(public_key.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
    let signature = BASE64
        .decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b));
    let valid = matches!((key, signature), (Some(k), Some(s)) if k.verify(manifest, &s).is_ok());
    match (valid, expected_key) {
        (false, _) => "invalid",
        (true, Some(expected)) if expected.trim() != public_key.trim() => "unexpected_key",
        (true, _) => "valid",
    }
    .to_owned()
}

/// A manifest path inside the folder; `None` for anything that would leave it.
fn safe_join(folder: &Path, relative: &str) -> Option<PathBuf> {
    let path = Path::new(relative);
    let inside = path
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    inside.then(|| folder.join(path))
}

fn hash_reader(mut reader: impl Read) -> Option<String> {
    let mut hasher = Sha256::new();
    io::copy(&mut reader, &mut hasher).ok()?;
    Some(hex(&hasher.finalize()))
}

/// Files under `folder`, as `/`-separated relative paths.
fn list_files(folder: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![folder.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(folder) {
                let parts: Vec<_> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file-name-safe form of a camera name.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() {
        "camera".to_owned()
    } else {
        s
    }
}

/// `20261201T174500Z`: UTC, sortable, safe in file names.
pub fn file_time(us: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(us)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export_folder() -> (tempfile::TempDir, SigningKey) {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[7; 32]);
        let files = vec![
            write_hashed(dir.path(), "a.mp4", b"video bytes").unwrap(),
            write_hashed(dir.path(), SIDECAR, b"{}").unwrap(),
        ];
        sign_manifest(dir.path(), &files, &key).unwrap();
        (dir, key)
    }

    #[test]
    fn an_untouched_export_verifies() {
        let (dir, key) = export_folder();
        let report = verify(dir.path(), None).unwrap();
        assert!(report.intact, "{}", report.message);
        assert!(report.message.starts_with("Intact"));
        let expected = public_key_text(&key.verifying_key());
        assert!(verify(dir.path(), Some(&expected)).unwrap().intact);
    }

    #[test]
    fn a_flipped_byte_names_the_file() {
        let (dir, _) = export_folder();
        fs::write(dir.path().join("a.mp4"), b"video bytez").unwrap();
        let report = verify(dir.path(), None).unwrap();
        assert!(!report.intact);
        assert_eq!(report.altered, ["a.mp4"]);
        assert!(
            report.message.contains("ALTERED: a.mp4"),
            "{}",
            report.message
        );
    }

    #[test]
    fn another_key_is_a_signature_failure() {
        let (dir, _) = export_folder();
        let other = public_key_text(&SigningKey::from_bytes(&[9; 32]).verifying_key());
        let report = verify(dir.path(), Some(&other)).unwrap();
        assert!(!report.intact);
        assert_eq!(report.signature, "unexpected_key");
        // Swapping the key inside the manifest breaks the signature itself.
        let text = fs::read_to_string(dir.path().join(MANIFEST)).unwrap();
        let mine = public_key_text(&SigningKey::from_bytes(&[7; 32]).verifying_key());
        fs::write(dir.path().join(MANIFEST), text.replace(&mine, &other)).unwrap();
        let report = verify(dir.path(), None).unwrap();
        assert_eq!(report.signature, "invalid");
        assert!(report.message.contains("signature does not match"));
    }

    #[test]
    fn a_zipped_export_verifies_and_names_an_altered_entry() {
        let (dir, _) = export_folder();
        let folder = dir.path().join("export");
        fs::create_dir(&folder).unwrap();
        for name in ["a.mp4", SIDECAR, MANIFEST, SIGNATURE, README] {
            fs::rename(dir.path().join(name), folder.join(name)).unwrap();
        }
        let zip = zip_folder(&folder).unwrap();
        assert!(!folder.exists());
        let report = verify(&zip, None).unwrap();
        assert!(report.intact, "{}", report.message);
        // The same zip with one entry changed.
        let mut archive = zip::ZipArchive::new(File::open(&zip).unwrap()).unwrap();
        let tampered = dir.path().join("tampered.zip");
        let mut writer = zip::ZipWriter::new(File::create(&tampered).unwrap());
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().to_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            if name == "a.mp4" {
                bytes[0] ^= 1;
            }
            writer
                .start_file(name.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(&bytes).unwrap();
        }
        writer.finish().unwrap();
        let report = verify(&tampered, None).unwrap();
        assert_eq!(report.altered, ["a.mp4"]);
    }

    /// A recorded segment: 3 s at 10 fps, a keyframe every second.
    fn segment_file(dir: &Path) -> SegmentSource {
        let params = peregrine_engine::ingest::VideoParams {
            rfc6381_codec: "avc1.4D401E".to_owned(),
            extra_data: vec![],
            sample_entry: b"\0\0\0\x08avc1".to_vec(),
            width: 768,
            height: 576,
        };
        let mut bytes = fmp4::init_segment(&params);
        let data = [0u8, 0, 0, 2, 0x65, 0x88];
        for second in 0..3 {
            let samples: Vec<_> = (0..10)
                .map(|n| fmp4::Sample {
                    duration_us: 100_000,
                    sync: n == 0,
                    data: &data,
                })
                .collect();
            bytes.extend(fmp4::fragment(
                second + 1,
                i64::from(second) * 1_000_000,
                &samples,
            ));
        }
        let file = dir.join("segment.mp4");
        fs::write(&file, bytes).unwrap();
        SegmentSource {
            camera_id: 1,
            camera_name: "Gate cam".into(),
            file,
            start_us: 0,
            end_us: 3_000_000,
        }
    }

    #[test]
    fn an_export_starts_at_the_keyframe_before_the_range_and_can_be_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let plan = ExportPlan {
            folder: dir.path().join("export"),
            from_us: 1_500_000,
            to_us: 2_200_000,
            segments: vec![segment_file(dir.path())],
            sidecar: json!({"note": "test"}),
        };
        let key = SigningKey::from_bytes(&[7; 32]);
        let (files, _) = write_export(&plan, &key, &AtomicBool::new(false), |_, _| {}).unwrap();
        assert_eq!(files, 2, "one video and the sidecar");
        let sidecar: Value =
            serde_json::from_slice(&fs::read(plan.folder.join(SIDECAR)).unwrap()).unwrap();
        assert_eq!(sidecar["videos"][0]["start_us"], 1_000_000);
        assert_eq!(sidecar["videos"][0]["end_us"], 3_000_000);
        assert!(verify(&plan.folder, None).unwrap().intact);

        let cancelled = ExportPlan {
            folder: dir.path().join("cancelled"),
            ..plan
        };
        let result = write_export(&cancelled, &key, &AtomicBool::new(true), |_, _| {});
        assert!(result.is_err());
        assert!(
            !cancelled.folder.exists(),
            "a cancelled export leaves nothing behind"
        );
    }

    #[test]
    fn paths_cannot_leave_the_folder() {
        assert!(safe_join(Path::new("/x"), "../etc/passwd").is_none());
        assert!(safe_join(Path::new("/x"), "/etc/passwd").is_none());
        assert!(safe_join(Path::new("/x"), "video/a.mp4").is_some());
    }
}
