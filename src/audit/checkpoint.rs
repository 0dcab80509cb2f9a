//! Signed checkpoints: a statement "at `time` the audit log held `records` records whose last
//! unkeyed hash was `head`", signed with an asymmetric key, so that anyone holding the
//! checkpoint and the public key can later tell whether a log extends it (see
//! [`super::chain`] for the hash). A checkpoint held outside otpbot (a log server, a chat
//! channel, an auditor's file) catches what the store's own writer could otherwise hide: a
//! cut-off tail, or a history rewritten and re-chained with the audit key.
//!
//! **Signed bytes** (version 1): `otpbot-checkpoint-v1\n`, then `records` (decimal), `head`
//! (64 hex characters), `time` (Unix seconds, decimal), `key_id` and `algorithm`, each in the
//! field encoding of the canonical record (`0x01`, a 4-byte big-endian length, the UTF-8
//! bytes).
//!
//! **Algorithms**: `ed25519` (RFC 8032; the local store's key, a 64-byte signature) and
//! `ecdsa-p256-sha256` (ECDSA over NIST P-256 with SHA-256 of the signed bytes, the signature
//! DER-encoded as X9.62 `Ecdsa-Sig-Value`: what AWS KMS answers to `Sign` with
//! `SigningAlgorithm = ECDSA_SHA_256` on an `ECC_NIST_P256` key). Public keys are PEM
//! `PUBLIC KEY` blocks (an X.509 `SubjectPublicKeyInfo`).
//!
//! **JSON**: `{"version":1,"records":…,"head":"…","time":"RFC 3339","key_id":"…",
//! "algorithm":"…","signature":"base64"}`.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde_json::{json, Value};

use super::discrepancy::Discrepancy;
use super::record::encode_fields;
pub use super::signing::{Algorithm, Ed25519Signer, PublicKey, SignError, Signer};
use super::verified::Matched;
use crate::domain::Timestamp;

const DOMAIN: &[u8] = b"otpbot-checkpoint-v1\n";

/// What a log vouches for at one moment: its record count from the chain start, and the
/// unkeyed hash of its last record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Records from the chain start (which is record 1) to the last.
    pub records: u64,
    /// The last record's hash.
    pub head: String,
}

/// A signed [`Head`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Records vouched for.
    pub records: u64,
    /// The hash of the last of them.
    pub head: String,
    /// When the checkpoint was made.
    pub time: Timestamp,
    /// Which key signed it: `sha256:` and the hex SHA-256 of its public key's DER for a local
    /// key, the KMS key's id or ARN on AWS.
    pub key_id: String,
    /// How it was signed.
    pub algorithm: Algorithm,
    /// The signature over [`Checkpoint::signed_bytes`].
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// The bytes a signature covers (see the module documentation).
    pub fn signed_bytes(
        records: u64,
        head: &str,
        time: Timestamp,
        key_id: &str,
        algorithm: Algorithm,
    ) -> Vec<u8> {
        let mut out = DOMAIN.to_vec();
        encode_fields(
            &mut out,
            [
                Some(records.to_string()),
                Some(head.to_owned()),
                Some(time.unix().to_string()),
                Some(key_id.to_owned()),
                Some(algorithm.as_str().to_owned()),
            ],
        );
        out
    }

    /// Signs `head` as of `time` with `signer`.
    pub async fn sign(
        head: &Head,
        time: Timestamp,
        signer: &dyn Signer,
    ) -> Result<Self, SignError> {
        let (key_id, algorithm) = (signer.key_id().to_owned(), signer.algorithm());
        let bytes = Self::signed_bytes(head.records, &head.head, time, &key_id, algorithm);
        Ok(Self {
            records: head.records,
            head: head.head.clone(),
            time,
            key_id,
            algorithm,
            signature: signer.sign(&bytes).await?,
        })
    }

    /// Whether the signature is `key`'s over the other fields.
    pub fn genuine(&self, key: &PublicKey) -> bool {
        let bytes = Self::signed_bytes(
            self.records,
            &self.head,
            self.time,
            &self.key_id,
            self.algorithm,
        );
        key.verifies(self.algorithm, &bytes, &self.signature)
    }

    /// The checkpoint as one JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "version": 1,
            "records": self.records,
            "head": self.head,
            "time": self.time.to_string(),
            "key_id": self.key_id,
            "algorithm": self.algorithm.as_str(),
            "signature": base64::engine::general_purpose::STANDARD.encode(&self.signature),
        })
    }

    /// Reads back [`Checkpoint::to_json`]; `None` if it is not one.
    pub fn from_json(v: &Value) -> Option<Self> {
        let text = |k: &str| v.get(k)?.as_str();
        if v.get("version")?.as_u64()? != 1 {
            return None;
        }
        Some(Self {
            records: v.get("records")?.as_u64()?,
            head: text("head")?.to_owned(),
            time: Timestamp::parse(text("time")?)?,
            key_id: text("key_id")?.to_owned(),
            algorithm: Algorithm::parse(text("algorithm")?)?,
            signature: base64::engine::general_purpose::STANDARD
                .decode(text("signature")?)
                .ok()?,
        })
    }
}

/// The checkpoints in `text`: one JSON object (what `otpbot audit checkpoint` prints, or a seal
/// from the AWS bucket, which carries one), or JSON Lines of such objects or of log lines
/// holding one (a `checkpoint` field at the top or under `fields`, as a JSON object or as its
/// text). Lines that hold none are skipped; a file that holds none at all is an error.
pub fn parse_checkpoints(text: &str) -> Result<Vec<Checkpoint>, String> {
    let values: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(value) => vec![value],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    };
    let found: Vec<Checkpoint> = values.iter().filter_map(find_checkpoint).collect();
    if found.is_empty() {
        return Err("holds no otpbot audit checkpoint".into());
    }
    Ok(found)
}

fn find_checkpoint(v: &Value) -> Option<Checkpoint> {
    let nested = |v: &Value| match v {
        Value::String(text) => serde_json::from_str(text).ok(),
        other => Some(other.clone()),
    };
    Checkpoint::from_json(v)
        .or_else(|| {
            nested(v.get("checkpoint")?)
                .as_ref()
                .and_then(Checkpoint::from_json)
        })
        .or_else(|| {
            nested(v.get("fields")?.get("checkpoint")?)
                .as_ref()
                .and_then(Checkpoint::from_json)
        })
}

/// The hashes a check of the log found at the positions checkpoints name, and how many
/// records it holds from its chain start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heads {
    /// Records from the chain start to the last.
    pub records: u64,
    /// Hash at each wanted position.
    pub at: BTreeMap<u64, String>,
}

impl Heads {
    /// Notes that the record at `position` hashes to `hash`.
    pub fn extend(&mut self, position: u64, hash: &str, wanted: &BTreeSet<u64>) {
        self.records = position;
        if wanted.contains(&position) {
            self.at.insert(position, hash.to_owned());
        }
    }
}

/// The positions `checkpoints` name, for a check to collect.
pub fn wanted(checkpoints: &[(String, Checkpoint)]) -> BTreeSet<u64> {
    checkpoints.iter().map(|(_, c)| c.records).collect()
}

/// Checks that the log whose `heads` a check found extends every checkpoint (each labelled by
/// where it came from): signed by `key`, no more records than the log holds, and the same hash
/// at its position. `None` when no checkpoint was given.
pub fn check(
    checkpoints: &[(String, Checkpoint)],
    key: &PublicKey,
    heads: &Heads,
) -> Result<Option<Matched>, Discrepancy> {
    for (source, checkpoint) in checkpoints {
        if !checkpoint.genuine(key) {
            return Err(Discrepancy::CheckpointNotGenuine {
                source: source.clone(),
                time: checkpoint.time,
            });
        }
    }
    let mut newest: Option<&Checkpoint> = None;
    for (_, checkpoint) in checkpoints {
        if checkpoint.records > heads.records {
            return Err(Discrepancy::TailCut {
                time: checkpoint.time,
                records: checkpoint.records,
                have: heads.records,
            });
        }
        if heads.at.get(&checkpoint.records) != Some(&checkpoint.head) {
            return Err(Discrepancy::HistoryRewritten {
                time: checkpoint.time,
                records: checkpoint.records,
            });
        }
        if newest.is_none_or(|n| checkpoint.records > n.records) {
            newest = Some(checkpoint);
        }
    }
    Ok(newest.map(|n| Matched {
        count: checkpoints.len(),
        newest: n.time,
        vouched: n.records,
        beyond: heads.records - n.records,
    }))
}

#[cfg(test)]
mod tests {
    use secrecy::SecretBox;

    use super::*;

    fn signer() -> Ed25519Signer {
        Ed25519Signer::from_seed(&SecretBox::new(Box::new(vec![7u8; 32]))).expect("key")
    }

    async fn signed(records: u64, head: &str) -> Checkpoint {
        let head = Head {
            records,
            head: head.to_owned(),
        };
        Checkpoint::sign(&head, Timestamp::from_unix(1_900_000_000), &signer())
            .await
            .expect("sign")
    }

    #[tokio::test]
    async fn a_checkpoint_reads_back_and_verifies_only_with_its_key() {
        let checkpoint = signed(3, &"ab".repeat(32)).await;
        let pem = signer().public_key().to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
        let key = PublicKey::from_pem(&pem).expect("pem");
        assert_eq!(
            Checkpoint::from_json(&checkpoint.to_json()),
            Some(checkpoint.clone())
        );
        assert!(checkpoint.genuine(&key));
        let other = Ed25519Signer::from_seed(&SecretBox::new(Box::new(vec![8u8; 32])))
            .expect("key")
            .public_key()
            .clone();
        assert!(!checkpoint.genuine(&other), "another key");
        let mut forged = checkpoint;
        forged.records = 4;
        assert!(!forged.genuine(&key), "a changed count");
    }

    #[tokio::test]
    async fn checkpoints_are_found_in_files_log_lines_and_seals() {
        let checkpoint = signed(1, &"cd".repeat(32)).await;
        let bare = checkpoint.to_json().to_string();
        let seal = json!({ "version": 2, "checkpoint": checkpoint.to_json() }).to_string();
        let log = json!({ "level": "INFO", "fields": { "checkpoint": bare } }).to_string();
        for text in [bare.clone(), seal, format!("not json\n{log}\n")] {
            assert_eq!(
                parse_checkpoints(&text),
                Ok(vec![checkpoint.clone()]),
                "{text}"
            );
        }
        assert!(parse_checkpoints("{}").is_err());
    }
}
