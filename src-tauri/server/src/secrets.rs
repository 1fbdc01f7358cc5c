//! Camera passwords are stored only encrypted (ChaCha20-Poly1305) under a
//! per-installation key. The key lives in `<data dir>/secret.key` (mode
//! 0600) once one exists there; otherwise in the OS keyring when an unlocked
//! Secret Service answers within a moment; otherwise a new key file is made.
//! A headless start never waits on the keyring.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use tracing::{info, warn};

const KEY_FILE: &str = "secret.key";
const KEYRING_SERVICE: &str = "peregrine";
const KEYRING_USER: &str = "camera-credentials-key";
const KEYRING_TIMEOUT: Duration = Duration::from_secs(2);
const NONCE_LEN: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    File,
    Keyring,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeySource::File => "key file",
            KeySource::Keyring => "OS keyring",
        })
    }
}

pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    source: KeySource,
}

impl SecretBox {
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(KEY_FILE);
        let (key, source) = if path.exists() {
            (read_key_file(&path)?, KeySource::File)
        } else if let Some(key) = keyring_key() {
            (key, KeySource::Keyring)
        } else {
            let key = ChaCha20Poly1305::generate_key(&mut OsRng);
            write_key_file(&path, &key)?;
            info!(path = %path.display(), "created a new credential key file");
            (key, KeySource::File)
        };
        Ok(Self {
            cipher: ChaCha20Poly1305::new(&key),
            source,
        })
    }

    pub fn source(&self) -> KeySource {
        self.source
    }

    /// nonce ‖ ciphertext
    pub fn encrypt(&self, plain: &str) -> anyhow::Result<Vec<u8>> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn decrypt(&self, sealed: &[u8]) -> anyhow::Result<String> {
        if sealed.len() < NONCE_LEN {
            bail!("the stored password is damaged");
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| anyhow::anyhow!("the stored password cannot be decrypted with this installation's key: enter it again"))?;
        Ok(String::from_utf8(plain)?)
    }
}

pub(crate) fn read_key_file(path: &Path) -> anyhow::Result<Key> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    decode_key(text.trim()).with_context(|| format!("the key file {} is damaged", path.display()))
}

pub(crate) fn write_key_file(path: &Path, key: &Key) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the key file {}", path.display()))?;
    file.write_all(encode_key(key).as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn encode_key(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_key(hex: &str) -> anyhow::Result<Key> {
    if hex.len() != 64 || !hex.is_ascii() {
        bail!("expected 64 hex digits");
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(Key::from(bytes))
}

/// The key from the Secret Service, created there if missing; `None` when no
/// session bus or no unlocked keyring answers quickly.
fn keyring_key() -> Option<Key> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        || std::env::var_os("PEREGRINE_NO_KEYRING").is_some()
    {
        return None;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    // The Secret Service may block on an unlock prompt: never wait on it long.
    std::thread::spawn(move || {
        let _ = tx.send(keyring_get_or_create());
    });
    match rx.recv_timeout(KEYRING_TIMEOUT) {
        Ok(Ok(key)) => Some(key),
        Ok(Err(e)) => {
            warn!(error = %e, "OS keyring unavailable; using a key file");
            None
        }
        Err(_) => {
            warn!("OS keyring did not answer; using a key file");
            None
        }
    }
}

fn keyring_get_or_create() -> anyhow::Result<Key> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, KEYRING_USER)?;
    match entry.get_password() {
        Ok(hex) => decode_key(&hex),
        Err(keyring::Error::NoEntry) => {
            let key = ChaCha20Poly1305::generate_key(&mut OsRng);
            entry.set_password(&encode_key(&key))?;
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_persists_the_key_with_0600() {
        std::env::set_var("PEREGRINE_NO_KEYRING", "1");
        let dir = tempfile::tempdir().unwrap();
        let sealed = SecretBox::load_or_create(dir.path())
            .unwrap()
            .encrypt("hunter2")
            .unwrap();
        assert!(
            !sealed.windows(7).any(|w| w == b"hunter2"),
            "ciphertext must not hold the password"
        );
        let again = SecretBox::load_or_create(dir.path()).unwrap();
        assert_eq!(again.decrypt(&sealed).unwrap(), "hunter2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_wrong_key_says_what_to_do() {
        std::env::set_var("PEREGRINE_NO_KEYRING", "1");
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let sealed = SecretBox::load_or_create(a.path())
            .unwrap()
            .encrypt("x")
            .unwrap();
        let err = SecretBox::load_or_create(b.path())
            .unwrap()
            .decrypt(&sealed)
            .unwrap_err();
        assert!(err.to_string().contains("enter it again"));
    }
}
