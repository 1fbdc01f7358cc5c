//! Where things live on disk: the user's data, and the files that ship with
//! the program (model, ONNX Runtime, footage). An installed program finds
//! them beside its binary ([`crate::platform::dirs`]); a source checkout
//! finds what `npm run setup` fetched into the cache. Each can be
//! overridden by an environment variable, for development.

use std::path::PathBuf;

use crate::platform::dirs;

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
    env_path("PEREGRINE_CACHE").unwrap_or_else(|| dirs::current().dev_cache())
}

/// `$PEREGRINE_DATA`, else `$XDG_DATA_HOME/peregrine`, else `~/.local/share/peregrine`.
pub fn default_data_dir() -> PathBuf {
    env_path("PEREGRINE_DATA").unwrap_or_else(|| dirs::current().user_data())
}

/// `$PEREGRINE_DATA`, else the recording service's folder (`/var/lib/peregrine`).
pub fn service_data_dir() -> PathBuf {
    env_path("PEREGRINE_DATA").unwrap_or_else(|| dirs::current().service_data())
}

/// A shipped file: `$variable`, else beside the installed binary, else in
/// the set-up cache.
fn shipped(variable: &str, pick: impl Fn(&dirs::Shipped) -> PathBuf, cached: &str) -> PathBuf {
    env_path(variable)
        .or_else(|| dirs::current().shipped().map(pick))
        .unwrap_or_else(|| cache_dir().join(cached))
}

pub fn model_path() -> PathBuf {
    shipped(
        "PEREGRINE_MODEL",
        |s| s.share.join("models/nanodet-m.onnx"),
        "models/nanodet-m.onnx",
    )
}

/// The search's sentence-embedding model (`model.onnx`, `tokenizer.json`)
/// and the word table made from it.
pub fn embedder_dir() -> PathBuf {
    shipped(
        "PEREGRINE_EMBEDDER",
        |s| s.share.join("models/minilm"),
        "models/minilm",
    )
}

pub fn ort_library() -> PathBuf {
    shipped(
        "ORT_DYLIB_PATH",
        |s| s.lib.join(ORT_LIBRARY),
        &format!("ort/{ORT_LIBRARY}"),
    )
}

/// The file name of the ONNX Runtime this program is built against.
pub const ORT_LIBRARY: &str = "libonnxruntime.so.1.31.1";

pub fn footage() -> PathBuf {
    shipped(
        "PEREGRINE_FOOTAGE",
        |s| s.share.join("footage/vtest.mp4"),
        "footage/vtest.mp4",
    )
}

/// A folder to serve the UI from instead of the one built into the binary.
pub fn ui_dir() -> Option<PathBuf> {
    env_path("PEREGRINE_UI_DIR")
}
