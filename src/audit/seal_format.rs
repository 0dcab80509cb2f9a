//! The format of a seal. Sealed periods are the AWS backend's tamper evidence: Lambdas write
//! audit records concurrently, so records are not chained one by one; instead closed periods of
//! time are sealed in order.
//!
//! **Seal** (version 2) of the period `[start, end)` holding `records` records, after
//! `records_before` records sealed earlier: `digest` is the unkeyed hash chain
//! ([`super::chain::hash_link`]) run over the log's records in id order, from the first record
//! of the first seal to the last record of this one: the previous seal's `digest` extended by
//! this period's records. `mac` is the hex HMAC-SHA256 under the audit key of the bytes
//! `otpbot-seal-v2\n` followed by `start`, `end` (Unix seconds), `records`, `records_before`
//! (decimal), `digest` and `previous` (the previous seal's `mac`, absent for the first seal),
//! each in the field encoding of the canonical record. Every seal thus names the one before it,
//! and only a holder of the audit key can make one; and `(records_before + records, digest)` is
//! the log's head at the seal, which the seal's signed checkpoint (see [`super::checkpoint`])
//! vouches for to anyone holding the public key.
//!
//! A seal's period starts where the previous one ended (the first at the start of the period
//! holding the oldest record) and ends at the end of the fixed-length period holding its first
//! record, so stretches without records need no seal and every seal holds at least one record.
//!
//! The sealed copy of a period is its records as JSON Lines ([`super::jsonl::jsonl`]), the
//! format of `otpbot audit --format jsonl`; the seal itself is one JSON object
//! ([`Seal::to_json`]), and its checkpoint another.

use hmac::Mac;
use serde_json::{json, Value};

use super::chain::hash_link;
use super::checkpoint::Head;
use super::record::{canonical, encode_fields};
use crate::domain::{AuditEvent, Timestamp};
use crate::keys::AuditKey;

const DOMAIN: &[u8] = b"otpbot-seal-v2\n";
const VERSION: u64 = 2;

/// One sealed period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    /// First second of the period.
    pub start: Timestamp,
    /// First second after the period.
    pub end: Timestamp,
    /// Records in the period.
    pub records: u64,
    /// Records sealed before this period.
    pub records_before: u64,
    /// The unkeyed hash chain over the log's records up to the last of this period.
    pub digest: String,
    /// The previous seal's `mac`; `None` for the first seal.
    pub previous: Option<String>,
    /// Hex HMAC-SHA256 of the fields above under the audit key.
    pub mac: String,
}

/// The unkeyed hash chain `previous` (the hash of the record before, `None` at the log's
/// first record) extended by `events`, in order.
pub fn digest(previous: Option<&str>, events: &[AuditEvent]) -> String {
    let mut head = previous.map(str::to_owned);
    for event in events {
        head = Some(hash_link(head.as_deref(), &canonical(event)));
    }
    head.unwrap_or_default()
}

/// The start of the `period`-second period holding `at` (periods are aligned to the epoch).
pub fn period_start(at: Timestamp, period: i64) -> Timestamp {
    Timestamp::from_unix(at.unix().div_euclid(period.max(1)) * period.max(1))
}

impl Seal {
    /// The seal of `events` (the whole period, in id order) after `previous`.
    pub fn new(
        key: &AuditKey,
        start: Timestamp,
        end: Timestamp,
        events: &[AuditEvent],
        previous: Option<&Seal>,
    ) -> Self {
        let mut seal = Self {
            start,
            end,
            records: events.len() as u64,
            records_before: previous.map_or(0, |p| p.records_before + p.records),
            digest: digest(previous.map(|p| p.digest.as_str()), events),
            previous: previous.map(|p| p.mac.clone()),
            mac: String::new(),
        };
        seal.mac = hex::encode(seal.hmac(key).finalize().into_bytes());
        seal
    }

    fn hmac(&self, key: &AuditKey) -> crate::keys::HmacSha256 {
        let mut bytes = DOMAIN.to_vec();
        encode_fields(
            &mut bytes,
            [
                Some(self.start.unix().to_string()),
                Some(self.end.unix().to_string()),
                Some(self.records.to_string()),
                Some(self.records_before.to_string()),
                Some(self.digest.clone()),
                self.previous.clone(),
            ],
        );
        let mut mac = key.hmac();
        mac.update(&bytes);
        mac
    }

    /// The log's head at this seal: what its checkpoint vouches for.
    pub fn head(&self) -> Head {
        Head {
            records: self.records_before + self.records,
            head: self.digest.clone(),
        }
    }

    /// Whether `mac` is the audit key's MAC of the other fields (compared in constant time).
    pub fn authentic(&self, key: &AuditKey) -> bool {
        hex::decode(&self.mac).is_ok_and(|m| self.hmac(key).verify_slice(&m).is_ok())
    }

    /// The seal as a JSON object (the locked copy's content).
    pub fn to_json(&self) -> Value {
        json!({
            "version": VERSION,
            "period_start": self.start.to_string(),
            "period_end": self.end.to_string(),
            "records": self.records,
            "records_before": self.records_before,
            "digest": self.digest,
            "previous": self.previous,
            "mac": self.mac,
        })
    }

    /// Reads back [`Seal::to_json`]. Seals of version 1 (a digest per period, before
    /// checkpoints) are not read: the error says so.
    pub fn from_json(v: &Value) -> Result<Self, &'static str> {
        match v.get("version").and_then(Value::as_u64) {
            Some(VERSION) => Self::fields(v).ok_or("a field is missing or malformed"),
            Some(1) => Err(
                "it is a version 1 seal, written before signed checkpoints; this otpbot reads \
                 version 2 seals only",
            ),
            _ => Err("it is not an otpbot seal"),
        }
    }

    fn fields(v: &Value) -> Option<Self> {
        let time = |k: &str| v.get(k)?.as_str().and_then(Timestamp::parse);
        let text = |k: &str| v.get(k)?.as_str().map(str::to_owned);
        Some(Self {
            start: time("period_start")?,
            end: time("period_end")?,
            records: v.get("records")?.as_u64()?,
            records_before: v.get("records_before")?.as_u64()?,
            digest: text("digest")?,
            previous: match v.get("previous")? {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                _ => return None,
            },
            mac: text("mac")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretBox;

    use super::*;

    fn key() -> AuditKey {
        AuditKey::new(SecretBox::new(Box::new((0u8..32).collect())))
    }

    #[test]
    fn seals_link_and_authenticate() {
        let key = key();
        let first = Seal::new(
            &key,
            Timestamp::from_unix(0),
            Timestamp::from_unix(300),
            &[],
            None,
        );
        let second = Seal::new(
            &key,
            Timestamp::from_unix(300),
            Timestamp::from_unix(600),
            &[],
            Some(&first),
        );
        assert!(first.authentic(&key) && second.authentic(&key));
        assert_eq!(second.previous.as_deref(), Some(first.mac.as_str()));
        assert_eq!(Seal::from_json(&second.to_json()), Ok(second.clone()));
        let mut forged = second;
        forged.records = 1;
        assert!(!forged.authentic(&key), "a changed count breaks the MAC");
    }

    #[test]
    fn periods_are_aligned_to_the_epoch() {
        assert_eq!(period_start(Timestamp::from_unix(599), 300).unix(), 300);
        assert_eq!(period_start(Timestamp::from_unix(600), 300).unix(), 600);
    }
}
