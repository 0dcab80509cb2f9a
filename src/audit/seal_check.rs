//! The check of the AWS backend's sealed periods: each seal against the one before it, its
//! locked copies in Object Lock storage and its signed checkpoint, and the audit table's
//! records against the locked copies. It names the first discrepancy.

use std::collections::BTreeSet;

use super::checkpoint::{Checkpoint, Heads, PublicKey};
use super::discrepancy::Discrepancy;
use super::seal_format::{digest, Seal};
use super::verified::Verified;
use crate::domain::{AuditEvent, Timestamp};
use crate::keys::AuditKey;

/// One sealed period as found by a check: the locked seal, copy and checkpoint, and what the
/// table holds.
#[derive(Clone, Debug)]
pub struct SealedPeriod {
    /// The seal in Object Lock storage.
    pub locked: Seal,
    /// The records of its locked copy; `None` if the copy is unreadable.
    pub locked_records: Option<Vec<AuditEvent>>,
    /// Its locked checkpoint, if one was written (a deployment without a signing key writes
    /// none).
    pub checkpoint: Option<Checkpoint>,
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
    /// Records newer than the last seal in periods that should have been sealed by now.
    pub overdue: Option<Overdue>,
}

/// Records that should have been sealed by now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overdue {
    /// How many.
    pub count: usize,
    /// The oldest one's time.
    pub oldest: Timestamp,
    /// When its period should have been sealed at the latest.
    pub due: Timestamp,
}

/// What a check of the seals compares against.
pub struct Against<'a> {
    /// The audit key.
    pub key: &'a AuditKey,
    /// The checkpoint key's public half, to check each seal's checkpoint; `None`: they are not
    /// checked.
    pub public_key: Option<&'a PublicKey>,
    /// The seal before the first checked, when the check starts mid-log (trusted).
    pub anchor: Option<&'a Seal>,
    /// Positions whose hash the caller wants (for checkpoints given).
    pub wanted: &'a BTreeSet<u64>,
}

fn altered(seal: &Seal, what: &'static str) -> Discrepancy {
    Discrepancy::SealAltered {
        from: seal.start,
        to: seal.end,
        what,
    }
}

/// Checks sealed `periods` (in order) against each other, their locked copies and checkpoints
/// and the table, and names the first discrepancy; returns the log's hashes at the seals.
pub fn verify_seals(
    against: &Against<'_>,
    periods: &[SealedPeriod],
    outside: &Outside,
) -> Result<(Verified, Heads), Discrepancy> {
    if let Some(first) = outside.before_first.first() {
        return Err(Discrepancy::RecordOutsideSeals {
            id: first.id.to_string(),
        });
    }
    let mut previous = against.anchor;
    let mut heads = Heads::default();
    for period in periods {
        check_period(against, previous, period)?;
        let head = period.locked.head();
        heads.extend(head.records, &head.head, against.wanted);
        previous = Some(&period.locked);
    }
    if let Some(seal) = outside.unlocked_seals.first() {
        return Err(altered(
            seal,
            "is in the audit table but has no locked copy",
        ));
    }
    if let Some(overdue) = &outside.overdue {
        return Err(Discrepancy::SealingBehind {
            count: overdue.count,
            oldest: overdue.oldest,
            due: overdue.due,
        });
    }
    let records: u64 = periods.iter().map(|p| p.locked.records).sum();
    let verified = Verified {
        records: records as usize,
        seals: periods.len(),
        span: periods.first().zip(periods.last()).and_then(|(a, b)| {
            let first = a.locked_records.as_ref()?.first()?.at;
            let last = b.locked_records.as_ref()?.last()?.at;
            Some((first, last))
        }),
        unsealed: outside.unsealed,
        ..Verified::default()
    };
    Ok((verified, heads))
}

/// Checks one sealed period after the seal `previous`.
fn check_period(
    against: &Against<'_>,
    previous: Option<&Seal>,
    period: &SealedPeriod,
) -> Result<(), Discrepancy> {
    let seal = &period.locked;
    if !seal.authentic(against.key) {
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
    check_stored(seal, period.stored.as_ref())?;
    let after = previous.map(|p| p.digest.as_str());
    let locked = match &period.locked_records {
        Some(records)
            if records.len() as u64 == seal.records && digest(after, records) == seal.digest =>
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
    check_checkpoint(against, period)?;
    compare_records(seal, locked, &period.stored_records)
}

/// The table's copy of `seal`: there, and the same.
fn check_stored(seal: &Seal, stored: Option<&Seal>) -> Result<(), Discrepancy> {
    match stored {
        None => Err(Discrepancy::SealMissing {
            from: seal.start,
            to: seal.end,
        }),
        Some(stored) if stored != seal => Err(altered(
            seal,
            "in the audit table differs from its locked copy",
        )),
        Some(_) => Ok(()),
    }
}

/// The seal's checkpoint, when there is one and a public key to check it: signed by the key,
/// and vouching for this seal's head.
fn check_checkpoint(against: &Against<'_>, period: &SealedPeriod) -> Result<(), Discrepancy> {
    let (Some(key), Some(checkpoint)) = (against.public_key, &period.checkpoint) else {
        return Ok(());
    };
    let head = period.locked.head();
    let own = checkpoint.records == head.records && checkpoint.head == head.head;
    if !own || !checkpoint.genuine(key) {
        return Err(altered(
            &period.locked,
            "carries a checkpoint that is not its own or not signed by the given public key",
        ));
    }
    Ok(())
}

/// The record with its id taken away, to recognise two records whose contents were exchanged.
fn contents(e: &AuditEvent) -> AuditEvent {
    let mut e = e.clone();
    e.id = crate::domain::EventId::from_stored(String::new());
    e
}

/// What happened to the table's record `stored[j]`, which differs from its locked copy
/// `locked[i]`: its contents were exchanged with another record's, or it was altered.
fn changed(
    seal: &Seal,
    (locked, stored): (&[AuditEvent], &[AuditEvent]),
    (i, l): (usize, &AuditEvent),
    (j, s): (usize, &AuditEvent),
) -> Discrepancy {
    let seq = |i: usize| (seal.records_before + i as u64 + 1) as i64;
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
        return Discrepancy::RecordsSwapped {
            seq: seq(j.min(k)),
            ids: (a.id.to_string(), b.id.to_string()),
        };
    }
    Discrepancy::RecordAltered {
        seq: seq(i),
        id: l.id.to_string(),
    }
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
                    return Err(changed(seal, (locked, stored), (i, l), (j, s)));
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
