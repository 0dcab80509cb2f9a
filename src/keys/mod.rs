//! Secret key material: the Slack signing secret, the audit HMAC key and the local master key,
//! and where the local store's key files live ([`locate`]).
//!
//! Keys are held in [`secrecy::SecretBox`] (redacted `Debug`, wiped on drop) and only exposed
//! where a MAC or cipher needs them. This module never logs a key.

use std::fs;
use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

use crate::domain::{OtpCode, ToolName};

mod location;

pub use location::{is_within, key_files_in, locate, placement_warnings, shell_word, KeyLocation};

/// HMAC-SHA256.
pub type HmacSha256 = Hmac<Sha256>;

/// Key bytes that are redacted in `Debug` and wiped on drop.
pub type KeyBytes = SecretBox<Vec<u8>>;

/// Why key material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The key is not 64 hex characters (32 bytes).
    #[error("{0} must hold 64 hex characters (32 random bytes)")]
    BadFormat(String),
}

/// 32 fresh random bytes.
pub fn random_key() -> KeyBytes {
    let mut key = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    SecretBox::new(Box::new(key))
}

/// Decodes a 64-hex-character key; `what` names the source in the error.
pub fn decode_hex_key(text: &str, what: &str) -> Result<KeyBytes, KeyError> {
    let bytes = hex::decode(text.trim()).map_err(|_| KeyError::BadFormat(what.to_owned()))?;
    if bytes.len() != 32 {
        return Err(KeyError::BadFormat(what.to_owned()));
    }
    Ok(SecretBox::new(Box::new(bytes)))
}

/// Reads a hex key from `path`, or creates the file (mode 0600) with a fresh key if absent.
/// Two processes starting at once agree on one key: the file appears whole or not at all, and
/// the one that loses the race reads the winner's.
pub fn load_or_create_key_file(path: &Path) -> Result<KeyBytes, KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    match fs::read_to_string(path) {
        Ok(text) => decode_hex_key(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_key();
            let draft = path.with_extension(format!("new-{:016x}", rand::random::<u64>()));
            write_private_file(&draft, hex::encode(key.expose_secret()).as_bytes()).map_err(io)?;
            // A hard link never replaces an existing file, so a key made meanwhile stays.
            let linked = fs::hard_link(&draft, path);
            let _ = fs::remove_file(&draft);
            match linked {
                Ok(()) => Ok(key),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(path).map_err(io)?;
                    decode_hex_key(&text, &path.display().to_string())
                }
                // A file system without hard links: create the file in place.
                Err(_) => {
                    write_private_file(path, hex::encode(key.expose_secret()).as_bytes())
                        .map_err(io)?;
                    Ok(key)
                }
            }
        }
        Err(e) => Err(io(e)),
    }
}

/// Creates `path` with mode 0600 (never wider) and writes `contents`; fails if it exists.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// The key under which issued codes are MACed in the audit log, so an auditor holding a code
/// can check whether otpbot issued it, while the log itself never holds the code.
#[derive(Debug)]
pub struct AuditKey(KeyBytes);

impl AuditKey {
    /// Wraps key bytes.
    pub fn new(key: KeyBytes) -> Self {
        Self(key)
    }

    /// The key bytes, for a store's key check value.
    #[cfg(feature = "local")]
    pub(crate) fn bytes(&self) -> &KeyBytes {
        &self.0
    }

    /// A fresh HMAC-SHA256 under this key (for the audit chain).
    pub fn hmac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(self.0.expose_secret()).expect("HMAC takes any key length")
    }

    /// Hex HMAC-SHA256 over `tool`, a NUL byte and `code`.
    pub fn mac(&self, tool: &ToolName, code: &OtpCode) -> String {
        self.mac_text(tool, code.expose())
    }

    /// The same MAC for a code an auditor typed in.
    pub fn mac_text(&self, tool: &ToolName, code: &str) -> String {
        let mut mac =
            HmacSha256::new_from_slice(self.0.expose_secret()).expect("HMAC takes any key length");
        mac.update(tool.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The Slack app's signing secret.
#[derive(Debug, Clone)]
pub struct SigningSecret(SecretString);

impl SigningSecret {
    /// Wraps the secret as Slack shows it (32 hex characters, used as raw text bytes).
    pub fn new(secret: String) -> Self {
        Self(SecretString::from(secret.trim().to_owned()))
    }

    /// The secret, for computing a MAC.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Creates `dir` (and parents) with mode 0700 if it does not exist.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}
