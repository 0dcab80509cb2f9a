//! The check of the local store's chains (see [`super::chain`]): recomputes each record's keyed
//! chain value and, from the chain start on, its unkeyed hash, in order, and names the first
//! discrepancy in an auditor's words. It also collects the hashes at the positions checkpoints name, for
//! [`super::checkpoint::check`].

use std::collections::BTreeSet;

use super::chain::{hash_link, link};
use super::checkpoint::Heads;
use super::discrepancy::Discrepancy;
use super::record::canonical;
use super::verified::Verified;
use crate::domain::AuditEvent;
use crate::keys::AuditKey;

/// One stored record with its position in the log and its stored chain value.
#[derive(Clone, Debug)]
pub struct Linked {
    /// Position in the log: 1, 2, 3, … in the order the records were committed.
    pub seq: i64,
    /// The record as stored.
    pub event: AuditEvent,
    /// Its stored chain value, if any.
    pub chain: Option<String>,
    /// Its stored unkeyed hash, if any.
    pub hash: Option<String>,
}

fn stored(row: &Linked) -> Option<&str> {
    row.chain.as_deref()
}

/// The record just before the first one checked, when a check starts mid-log (`--since`):
/// trusted as the starting point.
#[derive(Clone, Debug, Default)]
pub struct Anchor {
    /// Its position.
    pub seq: i64,
    /// Its stored chain value.
    pub chain: Option<String>,
    /// Its stored hash.
    pub hash: Option<String>,
}

/// What a check of the local chains needs besides the rows.
pub struct Walk<'a> {
    /// The audit key.
    pub key: &'a AuditKey,
    /// Where the check starts, when mid-log.
    pub anchor: Option<Anchor>,
    /// The highest position the store ever handed out, which reveals records removed from the
    /// end while the store's counter still remembers them.
    pub last_seq: i64,
    /// The position of the chain-start record.
    pub start_seq: i64,
    /// Positions in the chain (the chain start is 1) whose hash the caller wants.
    pub wanted: BTreeSet<u64>,
}

/// Checks `rows` (ordered by position) as `walk` says: every record from the first chained one
/// links to the one before it under the audit key, and from the chain start on also carries
/// its unkeyed hash. Records written before the chain existed lead the log without a chain
/// value and are counted, not checked.
pub fn verify_chain(walk: Walk<'_>, rows: &[Linked]) -> Result<(Verified, Heads), Discrepancy> {
    let (unchained, anchor) = leading(&walk, rows);
    let checked = &rows[unchained..];
    let (mut prev_seq, mut prev, mut prev_hash) = (anchor.seq, anchor.chain, anchor.hash);
    let mut heads = Heads::default();
    for (i, row) in checked.iter().enumerate() {
        if row.seq != prev_seq + 1 {
            return Err(Discrepancy::RecordMissing {
                first: prev_seq + 1,
                last: row.seq - 1,
            });
        }
        let record = canonical(&row.event);
        let expected = link(walk.key, prev.as_deref(), &record);
        match stored(row) {
            None => return Err(unlinked(row)),
            Some(value) if value != expected => {
                return Err(diagnose(walk.key, prev.as_deref(), checked, i))
            }
            Some(_) => {}
        }
        if row.seq >= walk.start_seq {
            let previous = prev_hash.filter(|_| row.seq > walk.start_seq);
            let hash = check_hash(row, &record, previous.as_deref())?;
            heads.extend((row.seq - walk.start_seq + 1) as u64, &hash, &walk.wanted);
            prev_hash = Some(hash);
        }
        prev_seq = row.seq;
        prev = Some(expected);
    }
    if walk.last_seq > prev_seq {
        return Err(Discrepancy::RecordMissing {
            first: prev_seq + 1,
            last: walk.last_seq,
        });
    }
    let verified = Verified {
        records: checked.len(),
        span: checked
            .first()
            .zip(checked.last())
            .map(|(a, b)| (a.event.at, b.event.at)),
        unchained,
        ..Verified::default()
    };
    Ok((verified, heads))
}

/// How many leading rows were written before the chain existed (no chain value, before the
/// chain start), and the point the check starts from after them.
fn leading(walk: &Walk<'_>, rows: &[Linked]) -> (usize, Anchor) {
    let prechain = walk.anchor.as_ref().is_none_or(|a| a.chain.is_none());
    let unchained = if prechain {
        rows.iter()
            .take_while(|r| r.chain.is_none() && r.seq < walk.start_seq)
            .count()
    } else {
        0
    };
    let anchor = match walk.anchor.clone() {
        Some(anchor) => anchor,
        None if unchained > 0 => Anchor {
            seq: rows[unchained - 1].seq,
            ..Anchor::default()
        },
        None => Anchor::default(),
    };
    (unchained, anchor)
}

fn unlinked(row: &Linked) -> Discrepancy {
    Discrepancy::Unlinked {
        seq: row.seq,
        id: row.event.id.to_string(),
    }
}

/// The unkeyed hash of `row` (canonical encoding `record`) after `previous`, if it is the one
/// stored with it.
fn check_hash(row: &Linked, record: &[u8], previous: Option<&str>) -> Result<String, Discrepancy> {
    let hash = hash_link(previous, record);
    match row.hash.as_deref() {
        None => Err(unlinked(row)),
        Some(value) if value != hash => Err(Discrepancy::HashBroken {
            seq: row.seq,
            id: row.event.id.to_string(),
        }),
        Some(_) => Ok(hash),
    }
}

/// Names what is wrong with `checked[i]`, whose chain value is not the one computed after
/// `prev`: it was altered, inserted, swapped with its neighbour, or its chain value changed.
fn diagnose(key: &AuditKey, prev: Option<&str>, checked: &[Linked], i: usize) -> Discrepancy {
    let computed = |prev: Option<&str>, row: &Linked| link(key, prev, &canonical(&row.event));
    let row = &checked[i];
    let id = row.event.id.to_string();
    let next = checked.get(i + 1);
    let next_links_after =
        |after: Option<&str>| next.is_some_and(|n| stored(n) == Some(computed(after, n).as_str()));
    let links_to_prev = |n: &&Linked| stored(n) == Some(computed(prev, n).as_str());
    if let Some(next) = next.filter(links_to_prev) {
        if stored(row) == Some(computed(stored(next), row).as_str()) {
            return Discrepancy::RecordsSwapped {
                seq: row.seq,
                ids: (id, next.event.id.to_string()),
            };
        }
        return Discrepancy::RecordInserted { seq: row.seq, id };
    }
    if next.is_none() || next_links_after(stored(row)) {
        return Discrepancy::RecordAltered { seq: row.seq, id };
    }
    Discrepancy::ChainBroken { seq: row.seq, id }
}
