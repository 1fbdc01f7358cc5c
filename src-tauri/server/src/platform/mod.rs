//! What differs between operating systems, one concern per module, each
//! behind a small trait with its Linux implementation beside it. A Windows
//! or macOS port adds an implementation of each; the rest of the program
//! only sees the trait (docs/INSTALL.md lists what a port needs).
//!
//! - [`dirs`]: where data lives, and where an installed program finds the
//!   files that ship with it (models, ONNX Runtime, demo footage).
//! - [`service`]: telling the service manager the service is ready, alive
//!   and stopping.
//!
//! The credential keyring (`keyring` crate, in [`crate::secrets`]) and
//! desktop notifications (Tauri's plugin, in the app) are already portable.

pub mod dirs;
pub mod service;
