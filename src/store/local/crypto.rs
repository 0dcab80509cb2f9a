//! Seed encryption at rest: AES-256-GCM with a random 96-bit nonce per write and the tool name
//! as associated data, so a ciphertext moved to another tool's row fails to decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::domain::{Seed, ToolName};
use crate::keys::KeyBytes;
use crate::store::StoreError;

/// The 256-bit key that encrypts seeds in the local store. Redacted in `Debug`.
#[derive(Debug)]
pub struct MasterKey(KeyBytes);

impl MasterKey {
    /// Wraps 32 key bytes.
    pub fn new(key: KeyBytes) -> Self {
        Self(key)
    }

    /// The key bytes, for its check value (see `super::keycheck`).
    pub(super) fn bytes(&self) -> &KeyBytes {
        &self.0
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.0.expose_secret()))
    }

    fn aad(tool: &ToolName) -> Vec<u8> {
        format!("otpbot-seed-v1:{tool}").into_bytes()
    }

    /// Encrypts the seed's URI; returns (nonce, ciphertext).
    pub fn seal(&self, tool: &ToolName, seed: &Seed) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = Self::aad(tool);
        let payload = Payload {
            msg: seed.expose_uri().as_bytes(),
            aad: &aad,
        };
        let ciphertext = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| StoreError::Backend("seed encryption failed".into()))?;
        Ok((nonce.to_vec(), ciphertext))
    }

    /// Decrypts and parses a stored seed.
    pub fn open(
        &self,
        tool: &ToolName,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Seed, StoreError> {
        if nonce.len() != 12 {
            return Err(StoreError::Corrupt(format!(
                "seed of {tool}: bad nonce length"
            )));
        }
        let aad = Self::aad(tool);
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| {
                    StoreError::Corrupt(format!(
                        "seed of {tool} does not decrypt: wrong master key, or tampered"
                    ))
                })?,
        );
        let text = std::str::from_utf8(&plain)
            .map_err(|_| StoreError::Corrupt(format!("seed of {tool}: not text")))?;
        Seed::parse(text).map_err(|e| StoreError::Corrupt(format!("seed of {tool}: {e}")))
    }

    /// Encrypts a deployment secret (a token, a signing secret) as seeds are, with its name as
    /// associated data; returns (nonce, ciphertext).
    pub fn seal_secret(&self, name: &str, value: &str) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = format!("otpbot-secret-v1:{name}");
        let payload = Payload {
            msg: value.as_bytes(),
            aad: aad.as_bytes(),
        };
        let ciphertext = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| StoreError::Backend("secret encryption failed".into()))?;
        Ok((nonce.to_vec(), ciphertext))
    }

    /// Decrypts a deployment secret sealed by [`MasterKey::seal_secret`] under `name`.
    pub fn open_secret(
        &self,
        name: &str,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<String>, StoreError> {
        let corrupt = || {
            StoreError::Corrupt(format!(
                "secret {name} does not decrypt: wrong master key, or tampered"
            ))
        };
        if nonce.len() != 12 {
            return Err(corrupt());
        }
        let aad = format!("otpbot-secret-v1:{name}");
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| corrupt())?,
        );
        std::str::from_utf8(&plain)
            .map(|text| Zeroizing::new(text.to_owned()))
            .map_err(|_| corrupt())
    }
}
