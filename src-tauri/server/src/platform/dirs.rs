//! Where data lives and where the files that ship with the program are.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The folders of one operating system's conventions.
pub trait Dirs: Send + Sync {
    /// The console's data when it runs for one user (database, keys,
    /// recordings): `$XDG_DATA_HOME/peregrine` on Linux.
    fn user_data(&self) -> PathBuf;
    /// The recording service's data: `/var/lib/peregrine` on Linux.
    fn service_data(&self) -> PathBuf;
    /// What `npm run setup` fetched in a source checkout.
    fn dev_cache(&self) -> PathBuf;
    /// The shipped files of an installed program, found from where the
    /// running binary is; `None` in a source checkout.
    fn shipped(&self) -> Option<&Shipped>;
}

/// An installed program's own files: `<prefix>/lib/peregrine` for what is
/// built for this machine (ONNX Runtime) and `<prefix>/share/peregrine` for
/// the rest (models, footage). The packages install under `/usr`; the
/// portable archive keeps the same layout under its own folder.
#[derive(Clone, Debug)]
pub struct Shipped {
    pub lib: PathBuf,
    pub share: PathBuf,
}

impl Shipped {
    /// The layout around `<prefix>/bin/<binary>`, if its files are there.
    pub fn beside(binary: &Path) -> Option<Self> {
        let prefix = binary.parent()?.parent()?;
        let shipped = Self {
            lib: prefix.join("lib/peregrine"),
            share: prefix.join("share/peregrine"),
        };
        shipped.share.join("models").is_dir().then_some(shipped)
    }
}

/// Linux: the XDG base directories for a user, the FHS for the service.
pub struct Linux {
    shipped: Option<Shipped>,
}

impl Linux {
    pub fn new() -> Self {
        let binary = std::env::current_exe().and_then(|p| p.canonicalize());
        Self {
            shipped: binary.ok().as_deref().and_then(Shipped::beside),
        }
    }
}

impl Default for Linux {
    fn default() -> Self {
        Self::new()
    }
}

impl Dirs for Linux {
    fn user_data(&self) -> PathBuf {
        xdg("XDG_DATA_HOME", ".local/share").join("peregrine")
    }

    fn service_data(&self) -> PathBuf {
        PathBuf::from("/var/lib/peregrine")
    }

    fn dev_cache(&self) -> PathBuf {
        xdg("XDG_CACHE_HOME", ".cache").join("peregrine")
    }

    fn shipped(&self) -> Option<&Shipped> {
        self.shipped.as_ref()
    }
}

fn xdg(variable: &str, under_home: &str) -> PathBuf {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join(under_home)
        })
}

/// This machine's conventions.
pub fn current() -> &'static dyn Dirs {
    static CURRENT: OnceLock<Linux> = OnceLock::new();
    CURRENT.get_or_init(Linux::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_shipped_files_beside_the_binary() {
        let root = tempfile::tempdir().unwrap();
        let binary = root.path().join("usr/bin/peregrine");
        assert!(Shipped::beside(&binary).is_none(), "no files, no layout");
        std::fs::create_dir_all(root.path().join("usr/share/peregrine/models")).unwrap();
        let shipped = Shipped::beside(&binary).expect("the installed layout");
        assert_eq!(shipped.lib, root.path().join("usr/lib/peregrine"));
        assert_eq!(shipped.share, root.path().join("usr/share/peregrine"));
    }
}
