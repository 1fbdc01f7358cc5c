//! Where things live on disk: the user's data, and what setup fetched into
//! the cache (model, ONNX Runtime, footage). Each can be overridden by an
//! environment variable.

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

pub fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

/// `$PEREGRINE_CACHE`, else `$XDG_CACHE_HOME/peregrine`, else `~/.cache/peregrine`.
pub fn cache_dir() -> PathBuf {
    env_path("PEREGRINE_CACHE").unwrap_or_else(|| {
        env_path("XDG_CACHE_HOME")
            .unwrap_or_else(|| home().join(".cache"))
            .join("peregrine")
    })
}

/// `$PEREGRINE_DATA`, else `$XDG_DATA_HOME/peregrine`, else `~/.local/share/peregrine`.
pub fn default_data_dir() -> PathBuf {
    env_path("PEREGRINE_DATA").unwrap_or_else(|| {
        env_path("XDG_DATA_HOME")
            .unwrap_or_else(|| home().join(".local/share"))
            .join("peregrine")
    })
}

pub fn model_path() -> PathBuf {
    env_path("PEREGRINE_MODEL").unwrap_or_else(|| cache_dir().join("models/nanodet-m.onnx"))
}

/// The search's sentence-embedding model (`model.onnx`, `tokenizer.json`).
pub fn embedder_dir() -> PathBuf {
    env_path("PEREGRINE_EMBEDDER").unwrap_or_else(|| cache_dir().join("models/minilm"))
}

pub fn ort_library() -> PathBuf {
    env_path("ORT_DYLIB_PATH").unwrap_or_else(|| cache_dir().join("ort/libonnxruntime.so.1.31.1"))
}

pub fn footage() -> PathBuf {
    env_path("PEREGRINE_FOOTAGE").unwrap_or_else(|| cache_dir().join("footage/vtest.mp4"))
}

/// The repository root this binary was built from (for the UI and scripts
/// in a source checkout).
fn source_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub fn ui_dir() -> PathBuf {
    env_path("PEREGRINE_UI_DIR").unwrap_or_else(|| source_root().join("ui/dist"))
}

pub fn camsim_script() -> PathBuf {
    env_path("PEREGRINE_CAMSIM").unwrap_or_else(|| source_root().join("scripts/camsim.py"))
}
