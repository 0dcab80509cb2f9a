//! Sealed periods, the AWS backend's tamper evidence. Lambdas write audit records concurrently,
//! so records are not chained one by one; instead closed periods of time are sealed in order.
//!
//! **Seal** (version 1) of the period `[start, end)` holding `records` records, after
//! `records_before` records sealed earlier: `digest` is the hex SHA-256 of the records'
//! canonical encodings ([`super::chain::canonical`]) concatenated in id order (each encoding is
//! self-delimiting, so the concatenation is too); `mac` is the hex HMAC-SHA256 under the audit
//! key of the bytes `otpbot-seal-v1\n` followed by `start`, `end` (Unix seconds), `records`,
//! `records_before` (decimal), `digest` and `previous` (the previous seal's `mac`, absent for
//! the first seal), each in the field encoding of the canonical record. Every seal thus names
//! the one before it, and only a holder of the audit key can make one.
//!
//! A seal's period starts where the previous one ended (the first at the start of the period
//! holding the oldest record) and ends at the end of the fixed-length period holding its first
//! record, so stretches without records need no seal and every seal holds at least one record.
//!
//! The sealed copy of a period is its records as JSON Lines ([`jsonl`]), the format of
//! `otpbot audit --format jsonl`; the seal itself is one JSON object ([`Seal::to_json`]).

use hmac::Mac;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::chain::{canonical, encode_fields, from_json_object, json_line};
use super::verify::{Discrepancy, Verified};
use crate::domain::{AuditEvent, Timestamp};
use crate::keys::AuditKey;

const DOMAIN: &[u8] = b"otpbot-seal-v1\n";

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
    /// Hex SHA-256 over the records' canonical encodings, in order.
    pub digest: String,
    /// The previous seal's `mac`; `None` for the first seal.
    pub previous: Option<String>,
    /// Hex HMAC-SHA256 of the fields above under the audit key.
    pub mac: String,
}

/// Hex SHA-256 over the canonical encodings of `events`, in order.
pub fn digest(events: &[AuditEvent]) -> String {
    let mut hash = Sha256::new();
    for event in events {
        hash.update(canonical(event));
    }
    hex::encode(hash.finalize())
}

/// The records as JSON Lines, one per line, each line ending in `\n`.
pub fn jsonl(events: &[AuditEvent]) -> String {
    events.iter().map(|e| json_line(e, None) + "\n").collect()
}

/// Reads back [`jsonl`]; `None` if a line is not a record otpbot could have written.
pub fn parse_jsonl(text: &str) -> Option<Vec<AuditEvent>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .ok()
                .and_then(|v| from_json_object(&v))
        })
        .collect()
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
            digest: digest(events),
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

    /// Whether `mac` is the audit key's MAC of the other fields (compared in constant time).
    pub fn authentic(&self, key: &AuditKey) -> bool {
        hex::decode(&self.mac).is_ok_and(|m| self.hmac(key).verify_slice(&m).is_ok())
    }

    /// The seal as a JSON object (the locked copy's content).
    pub fn to_json(&self) -> Value {
        json!({
            "version": 1,
            "period_start": self.start.to_string(),
            "period_end": self.end.to_string(),
            "records": self.records,
            "records_before": self.records_before,
            "digest": self.digest,
            "previous": self.previous,
            "mac": self.mac,
        })
    }

    /// Reads back [`Seal::to_json`].
    pub fn from_json(v: &Value) -> Option<Self> {
        let time = |k: &str| v.get(k)?.as_str().and_then(Timestamp::parse);
        let text = |k: &str| v.get(k)?.as_str().map(str::to_owned);
        if v.get("version")?.as_u64()? != 1 {
            return None;
        }
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

/// One sealed period as found by a check: the locked seal and copy, and what the table holds.
#[derive(Clone, Debug)]
pub struct SealedPeriod {
    /// The seal in Object Lock storage.
    pub locked: Seal,
    /// The records of its locked copy; `None` if the copy is unreadable.
    pub locked_records: Option<Vec<AuditEvent>>,
    /// The seal as recorded in the audit table, if it is there.
    pub stored: Option<Seal>,
    /// The table's records in the period, in id order.
    pub stored_records: Vec<AuditEvent>,
}

/// What the table holds besides the sealed periods.
#[derive(Clone, Debug, Default)]
pub struct Outside {
    /// Seals in the table without a locked copy.
    pub unlocked_seals: Vec<Seal>,
    /// Records older than the first sealed period (none, unless inserted).
    pub before_first: Vec<AuditEvent>,
    /// Records newer than the last seal.
    pub unsealed: usize,
}

fn altered(seal: &Seal, what: &'static str) -> Discrepancy {
    Discrepancy::SealAltered {
        from: seal.start,
        to: seal.end,
        what,
    }
}

/// Checks sealed `periods` (in order; `anchor` is the seal before the first when the check
/// starts mid-log) against each other, their locked copies and the table, and names the first
/// discrepancy.
pub fn verify_seals(
    key: &AuditKey,
    anchor: Option<&Seal>,
    periods: &[SealedPeriod],
    outside: &Outside,
) -> Result<Verified, Discrepancy> {
    if let Some(first) = outside.before_first.first() {
        return Err(Discrepancy::RecordOutsideSeals {
            id: first.id.to_string(),
        });
    }
    let mut previous = anchor;
    for period in periods {
        let seal = &period.locked;
        if !seal.authentic(key) {
            return Err(altered(seal, "does not carry the audit key's MAC"));
        }
        let linked = seal.previous.as_deref() == previous.map(|p| p.mac.as_str())
            && seal.records_before == previous.map_or(0, |p| p.records_before + p.records);
        let contiguous = previous.is_none_or(|p| p.end == seal.start);
        if !linked || !contiguous {
            // A seal was taken away before this one: either the first seal of the log or one
            // between the previous seal and this one.
            return Err(Discrepancy::SealMissing {
                from: previous.map_or(seal.start, |p| p.end),
                to: seal.start,
            });
        }
        match &period.stored {
            None => {
                return Err(Discrepancy::SealMissing {
                    from: seal.start,
                    to: seal.end,
                })
            }
            Some(stored) if stored != seal => {
                return Err(altered(
                    seal,
                    "in the audit table differs from its locked copy",
                ))
            }
            Some(_) => {}
        }
        let locked = match &period.locked_records {
            Some(records)
                if records.len() as u64 == seal.records && digest(records) == seal.digest =>
            {
                records
            }
            _ => {
                return Err(altered(
                    seal,
                    "does not match its locked copy of the records",
                ))
            }
        };
        compare_records(seal, locked, &period.stored_records)?;
        previous = Some(seal);
    }
    if let Some(seal) = outside.unlocked_seals.first() {
        return Err(altered(
            seal,
            "is in the audit table but has no locked copy",
        ));
    }
    let records: u64 = periods.iter().map(|p| p.locked.records).sum();
    Ok(Verified {
        records: records as usize,
        seals: periods.len(),
        span: periods.first().zip(periods.last()).and_then(|(a, b)| {
            let first = a.locked_records.as_ref()?.first()?.at;
            let last = b.locked_records.as_ref()?.last()?.at;
            Some((first, last))
        }),
        unchained: 0,
        unsealed: outside.unsealed,
    })
}

/// The record with its id taken away, to recognise two records whose contents were exchanged.
fn contents(e: &AuditEvent) -> AuditEvent {
    let mut e = e.clone();
    e.id = crate::domain::EventId::from_stored(String::new());
    e
}

/// Compares a period's locked records with the table's, both in id order.
fn compare_records(
    seal: &Seal,
    locked: &[AuditEvent],
    stored: &[AuditEvent],
) -> Result<(), Discrepancy> {
    let seq = |i: usize| (seal.records_before + i as u64 + 1) as i64;
    let (mut i, mut j) = (0, 0);
    while i < locked.len() || j < stored.len() {
        match (locked.get(i), stored.get(j)) {
            (Some(l), Some(s)) if l.id == s.id => {
                if l != s {
                    let swapped = stored.iter().enumerate().find(|(k, other)| {
                        *k != j
                            && contents(other) == contents(l)
                            && locked
                                .iter()
                                .find(|x| x.id == other.id)
                                .is_some_and(|x| contents(x) == contents(s))
                    });
                    if let Some((k, other)) = swapped {
                        let (a, b) = if k > j { (s, other) } else { (other, s) };
                        return Err(Discrepancy::RecordsSwapped {
                            seq: seq(j.min(k)),
                            ids: (a.id.to_string(), b.id.to_string()),
                        });
                    }
                    return Err(Discrepancy::RecordAltered {
                        seq: seq(i),
                        id: l.id.to_string(),
                    });
                }
                i += 1;
                j += 1;
            }
            (Some(l), s) if s.is_none_or(|s| l.id < s.id) => {
                return Err(Discrepancy::SealedRecordMissing {
                    seq: seq(i),
                    id: l.id.to_string(),
                })
            }
            (_, Some(s)) => {
                return Err(Discrepancy::RecordInsertedIntoSeal {
                    id: s.id.to_string(),
                    from: seal.start,
                    to: seal.end,
                })
            }
            (_, None) => unreachable!("the loop runs while one side has records"),
        }
    }
    Ok(())
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
        assert_eq!(Seal::from_json(&second.to_json()), Some(second.clone()));
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
